// What a file system inside a disk marks free, for a file-system-aware compact: one bit per allocation unit (ext4
// block, NTFS cluster), set when the unit is in use, as the file system's own bitmap has it. Units the reader could
// not vouch for (uninitialised groups, sparse bitmap runs) are set: never a guess in favour of releasing.
import type { BlockReader } from '../block';
import { findVolumes } from '../volumes';
import type { Problem } from '../../common/image';

export interface FreeMap {
  fs: 'ext4' | 'ntfs';
  /** Disk byte offset of unit 0, and the partition's size. */
  start: number;
  size: number;
  /** Bytes per unit, and how many units `used` describes (all inside the partition). */
  unit: number;
  units: number;
  /** Bit i (LSB first) set: unit i is in use. */
  used: Buffer;
  freeBytes: number;
  /** The file system's own count of free bytes (ext4: its group descriptors, which count never-initialised groups
   *  as free); what "data" is measured against. `freeBytes` is what may be released, never more. */
  reportedFreeBytes?: number;
}

/** A file system found but not trusted: why (dirty, needs recovery, metadata that does not parse). */
export interface Refusal { fs: 'ext4' | 'ntfs'; start: number; refused: string }

export type Read = (off: number, len: number) => Promise<Buffer>;

export function isUsed(m: FreeMap, u: number): boolean {
  return u >= m.units || (m.used[u >> 3] & (1 << (u & 7))) !== 0;
}

const ONES = Uint8Array.from({ length: 256 }, (_, i) => { let n = 0; for (let x = i; x; x >>= 1) n += x & 1; return n; });

export function countFree(used: Buffer, units: number): number {
  let n = 0;
  const whole = units >> 3;
  for (let i = 0; i < whole; i++) n += 8 - ONES[used[i]];
  for (let u = whole * 8; u < units; u++) if (!(used[u >> 3] & (1 << (u & 7)))) n++;
  return n;
}

/** The free byte ranges of `maps` inside [from, to), in order (maps sorted by start and not overlapping). */
export function freeRangesIn(maps: FreeMap[], from: number, to: number): [number, number][] {
  const out: [number, number][] = [];
  for (const m of maps) {
    const end = m.start + m.units * m.unit;
    if (end <= from || m.start >= to) continue;
    let u = Math.floor((Math.max(from, m.start) - m.start) / m.unit);
    const last = Math.ceil((Math.min(to, end) - m.start) / m.unit);
    while (u < last) {
      if (isUsed(m, u)) { u++; continue; }
      let e = u + 1;
      while (e < last && !isUsed(m, e)) e++;
      const a = Math.max(from, m.start + u * m.unit), b = Math.min(to, m.start + e * m.unit);
      const prev = out[out.length - 1];
      if (prev && prev[0] + prev[1] === a) prev[1] += b - a; else out.push([a, b - a]);
      u = e;
    }
  }
  return out;
}

const ZERO = Buffer.alloc(1 << 20);

export function allZero(b: Buffer): boolean { return zero(b, 0, b.length); }

function zero(b: Buffer, s: number, e: number): boolean {
  for (let at = s; at < e; at += ZERO.length) {
    const n = Math.min(ZERO.length, e - at);
    if (b.compare(ZERO, 0, n, at, at + n) !== 0) return false;
  }
  return true;
}

/**
 * True when every byte of `data` (the disk bytes from `offset`) is free space of a file system or zero, so the
 * block can be released. A block that is all zeros is released by the writers anyway.
 */
export function releasable(maps: FreeMap[], offset: number, data: Buffer): boolean {
  let at = 0;
  for (const [o, n] of freeRangesIn(maps, offset, offset + data.length)) {
    if (!zero(data, at, o - offset)) return false;
    at = o - offset + n;
  }
  return zero(data, at, data.length);
}

/** The partitions of the disk, or why they cannot be trusted for a file-system-aware compact. */
export async function partitionsOf(disk: BlockReader): Promise<{ volumes: [number, number][]; refused?: string }> {
  const problems: Problem[] = [];
  const v = (await findVolumes(disk, problems)).map((x) => [x.offset, x.size] as [number, number]).sort((a, b) => a[0] - b[0]);
  if (problems.length) return { volumes: [], refused: `its partition table is damaged (${problems[0].message})` };
  // an NTFS volume written straight on the disk has a boot sector that ends in 55aa and looks like an empty MBR
  if (!v.length) return { volumes: [[0, disk.size]] };
  for (let i = 1; i < v.length; i++) {
    if (v[i][0] < v[i - 1][0] + v[i - 1][1]) return { volumes: [], refused: `partitions at offsets ${v[i - 1][0]} and ${v[i][0]} overlap` };
  }
  return { volumes: v };
}
