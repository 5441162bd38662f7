// Writes an empty differencing VHD (type 4): footer copy, dynamic header with W2ru + W2ku locators,
// an all-unallocated BAT, footer. Every block reads through to the parent until written.
import { guidToBytesBE } from '../guid';
import { vhdChecksum, VHD_COOKIE, DYN_COOKIE } from './inspect';

export interface VhdChildSpec {
  virtualSize: number;
  geometry: { cylinders: number; heads: number; sectors: number };
  blockSize: number;
  uniqueId: string;
  parentId: string;
  parentTimestamp: number;
  parentName: string;
  relative: string;
  absolute: string;
  now?: Date;
}

const SECTOR = 512;
const round = (n: number, to: number) => Math.ceil(n / to) * to;

export function vhdTimestamp(d: Date): number {
  return Math.max(0, Math.floor((d.getTime() - Date.UTC(2000, 0, 1)) / 1000)) >>> 0;
}

/** The CHS geometry algorithm of the VHD specification (appendix: CHS calculation). */
export function vhdGeometry(size: number): { cylinders: number; heads: number; sectors: number } {
  let total = Math.floor(size / SECTOR);
  if (total > 65535 * 16 * 255) total = 65535 * 16 * 255;
  let spt: number, heads: number, cth: number;
  if (total >= 65535 * 16 * 63) {
    spt = 255; heads = 16; cth = Math.floor(total / spt);
  } else {
    spt = 17; cth = Math.floor(total / spt);
    heads = Math.max(4, Math.floor((cth + 1023) / 1024));
    if (cth >= heads * 1024 || heads > 16) { spt = 31; heads = 16; cth = Math.floor(total / spt); }
    if (cth >= heads * 1024) { spt = 63; heads = 16; cth = Math.floor(total / spt); }
  }
  return { cylinders: Math.min(65535, Math.floor(cth / heads)), heads, sectors: spt };
}

export interface VhdFooterSpec {
  virtualSize: number;
  geometry: { cylinders: number; heads: number; sectors: number };
  diskType: 2 | 3 | 4;
  uniqueId: string;
  timestamp: number;
  /** The creator application. Base disks say "win " (see buildVhdBase); children keep "vdsk". */
  creator?: string;
}

export function vhdFooter(s: VhdFooterSpec): Buffer {
  const b = Buffer.alloc(SECTOR);
  b.write(VHD_COOKIE, 0, 'latin1');
  b.writeUInt32BE(2, 8); // features: reserved bit always set
  b.writeUInt32BE(0x00010000, 12);
  b.writeBigUInt64BE(s.diskType === 2 ? 0xffffffffffffffffn : 512n, 16);
  b.writeUInt32BE(s.timestamp, 24);
  b.write(s.creator ?? 'vdsk', 28, 'latin1');
  b.writeUInt32BE(s.creator === 'win ' ? 0x000a0000 : 0x00010000, 32); // Windows 10 writes 10.0
  b.write('Wi2k', 36, 'latin1');
  b.writeBigUInt64BE(BigInt(s.virtualSize), 40);
  b.writeBigUInt64BE(BigInt(s.virtualSize), 48);
  b.writeUInt16BE(s.geometry.cylinders, 56);
  b.writeUInt8(s.geometry.heads, 58);
  b.writeUInt8(s.geometry.sectors, 59);
  b.writeUInt32BE(s.diskType, 60);
  guidToBytesBE(s.uniqueId).copy(b, 68);
  b.writeUInt32BE(vhdChecksum(b, 64), 64);
  return b;
}

function footer(s: VhdChildSpec, ts: number): Buffer {
  return vhdFooter({ virtualSize: s.virtualSize, geometry: s.geometry, diskType: 4, uniqueId: s.uniqueId, timestamp: ts });
}

/** The pieces of the child file: [offset, bytes], and its total size. */
export function buildVhdChild(s: VhdChildSpec): { pieces: [number, Buffer][]; size: number } {
  const ts = vhdTimestamp(s.now ?? new Date());
  const entries = Math.ceil(s.virtualSize / s.blockSize);
  const batOffset = 1536;
  const batBytes = round(entries * 4, SECTOR);
  const bat = Buffer.alloc(batBytes, 0xff);
  const locs = [
    { code: 'W2ru', data: Buffer.from(s.relative, 'utf16le') },
    { code: 'W2ku', data: Buffer.from(s.absolute, 'utf16le') },
  ];
  const h = dynamicHeader(batOffset, entries, s.blockSize);
  guidToBytesBE(s.parentId).copy(h, 40);
  h.writeUInt32BE(s.parentTimestamp >>> 0, 56);
  const name = Buffer.from(s.parentName, 'utf16le').swap16();
  name.copy(h, 64, 0, Math.min(name.length, 510));
  const pieces: [number, Buffer][] = [];
  let at = batOffset + batBytes;
  locs.forEach((l, i) => {
    const space = round(Math.max(l.data.length, 1), SECTOR);
    writeLocatorEntry(h, i, l.code, space, l.data.length, at);
    pieces.push([at, l.data]);
    at += space;
  });
  h.writeUInt32BE(vhdChecksum(h, 36), 36);
  const f = footer(s, ts);
  pieces.unshift([0, f], [512, h], [batOffset, bat]);
  pieces.push([at, f]);
  return { pieces, size: at + SECTOR };
}

/** Parent locator entry `i` of a dynamic header (data space in bytes, as Windows and every real tool write it). */
export function writeLocatorEntry(h: Buffer, i: number, code: string, space: number, length: number, offset: number): void {
  const o = 576 + i * 24;
  h.fill(0, o, o + 24);
  h.write(code, o, 'latin1');
  h.writeUInt32BE(space, o + 4);
  h.writeUInt32BE(length, o + 8);
  h.writeBigUInt64BE(BigInt(offset), o + 16);
}

export interface VhdBaseSpec {
  virtualSize: number;
  type: 'fixed' | 'dynamic';
  blockSize: number;
  uniqueId: string;
  now?: Date;
}

/**
 * A fixed (data then footer) or dynamic (footer copy, header, all-unallocated BAT, footer) VHD as Hyper-V makes it:
 * current size = the requested size, CHS by the specification's algorithm, creator "win " because qemu trusts the
 * current size only for the creators it knows (it would otherwise cut the disk to the CHS product).
 * Pieces are [offset, bytes]; a fixed disk's data range is zeros (the caller writes or allocates it).
 */
export function buildVhdBase(s: VhdBaseSpec): { pieces: [number, Buffer][]; size: number; dataBytes: number } {
  const f = vhdFooter({
    virtualSize: s.virtualSize, geometry: vhdGeometry(s.virtualSize), diskType: s.type === 'fixed' ? 2 : 3,
    uniqueId: s.uniqueId, timestamp: vhdTimestamp(s.now ?? new Date()), creator: 'win ',
  });
  if (s.type === 'fixed') return { pieces: [[s.virtualSize, f]], size: s.virtualSize + SECTOR, dataBytes: s.virtualSize };
  const entries = Math.ceil(s.virtualSize / s.blockSize);
  const batOffset = 1536;
  const batBytes = round(entries * 4, SECTOR);
  const h = dynamicHeader(batOffset, entries, s.blockSize);
  h.writeUInt32BE(vhdChecksum(h, 36), 36);
  const end = batOffset + batBytes;
  return { pieces: [[0, f], [512, h], [batOffset, Buffer.alloc(batBytes, 0xff)], [end, f]], size: end + SECTOR, dataBytes: 0 };
}

/** A dynamic disk header (version 1.0, no next table) before its parent fields and checksum are filled in. */
function dynamicHeader(batOffset: number, entries: number, blockSize: number): Buffer {
  const h = Buffer.alloc(1024);
  h.write(DYN_COOKIE, 0, 'latin1');
  h.writeBigUInt64BE(0xffffffffffffffffn, 8);
  h.writeBigUInt64BE(BigInt(batOffset), 16);
  h.writeUInt32BE(0x00010000, 24);
  h.writeUInt32BE(entries, 28);
  h.writeUInt32BE(blockSize, 32);
  return h;
}
