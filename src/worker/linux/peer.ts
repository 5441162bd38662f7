// Who is at the other end of a Unix socket: SO_PEERCRED through koffi (Node does not expose it). The elevated worker
// serves only the user who started it, so it checks the uid of the process that listens on the host's socket.
import type * as net from 'net';
import { loadLibc } from './libc';

const SOL_SOCKET = 1;
const SO_PEERCRED = 17;

let getsockopt: ((fd: number, level: number, name: number, val: Buffer, len: Buffer) => number) | undefined;

export function peerCredentials(socket: net.Socket): { pid: number; uid: number; gid: number } {
  const { lib, errno, strerror } = loadLibc();
  if (!getsockopt) {
    getsockopt = lib.func('int getsockopt(int fd, int level, int name, _Inout_ uint8_t *val, _Inout_ uint32_t *len)') as unknown as typeof getsockopt;
  }
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new Error('the elevation socket has no file descriptor to ask for peer credentials');
  const val = Buffer.alloc(12);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(12);
  if (getsockopt!(fd, SOL_SOCKET, SO_PEERCRED, val, len) !== 0) throw new Error(`getsockopt(SO_PEERCRED): ${strerror(errno())}`);
  return { pid: val.readInt32LE(0), uid: val.readUInt32LE(4), gid: val.readUInt32LE(8) };
}

/** Throws unless the peer of `socket` runs as `uid`. */
export function requirePeerUid(socket: net.Socket, uid: number): void {
  const peer = peerCredentials(socket);
  if (peer.uid !== uid) {
    throw new Error(`refusing the connection: its other end (pid ${peer.pid}) runs as uid ${peer.uid}, but this elevated worker serves uid ${uid} only`);
  }
}
