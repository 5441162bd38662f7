// Resizing a fixed or dynamic VHD in place. VHD has no journal: the order of the writes keeps every durable state a
// readable image of the old or the new size (stepDone marks each for the crash tests).
// Fixed, grow:   1. the old footer copied to the new end (the file is longer; its last sector still says the old
//                   size, and readers ignore the bytes between), synced;  2. the old footer's sector zeroed (it
//                   becomes disk data), synced;  3. the new footer over the copy (one sector), synced.
// Fixed, shrink: 1. the new footer written where the disk will end (inside the range being dropped, checked to be
//                   zeros by the caller; the end footer still says the old size), synced;  2. the file truncated
//                   after it, synced. A shrink run again after step 1 recognises its footer there (not data).
// A fixed grow run again after step 1 or 2 first puts the footer back at the old end and cuts the file after it.
// Dynamic:       1. when the BAT has too few entries, a larger copy of it goes where the footer was, with the
//                   footer copied after it (nothing references it yet), synced;  2. the dynamic header (1024 bytes,
//                   one write) names it, synced: more entries than the size needs is valid for every reader;
//                2. on shrink instead, the BAT entries past the new end are cleared (their blocks read as zeros,
//                   which they hold), synced;
//                3. the footer at the end (Windows' and vdisk's copy), synced;  4. the copy at offset 0 (qemu's),
//                   synced. Between 3 and 4 the two copies name different sizes: both are whole images.
// A partial last block's bytes past the old end are zeroed before growing, so the new range reads zeros.
import * as fs from 'fs';
import { FormatError } from '../errors';
import { DYN_COOKIE, VHD_COOKIE, vhdChecksum, parseFooter, vhdVirtualSize } from './inspect';
import { vhdGeometry } from './writer';
import { readAt } from './layer';
import { stepDone } from '../manage/steps';

const SECTOR = 512;
export const VHD_MAX = 2040 * 2 ** 30;

/**
 * The footer for `size`: current size, CHS geometry (and the checksum) changed, everything else kept. The original
 * size too: the specification calls it informational, but libvhdi (and with it vhdimount) reads it as the disk size.
 */
export function resizedFooter(footer: Buffer, size: number): Buffer {
  const f = Buffer.from(footer);
  const g = vhdGeometry(size);
  f.writeBigUInt64BE(BigInt(size), 40);
  f.writeBigUInt64BE(BigInt(size), 48);
  f.writeUInt16BE(g.cylinders, 56);
  f.writeUInt8(g.heads, 58);
  f.writeUInt8(g.sectors, 59);
  f.writeUInt32BE(vhdChecksum(f, 64), 64);
  return f;
}

/** Refuses a size this VHD's readers would see differently (a disk sized by its CHS geometry: Virtual PC, old qemu). */
export function checkVhdSize(footer: Buffer, size: number, file: string): void {
  if (size <= 0 || size % SECTOR) throw new FormatError('unsupported', 'the new size must be a positive multiple of 512 bytes');
  if (size > VHD_MAX) throw new FormatError('unsupported', 'a VHD holds at most 2040 GiB: convert it to VHDX first');
  const seen = vhdVirtualSize(parseFooter(resizedFooter(footer, size)));
  if (seen !== size) {
    throw new FormatError('unsupported', `${file} was made by ${footer.toString('latin1', 28, 32).trim()}, whose disks are sized by their CHS geometry: `
      + `${size} bytes would read as ${seen}. Choose a size that is a whole number of cylinders (e.g. ${seen}), or convert it first`);
  }
}

/**
 * A dynamic VHD whose footer copy at offset 0 differs from a sound footer at the end: what a resize interrupted
 * between its steps 3 and 4 leaves. The end footer is the one Windows reads: the copy is made to match it.
 */
export function isInterruptedVhdResize(problems: { code: string; message: string }[]): boolean {
  return problems.length > 0 && problems.every((x) => x.code === 'bad-header' && /footer copy at offset 0 differs/.test(x.message));
}

export function syncVhdFooterCopy(file: string): void {
  const fd = fs.openSync(file, 'r+');
  try {
    const footer = readAt(fd, fs.fstatSync(fd).size - SECTOR, SECTOR);
    if (footer.toString('latin1', 0, 8) !== VHD_COOKIE || vhdChecksum(footer, 64) !== footer.readUInt32BE(64) || footer.readUInt32BE(60) === 2) return;
    fs.writeSync(fd, footer, 0, SECTOR, 0);
    fs.fsyncSync(fd);
  } finally { fs.closeSync(fd); }
}

export function resizeVhd(file: string, newSize: number): void {
  const fd = fs.openSync(file, 'r+');
  try {
    const size = fs.fstatSync(fd).size;
    const footer = readAt(fd, size - SECTOR, SECTOR);
    if (footer.toString('latin1', 0, 8) !== VHD_COOKIE || vhdChecksum(footer, 64) !== footer.readUInt32BE(64)) throw new FormatError('corrupt', `${file}: the footer at the end is missing or damaged`);
    if (size % SECTOR) throw new FormatError('corrupt', `${file}: the file size is not a multiple of 512 bytes`);
    const type = footer.readUInt32BE(60), oldSize = Number(footer.readBigUInt64BE(48));
    if (type === 4) throw new FormatError('unsupported', `${file} is a differencing disk: Windows expands only fixed and dynamic VHDs ("it will invalidate a differencing chain"); resize the base disk before making children, or convert the chain first`);
    checkVhdSize(footer, newSize, file);
    const next = resizedFooter(footer, newSize);
    if (type === 2) {
      if (oldSize > size - SECTOR) throw new FormatError('corrupt', `${file}: a fixed VHD of ${oldSize} bytes in a file of ${size}`);
      if (oldSize < size - SECTOR) {
        // a grow interrupted after its step 1 or 2: the footer goes back to its place and the file is cut after it
        fs.writeSync(fd, footer, 0, SECTOR, oldSize);
        fs.fsyncSync(fd);
        fs.ftruncateSync(fd, oldSize + SECTOR);
        fs.fsyncSync(fd);
      }
      if (newSize > oldSize) {
        fs.writeSync(fd, footer, 0, SECTOR, newSize);
        fs.fsyncSync(fd);
        stepDone('resize', 1);
        fs.writeSync(fd, Buffer.alloc(SECTOR), 0, SECTOR, oldSize);
        fs.fsyncSync(fd);
        stepDone('resize', 2);
        fs.writeSync(fd, next, 0, SECTOR, newSize);
        fs.fsyncSync(fd);
        stepDone('resize', 3);
      } else {
        fs.writeSync(fd, next, 0, SECTOR, newSize);
        fs.fsyncSync(fd);
        stepDone('resize', 1);
        fs.ftruncateSync(fd, newSize + SECTOR);
        fs.fsyncSync(fd);
        stepDone('resize', 2);
      }
      return;
    }
    if (type !== 3) throw new FormatError('unsupported', `${file}: unknown VHD type ${type}`);
    const hOff = Number(footer.readBigUInt64BE(16));
    const h = readAt(fd, hOff, 1024);
    if (h.toString('latin1', 0, 8) !== DYN_COOKIE || vhdChecksum(h, 36) !== h.readUInt32BE(36)) throw new FormatError('corrupt', `${file}: the dynamic header is damaged`);
    const batOff = Number(h.readBigUInt64BE(16)), max = h.readUInt32BE(28), bs = h.readUInt32BE(32);
    const bmBytes = Math.ceil(bs / SECTOR / 8 / SECTOR) * SECTOR;
    const bat = readAt(fd, batOff, max * 4);
    const oldBlocks = Math.ceil(oldSize / bs), newBlocks = Math.ceil(newSize / bs);
    if (newSize > oldSize) {
      const tail = oldSize % bs, last = oldBlocks ? bat.readUInt32BE((oldBlocks - 1) * 4) : 0xffffffff;
      if (tail && last !== 0xffffffff) fs.writeSync(fd, Buffer.alloc(bs - tail), 0, bs - tail, last * SECTOR + bmBytes + tail);
      let stale = false;
      for (let i = oldBlocks; i < Math.min(newBlocks, max); i++) if (bat.readUInt32BE(i * 4) !== 0xffffffff) stale = true;
      if (newBlocks > max || stale) {
        // a new, larger BAT (every entry past the old disk unallocated) where the footer is, the footer after it
        const bytes = Math.ceil((Math.max(newBlocks, max) * 4) / SECTOR) * SECTOR;
        const nb = Buffer.alloc(bytes, 0xff);
        bat.copy(nb, 0, 0, oldBlocks * 4);
        const at = size - SECTOR;
        fs.writeSync(fd, nb, 0, bytes, at);
        fs.writeSync(fd, footer, 0, SECTOR, at + bytes);
        fs.fsyncSync(fd);
        stepDone('resize', 1);
        h.writeBigUInt64BE(BigInt(at), 16);
        h.writeUInt32BE(bytes / 4 >= newBlocks ? Math.max(newBlocks, max) : newBlocks, 28);
        h.writeUInt32BE(vhdChecksum(h, 36), 36);
        fs.writeSync(fd, h, 0, 1024, hOff);
        fs.fsyncSync(fd);
        stepDone('resize', 2);
      } else fs.fsyncSync(fd);
    } else {
      for (let i = newBlocks; i < Math.min(oldBlocks, max); i++) bat.writeUInt32BE(0xffffffff, i * 4);
      fs.writeSync(fd, bat, 0, bat.length, batOff);
      fs.fsyncSync(fd);
      stepDone('resize', 2);
    }
    const end = fs.fstatSync(fd).size - SECTOR;
    fs.writeSync(fd, next, 0, SECTOR, end);
    fs.fsyncSync(fd);
    stepDone('resize', 3);
    fs.writeSync(fd, next, 0, SECTOR, 0);
    fs.fsyncSync(fd);
    stepDone('resize', 4);
  } finally {
    fs.closeSync(fd);
  }
}
