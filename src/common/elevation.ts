// "Retry as Administrator": the elevated worker's handshake as both sides speak it. The host's half (the secret file,
// the pipe it listens on) is src/host/elevation.ts; the worker's (reading the secret, connecting) is
// src/worker/elevation.ts. Nothing here opens a file or a connection: readLine works on a socket it is given.
import * as crypto from 'crypto';
import type * as net from 'net';

export const HANDSHAKE_PREFIX = 'vdisk-elevated ';
export const HANDSHAKE_ACK = 'vdisk-elevated-ok\n';

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
export function readLine(socket: net.Socket, timeoutMs: number): Promise<string> {
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
