// Rewrites a differencing VHD's parent name and locators (W2ru relative, W2ku absolute), and its parent id and
// timestamp when asked. VHD has no journal; the order keeps every durable state whole:
//   1. the footer is copied to where the file will now end (the file still reads as before: same footer, old
//      locators), synced;
//   2. the new locator data goes into the space the old end footer held, which nothing references, synced;
//   3. the dynamic header (1024 bytes, one write) switches to the new name and locators, synced.
// The old locator data is left where it was, unreferenced (a few sectors per reconnect). The only window is a torn
// 1024-byte header write (two sectors); the header checksum then names it (header-checksum) and nothing is lost:
// the old locators are still on disk.
import * as fs from 'fs';
import { FormatError } from '../errors';
import { guidToBytesBE } from '../guid';
import { vhdChecksum, DYN_COOKIE, VHD_COOKIE } from './inspect';
import { writeLocatorEntry } from './writer';
import { stepDone } from '../manage/steps';

export interface VhdParentSpec {
  parentName: string;
  relative: string;
  absolute: string;
  /** Only when the user chose to ignore an identity mismatch. */
  parentId?: string;
  parentTimestamp?: number;
}

const round = (n: number) => Math.ceil(n / 512) * 512;

export function setVhdParent(file: string, s: VhdParentSpec): void {
  const fd = fs.openSync(file, 'r+');
  try {
    const size = fs.fstatSync(fd).size;
    const footer = Buffer.alloc(512);
    fs.readSync(fd, footer, 0, 512, size - 512);
    if (footer.toString('latin1', 0, 8) !== VHD_COOKIE || footer.readUInt32BE(60) !== 4) throw new FormatError('unsupported', `${file} is not a differencing VHD with a sound footer at its end`);
    if (size % 512) throw new FormatError('unsupported', `${file}: the file size is not a multiple of 512 bytes`);
    const hOff = Number(footer.readBigUInt64BE(16));
    const h = Buffer.alloc(1024);
    fs.readSync(fd, h, 0, 1024, hOff);
    if (h.toString('latin1', 0, 8) !== DYN_COOKIE || vhdChecksum(h, 36) !== h.readUInt32BE(36)) throw new FormatError('unsupported', `${file}: the dynamic header is damaged`);
    const rel = Buffer.from(s.relative, 'utf16le'), abs = Buffer.from(s.absolute, 'utf16le');
    const dataAt = size - 512;
    const newEnd = dataAt + round(rel.length) + round(abs.length);
    fs.writeSync(fd, footer, 0, 512, newEnd);
    fs.fsyncSync(fd);
    stepDone('set-parent', 1);
    const data = Buffer.alloc(newEnd - dataAt);
    rel.copy(data, 0);
    abs.copy(data, round(rel.length));
    fs.writeSync(fd, data, 0, data.length, dataAt);
    fs.fsyncSync(fd);
    stepDone('set-parent', 2);
    if (s.parentId) guidToBytesBE(s.parentId).copy(h, 40);
    if (s.parentTimestamp !== undefined) h.writeUInt32BE(s.parentTimestamp >>> 0, 56);
    h.fill(0, 64, 576);
    Buffer.from(s.parentName, 'utf16le').swap16().copy(h, 64, 0, Math.min(512, Buffer.byteLength(s.parentName, 'utf16le')) & ~1);
    for (let i = 0; i < 8; i++) h.fill(0, 576 + i * 24, 600 + i * 24);
    writeLocatorEntry(h, 0, 'W2ru', round(rel.length), rel.length, dataAt);
    writeLocatorEntry(h, 1, 'W2ku', round(abs.length), abs.length, dataAt + round(rel.length));
    h.writeUInt32BE(vhdChecksum(h, 36), 36);
    fs.writeSync(fd, h, 0, 1024, hOff);
    fs.fsyncSync(fd);
    stepDone('set-parent', 3);
  } finally {
    fs.closeSync(fd);
  }
}
