// "Retry as Administrator", the elevated worker's half: read (and delete) the secret file, connect to the host's
// pipe and present the secret (protocol: src/common/elevation.ts).
import * as fs from 'fs';
import * as net from 'net';
import { handshakeLine, HANDSHAKE_ACK, readLine } from '../common/elevation';

/** Worker side: read the secret and delete the file at once, so it proves one connection only. */
export function takeSecret(secretFile: string): string {
  const secret = fs.readFileSync(secretFile, 'utf8').trim();
  fs.rmSync(secretFile, { force: true });
  if (!/^[0-9a-f]{64}$/.test(secret)) throw new Error(`${secretFile} does not hold a vdisk elevation secret`);
  return secret;
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
