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

function footer(s: VhdChildSpec, ts: number): Buffer {
  const b = Buffer.alloc(SECTOR);
  b.write(VHD_COOKIE, 0, 'latin1');
  b.writeUInt32BE(2, 8); // features: reserved bit always set
  b.writeUInt32BE(0x00010000, 12);
  b.writeBigUInt64BE(512n, 16);
  b.writeUInt32BE(ts, 24);
  b.write('vdsk', 28, 'latin1');
  b.writeUInt32BE(0x00010000, 32);
  b.write('Wi2k', 36, 'latin1');
  b.writeBigUInt64BE(BigInt(s.virtualSize), 40);
  b.writeBigUInt64BE(BigInt(s.virtualSize), 48);
  b.writeUInt16BE(s.geometry.cylinders, 56);
  b.writeUInt8(s.geometry.heads, 58);
  b.writeUInt8(s.geometry.sectors, 59);
  b.writeUInt32BE(4, 60);
  guidToBytesBE(s.uniqueId).copy(b, 68);
  b.writeUInt32BE(vhdChecksum(b, 64), 64);
  return b;
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
  const h = Buffer.alloc(1024);
  h.write(DYN_COOKIE, 0, 'latin1');
  h.writeBigUInt64BE(0xffffffffffffffffn, 8);
  h.writeBigUInt64BE(BigInt(batOffset), 16);
  h.writeUInt32BE(0x00010000, 24);
  h.writeUInt32BE(entries, 28);
  h.writeUInt32BE(s.blockSize, 32);
  guidToBytesBE(s.parentId).copy(h, 40);
  h.writeUInt32BE(s.parentTimestamp >>> 0, 56);
  const name = Buffer.from(s.parentName, 'utf16le').swap16();
  name.copy(h, 64, 0, Math.min(name.length, 510));
  const pieces: [number, Buffer][] = [];
  let at = batOffset + batBytes;
  locs.forEach((l, i) => {
    const o = 576 + i * 24;
    const space = round(Math.max(l.data.length, 1), SECTOR);
    h.write(l.code, o, 'latin1');
    h.writeUInt32BE(space, o + 4); // in bytes, as Windows and every real tool write it
    h.writeUInt32BE(l.data.length, o + 8);
    h.writeBigUInt64BE(BigInt(at), o + 16);
    pieces.push([at, l.data]);
    at += space;
  });
  h.writeUInt32BE(vhdChecksum(h, 36), 36);
  const f = footer(s, ts);
  pieces.unshift([0, f], [512, h], [batOffset, bat]);
  pieces.push([at, f]);
  return { pieces, size: at + SECTOR };
}
