// "Retry as Administrator": the pure half of the elevated worker's handshake, shared by the host (which owns
// the named pipe and the secret) and the elevated worker (which connects and proves it read the secret file).
// No koffi and no vscode here: the extension host and the worker both use it.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';

export const HANDSHAKE_PREFIX = 'vdisk-elevated ';
export const HANDSHAKE_ACK = 'vdisk-elevated-ok\n';

/** A fresh per-session secret (256 bits, hex) and a pipe name nobody can guess. */
export function newElevationSession(dir: string): { pipe: string; secret: string; secretFile: string } {
  const id = crypto.randomBytes(16).toString('hex');
  const secret = crypto.randomBytes(32).toString('hex');
  const secretFile = path.join(dir, `vdisk-elevate-${id}.secret`);
  // wx: never follow or reuse an existing file; 0o600 where the OS honours it (the user's own temp folder on Windows)
  fs.writeFileSync(secretFile, secret, { flag: 'wx', mode: 0o600 });
  // a named pipe on Windows; elsewhere (tests) a Unix socket beside the secret
  const pipe = process.platform === 'win32' ? `\\\\.\\pipe\\vdisk-elevated-${id}` : path.join(dir, `vdisk-elevated-${id}.sock`);
  return { pipe, secret, secretFile };
}

/** Worker side: read the secret and delete the file at once, so it proves one connection only. */
export function takeSecret(secretFile: string): string {
  const secret = fs.readFileSync(secretFile, 'utf8').trim();
  fs.rmSync(secretFile, { force: true });
  if (!/^[0-9a-f]{64}$/.test(secret)) throw new Error(`${secretFile} does not hold a vdisk elevation secret`);
  return secret;
}

export function handshakeLine(secret: string): string {
  return `${HANDSHAKE_PREFIX}${secret}\n`;
}

/** Host side: the first line the connecting worker sent, compared in constant time. */
export function checkHandshake(line: string, secret: string): boolean {
  if (!line.startsWith(HANDSHAKE_PREFIX)) return false;
  const got = Buffer.from(line.slice(HANDSHAKE_PREFIX.length).trim(), 'utf8');
  const want = Buffer.from(secret, 'utf8');
  return got.length === want.length && crypto.timingSafeEqual(got, want);
}

/**
 * One argument quoted for a Windows command line so CommandLineToArgvW / the MSVC runtime give it back unchanged
 * (ShellExecuteExW takes a single lpParameters string). Backslashes only double before a quote or the end.
 */
export function quoteWindowsArg(arg: string): string {
  if (arg !== '' && !/[\s"]/.test(arg)) return arg;
  let out = '"';
  let slashes = 0;
  for (const ch of arg) {
    if (ch === '\\') { slashes++; continue; }
    if (ch === '"') { out += '\\'.repeat(slashes * 2 + 1) + '"'; slashes = 0; continue; }
    out += '\\'.repeat(slashes) + ch;
    slashes = 0;
  }
  return `${out}${'\\'.repeat(slashes * 2)}"`;
}

/** Reads one "\n"-terminated line (at most 200 bytes) and gives any bytes after it back to the socket. */
function readLine(socket: net.Socket, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = Buffer.alloc(0);
    const done = (err: Error | null, line?: string) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      if (err) reject(err); else resolve(line!);
    };
    const onData = (d: Buffer) => {
      got = Buffer.concat([got, d]);
      const nl = got.indexOf(10);
      if (nl < 0) { if (got.length > 200) done(new Error('handshake line too long')); return; }
      socket.pause();
      if (nl + 1 < got.length) socket.unshift(got.subarray(nl + 1));
      done(null, got.subarray(0, nl + 1).toString('utf8'));
    };
    const onClose = () => done(new Error('the other side closed the pipe during the elevation handshake'));
    const timer = setTimeout(() => done(new Error('no elevation handshake within the time limit')), timeoutMs);
    socket.on('data', onData);
    socket.once('close', onClose);
  });
}

/**
 * Elevated worker side (main.ts, when --secret-file is given): connect to the host's pipe, send the secret line,
 * wait for the acknowledgement, then hand the socket to JSON-RPC. The socket comes back paused (bytes after the
 * handshake are kept): create the message reader, start listening, then call socket.resume().
 */
export async function connectElevated(pipe: string, secretFile: string, timeoutMs = 15_000, checkPeer?: (s: net.Socket) => void): Promise<net.Socket> {
  const secret = takeSecret(secretFile);
  const socket = net.connect(pipe);
  await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject); });
  // Linux: the listening end must be the user this worker serves (SO_PEERCRED), checked before the secret is sent
  try { checkPeer?.(socket); } catch (e) { socket.destroy(); throw e; }
  socket.write(handshakeLine(secret));
  const ack = await readLine(socket, timeoutMs);
  if (ack !== HANDSHAKE_ACK) { socket.destroy(); throw new Error('unexpected answer to the elevation handshake'); }
  return socket;
}

/**
 * Host side: wait on the listening pipe server for the elevated worker. A connection that does not present the
 * secret first is dropped and waiting goes on; the right one is acknowledged and returned paused, like
 * connectElevated's: start JSON-RPC on it, then socket.resume().
 */
export function acceptElevatedWorker(server: net.Server, secret: string, timeoutMs = 120_000): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { server.off('connection', onConnection); reject(new Error('the elevated worker did not connect (UAC prompt not answered?)')); }, timeoutMs);
    const onConnection = (socket: net.Socket) => {
      readLine(socket, 10_000).then((line) => {
        if (!checkHandshake(line, secret)) { socket.destroy(); return; }
        clearTimeout(timer);
        server.off('connection', onConnection);
        socket.write(HANDSHAKE_ACK);
        resolve(socket);
      }, () => socket.destroy());
    };
    server.on('connection', onConnection);
  });
}
