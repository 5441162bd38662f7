// Loop devices through the kernel's ioctls (<linux/loop.h>), the way losetup does it, minus the process spawn.
import * as fs from 'fs';
import type * as KoffiNS from 'koffi';
import { loadLibc, Libc } from './libc';
import { errnoError, WorkerError } from '../errors';
import { ErrorCode } from '../../common/protocol';

const LOOP_CLR_FD = 0x4c01;
const LOOP_GET_STATUS64 = 0x4c05;
const LOOP_CONFIGURE = 0x4c0a;
const LOOP_CTL_GET_FREE = 0x4c82;
const BLKRASET = 0x1262;
const BLKGETSIZE64 = 0x80081272;
export const LO_FLAGS_READ_ONLY = 1;
export const LO_FLAGS_AUTOCLEAR = 4;
export const LO_FLAGS_PARTSCAN = 8;
export const LO_FLAGS_DIRECT_IO = 16;

interface LoopTypes { info: KoffiNS.TypeObject; config: KoffiNS.TypeObject; configPtr: KoffiNS.TypeObject; infoOut: unknown }
let types: LoopTypes | undefined;

function loopTypes(libc: Libc): LoopTypes {
  if (types) return types;
  const k = libc.koffi;
  const info = k.struct('vdisk_loop_info64', {
    lo_device: 'uint64_t', lo_inode: 'uint64_t', lo_rdevice: 'uint64_t', lo_offset: 'uint64_t', lo_sizelimit: 'uint64_t',
    lo_number: 'uint32_t', lo_encrypt_type: 'uint32_t', lo_encrypt_key_size: 'uint32_t', lo_flags: 'uint32_t',
    lo_file_name: k.array('uint8_t', 64), lo_crypt_name: k.array('uint8_t', 64),
    lo_encrypt_key: k.array('uint8_t', 32), lo_init: k.array('uint64_t', 2),
  });
  const config = k.struct('vdisk_loop_config', { fd: 'uint32_t', block_size: 'uint32_t', info, reserved: k.array('uint64_t', 8) });
  const at = (t: KoffiNS.TypeObject, m: string) => k.offsetof(t, m);
  if (k.sizeof(info) !== 232 || k.sizeof(config) !== 304 || at(config, 'info') !== 8 || at(info, 'lo_offset') !== 24
    || at(info, 'lo_sizelimit') !== 32 || at(info, 'lo_flags') !== 52 || at(info, 'lo_file_name') !== 56) {
    throw new Error('loop_info64/loop_config layout mismatch'); // encodeConfig writes these offsets
  }
  // built once: making a koffi type per call costs more than the ioctl itself
  types = { info, config, configPtr: k.pointer(config), infoOut: k.out(k.pointer(info)) };
  return types;
}

function emptyInfo() {
  return {
    lo_device: 0n, lo_inode: 0n, lo_rdevice: 0n, lo_offset: 0n, lo_sizelimit: 0n, lo_number: 0, lo_encrypt_type: 0,
    lo_encrypt_key_size: 0, lo_flags: 0, lo_file_name: new Array(64).fill(0), lo_crypt_name: new Array(64).fill(0),
    lo_encrypt_key: new Array(32).fill(0), lo_init: [0n, 0n],
  };
}

/**
 * struct loop_config (304 bytes: fd, block_size, loop_info64 at 8, 8 reserved u64) encoded by hand into a Buffer
 * koffi passes by reference: marshalling the same object through koffi's struct type cost ~40 us per call, this ~1 us.
 * Offsets from <linux/loop.h>; loopTypes() checks the sizes against koffi's layout of the same declaration.
 */
function encodeConfig(backingFd: number, blockSize: number, offset: number, sizeLimit: number, flags: number, file: string): Buffer {
  const b = Buffer.alloc(304);
  b.writeUInt32LE(backingFd, 0);
  b.writeUInt32LE(blockSize, 4);
  b.writeBigUInt64LE(BigInt(offset), 8 + 24); // lo_offset
  b.writeBigUInt64LE(BigInt(sizeLimit), 8 + 32); // lo_sizelimit
  b.writeUInt32LE(flags, 8 + 52); // lo_flags
  const name = Buffer.from(file);
  name.subarray(Math.max(0, name.length - 63)).copy(b, 8 + 56); // lo_file_name: the kernel keeps 63 bytes; keep the tail (the file name)
  return b;
}

function openOrThrow(p: string, flags: number, what: string): number {
  try { return fs.openSync(p, flags); } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw errnoError(-(err.errno ?? -5), `${what} ${p}`, { path: p });
  }
}

export interface LoopAttachOptions {
  readOnly: boolean;
  /** Detach when the last opener (our held fd) closes. */
  autoclear: boolean;
  partscan?: boolean;
  offset?: number;
  sizeLimit?: number;
  /** The logical block size of the device (512 when absent); the offset must be a multiple of it. */
  blockSize?: number;
  /**
   * Direct I/O from the loop device to its file: no second copy in the file's page cache, and a cold sequential read
   * runs at the disk's speed instead of a quarter of it (bench/linux). The kernel falls back to buffered I/O by
   * itself when the file system or the offset's alignment does not allow it.
   */
  directIo?: boolean;
  /** An fd already open on `file` (a layer opened through layers.ts' checks); the caller keeps and closes it. */
  fd?: number;
}

export interface LoopAttachment {
  device: string;
  /** An open fd on the loop device. With autoclear, closing the last one detaches the device. */
  fd: number;
}

/** Binds `file` to a free loop device. The caller owns the returned fd. */
export function loopAttach(file: string, o: LoopAttachOptions): LoopAttachment {
  const libc = loadLibc();
  loopTypes(libc);
  const backing = o.fd ?? openOrThrow(file, o.readOnly ? fs.constants.O_RDONLY : fs.constants.O_RDWR, 'open image');
  try {
    const flags = (o.readOnly ? LO_FLAGS_READ_ONLY : 0) | (o.autoclear ? LO_FLAGS_AUTOCLEAR : 0) | (o.partscan ? LO_FLAGS_PARTSCAN : 0)
      | (o.directIo ? LO_FLAGS_DIRECT_IO : 0);
    const cfg = encodeConfig(backing, o.blockSize ?? 0, o.offset ?? 0, o.sizeLimit ?? 0, flags, file);
    for (let attempt = 0; attempt < 16; attempt++) {
      const n = getFreeLoop(libc);
      const device = `/dev/loop${n}`;
      const fd = openOrThrow(device, o.readOnly ? fs.constants.O_RDONLY : fs.constants.O_RDWR, 'open');
      const rc = libc.ioctl(fd, LOOP_CONFIGURE, 'void *', cfg);
      if (rc === 0) return { device, fd };
      const errno = libc.errno();
      fs.closeSync(fd);
      if (errno === 16) continue; // EBUSY: another process took this device between GET_FREE and CONFIGURE
      throw errnoError(errno, `LOOP_CONFIGURE ${device} on ${file}`, { path: file });
    }
    throw new WorkerError(ErrorCode.Busy, 'No free loop device after 16 attempts (others are racing for them)');
  } finally {
    if (o.fd === undefined) fs.closeSync(backing); // the kernel holds its own reference to the file
  }
}

/**
 * /dev/loop-control, opened once and kept (close-on-exec, like every fd Node opens): it holds no device and no file,
 * and saves an open and a close per attach.
 */
let control: number | undefined;

function getFreeLoop(libc: Libc): number {
  control ??= openOrThrow('/dev/loop-control', fs.constants.O_RDWR, 'open');
  const n = libc.ioctl0(control, LOOP_CTL_GET_FREE);
  if (n < 0) throw errnoError(libc.errno(), 'LOOP_CTL_GET_FREE');
  return n;
}

/** The size of a block device in bytes, from an fd we hold (BLKGETSIZE64: one ioctl instead of a sysfs open/read/close). */
export function blockSize64(fd: number): number | undefined {
  const out = Buffer.alloc(8);
  return loadLibc().ioctl(fd, BLKGETSIZE64, 'void *', out) === 0 ? Number(out.readBigUInt64LE(0)) : undefined;
}

/**
 * Asks the kernel to detach `device`. If someone else still has it open (a mount, another process),
 * the kernel only marks it autoclear and it goes away at their last close (check sysfs afterwards).
 */
export function loopDetach(device: string): void {
  const libc = loadLibc();
  const fd = openOrThrow(device, fs.constants.O_RDONLY, 'open');
  try {
    if (libc.ioctl(fd, LOOP_CLR_FD, 'int', 0) !== 0) {
      const errno = libc.errno();
      if (errno === 6) throw new WorkerError(ErrorCode.NotAttached, `${device} is not attached to any image`, { errno });
      throw errnoError(errno, `LOOP_CLR_FD ${device}`);
    }
  } finally { fs.closeSync(fd); }
}

/** Sets a block device's readahead on an fd we hold (one ioctl; sysfs read_ahead_kb costs an open, a write and a close). */
export function setReadahead(fd: number, kib: number): boolean {
  return loadLibc().ioctl(fd, BLKRASET, 'unsigned long', kib * 2) === 0;
}

export interface LoopStatus { inode: bigint; device: bigint; offset: bigint; sizeLimit: bigint; flags: number }

/** LOOP_GET_STATUS64 on an open loop fd, or null when the device is unbound. */
export function loopStatus(device: string): LoopStatus | null {
  const libc = loadLibc();
  const t = loopTypes(libc);
  let fd: number;
  try { fd = fs.openSync(device, fs.constants.O_RDONLY); } catch { return null; }
  try {
    const out = [emptyInfo()];
    if (libc.ioctl(fd, LOOP_GET_STATUS64, t.infoOut, out) !== 0) return null;
    const i = out[0];
    return { inode: BigInt(i.lo_inode), device: BigInt(i.lo_device), offset: BigInt(i.lo_offset), sizeLimit: BigInt(i.lo_sizelimit), flags: i.lo_flags };
  } finally { fs.closeSync(fd); }
}
