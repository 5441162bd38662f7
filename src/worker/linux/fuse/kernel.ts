// The slice of the FUSE kernel protocol (linux/include/uapi/linux/fuse.h, 7.31 layout) that a read-only server of
// one regular file needs: request header, opcodes, and the few reply structures, little-endian as the kernel writes
// them. Pure: no I/O.

export const IN_HEADER = 40;   // fuse_in_header: len, opcode, unique, nodeid, uid, gid, pid, total_extlen, padding
export const OUT_HEADER = 16;  // fuse_out_header: len, error, unique

export const Op = {
  LOOKUP: 1, FORGET: 2, GETATTR: 3, SETATTR: 4, OPEN: 14, READ: 15, WRITE: 16, STATFS: 17, RELEASE: 18, FSYNC: 20,
  GETXATTR: 22, LISTXATTR: 23, FLUSH: 25, INIT: 26, OPENDIR: 27, READDIR: 28, RELEASEDIR: 29, ACCESS: 34,
  INTERRUPT: 36, BMAP: 37, DESTROY: 38, BATCH_FORGET: 42, LSEEK: 46,
} as const;

/** fuse_init_out flags we ask for. */
export const INIT_ASYNC_READ = 1 << 0;
/**
 * Direct reads (the loop device's, with LO_FLAGS_DIRECT_IO) sent as parallel requests instead of one at a time:
 * without it the kernel waits for each max_pages piece of a bio before sending the next, and a cold read through the
 * export ran at 0.31x the raw file against 0.74x with it (bench/BENCHMARKS.md, issue 15.2).
 */
export const INIT_ASYNC_DIO = 1 << 15;
export const INIT_MAX_PAGES = 1 << 22;
/** Requests the kernel keeps in flight for background (readahead, async direct) reads: 16 left the threads idle. */
export const MAX_BACKGROUND = 64;
/** fuse_open_out open_flags. */
export const FOPEN_KEEP_CACHE = 1 << 1;

export const ENOENT = 2, EIO = 5, EBADF = 9, EACCES = 13, ENOTDIR = 20, EINVAL = 22, EROFS = 30, ENOSYS = 38, ENODATA = 61;

export const ROOT_ID = 1;
const PAGE = 4096;

export interface InHeader { len: number; opcode: number; unique: bigint; nodeid: bigint; uid: number; gid: number; pid: number }

export function inHeader(b: Buffer): InHeader {
  return {
    len: b.readUInt32LE(0), opcode: b.readUInt32LE(4), unique: b.readBigUInt64LE(8), nodeid: b.readBigUInt64LE(16),
    uid: b.readUInt32LE(24), gid: b.readUInt32LE(28), pid: b.readUInt32LE(32),
  };
}

/** Writes the reply header into the first 16 bytes of `b`; `payload` bytes follow it. */
export function outHeader(b: Buffer, unique: bigint, payload: number, errno = 0): number {
  b.writeUInt32LE(OUT_HEADER + payload, 0);
  b.writeInt32LE(-errno, 4);
  b.writeBigUInt64LE(unique, 8);
  return OUT_HEADER + payload;
}

export interface InitIn { major: number; minor: number; maxReadahead: number; flags: number }
export function initIn(body: Buffer): InitIn {
  return { major: body.readUInt32LE(0), minor: body.readUInt32LE(4), maxReadahead: body.readUInt32LE(8), flags: body.readUInt32LE(12) };
}

/** fuse_init_out (64 bytes): asks for `maxRead`-byte reads (max_pages) and parallel (async) reads when the kernel offers them. */
export function initOut(into: Buffer, at: number, k: InitIn, maxRead: number, want = INIT_ASYNC_READ | INIT_ASYNC_DIO | INIT_MAX_PAGES, maxBackground = MAX_BACKGROUND): { bytes: number; minor: number; flags: number } {
  const minor = Math.min(k.minor, 31);
  const flags = k.flags & want;
  into.fill(0, at, at + 64);
  into.writeUInt32LE(7, at);
  into.writeUInt32LE(minor, at + 4);
  into.writeUInt32LE(k.maxReadahead, at + 8);
  into.writeUInt32LE(flags, at + 12);
  into.writeUInt16LE(maxBackground, at + 16);                    // max_background
  into.writeUInt16LE(Math.floor(maxBackground * 3 / 4), at + 18); // congestion_threshold
  into.writeUInt32LE(PAGE, at + 20);        // max_write: nothing is ever written
  into.writeUInt32LE(1, at + 24);           // time_gran
  into.writeUInt16LE(Math.max(1, Math.floor(maxRead / PAGE)), at + 28); // max_pages
  return { bytes: minor < 5 ? 8 : minor < 23 ? 24 : 64, minor, flags };
}

export interface FileAttr { ino: number; size: number; mode: number; uid: number; gid: number; mtimeSec: number }

/** fuse_attr (88 bytes). */
export function attr(into: Buffer, at: number, a: FileAttr): number {
  into.fill(0, at, at + 88);
  into.writeBigUInt64LE(BigInt(a.ino), at);
  into.writeBigUInt64LE(BigInt(a.size), at + 8);
  into.writeBigUInt64LE(BigInt(Math.ceil(a.size / 512)), at + 16);
  for (const o of [24, 32, 40]) into.writeBigUInt64LE(BigInt(a.mtimeSec), at + o);
  into.writeUInt32LE(a.mode, at + 60);
  into.writeUInt32LE(1, at + 64);           // nlink
  into.writeUInt32LE(a.uid, at + 68);
  into.writeUInt32LE(a.gid, at + 72);
  into.writeUInt32LE(PAGE, at + 80);        // blksize
  return 88;
}

/** fuse_attr_out (104 bytes), valid for `validSec`. */
export function attrOut(into: Buffer, at: number, a: FileAttr, validSec: number): number {
  into.fill(0, at, at + 16);
  into.writeBigUInt64LE(BigInt(validSec), at);
  return 16 + attr(into, at + 16, a);
}

/** fuse_open_out (16 bytes). */
export function openOut(into: Buffer, at: number, fh: number, openFlags: number): number {
  into.fill(0, at, at + 16);
  into.writeBigUInt64LE(BigInt(fh), at);
  into.writeUInt32LE(openFlags, at + 8);
  return 16;
}

/** fuse_read_in: fh, offset, size. */
export function readIn(body: Buffer): { offset: number; size: number } {
  return { offset: Number(body.readBigUInt64LE(8)), size: body.readUInt32LE(16) };
}

/** fuse_statfs_out (80 bytes) of a read-only file system holding `size` bytes. */
export function statfsOut(into: Buffer, at: number, size: number): number {
  into.fill(0, at, at + 80);
  into.writeBigUInt64LE(BigInt(Math.ceil(size / PAGE)), at);
  into.writeBigUInt64LE(1n, at + 24);       // files
  into.writeUInt32LE(PAGE, at + 40);        // bsize
  into.writeUInt32LE(255, at + 44);         // namelen
  into.writeUInt32LE(PAGE, at + 48);        // frsize
  return 80;
}
