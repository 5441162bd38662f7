// "Retry as Administrator", the host's half: a per-session secret in a file only the user can read, and waiting on
// the pipe for the elevated worker that proves it read it (protocol: src/common/elevation.ts).
import * as crypto from 'crypto';
import * as fs from 'fs';
import type * as net from 'net';
import * as path from 'path';
import { checkHandshake, HANDSHAKE_ACK, readLine } from '../common/elevation';

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
