// Writes an empty differencing VHDX: identifier, two headers, two region tables, an empty log,
// metadata (HasParent, sizes, disk id, parent locator) and an all-NOT_PRESENT BAT, sparse on disk.
import { crc32c } from '../crc32c';
import { guidToBytesLE, ZERO_GUID } from '../guid';
import {
  MiB, KiB, REGION_BAT, REGION_METADATA, META_FILE_PARAMETERS, META_VIRTUAL_DISK_SIZE, META_VIRTUAL_DISK_ID,
  META_LOGICAL_SECTOR, META_PHYSICAL_SECTOR, META_PARENT_LOCATOR, PARENT_LOCATOR_TYPE,
} from './inspect';

export interface VhdxChildSpec {
  virtualSize: number;
  blockSize: number;
  logicalSectorSize: number;
  physicalSectorSize: number;
  virtualDiskId: string;
  fileWriteGuid: string;
  dataWriteGuid: string;
  locator: Record<string, string>;
  creator: string;
}

const LOG_OFFSET = 1 * MiB, LOG_LENGTH = 1 * MiB, META_OFFSET = 2 * MiB, META_LENGTH = 1 * MiB, BAT_OFFSET = 3 * MiB;

export function vhdxBatEntries(virtualSize: number, blockSize: number, logical: number): number {
  const chunkRatio = (2 ** 23 * logical) / blockSize;
  const dataBlocks = Math.ceil(virtualSize / blockSize);
  return Math.ceil(dataBlocks / chunkRatio) * (chunkRatio + 1);
}

function header(s: Pick<VhdxChildSpec, 'fileWriteGuid' | 'dataWriteGuid'>, seq: number): Buffer {
  const b = Buffer.alloc(4 * KiB);
  b.write('head', 0, 'latin1');
  b.writeBigUInt64LE(BigInt(seq), 8);
  guidToBytesLE(s.fileWriteGuid).copy(b, 16);
  guidToBytesLE(s.dataWriteGuid).copy(b, 32);
  guidToBytesLE(ZERO_GUID).copy(b, 48);
  b.writeUInt16LE(0, 64);
  b.writeUInt16LE(1, 66);
  b.writeUInt32LE(LOG_LENGTH, 68);
  b.writeBigUInt64LE(BigInt(LOG_OFFSET), 72);
  b.writeUInt32LE(crc32c(b), 4);
  return b;
}

function regionTable(batLength: number): Buffer {
  const b = Buffer.alloc(64 * KiB);
  b.write('regi', 0, 'latin1');
  b.writeUInt32LE(2, 8);
  const entries: [string, number, number][] = [[REGION_BAT, BAT_OFFSET, batLength], [REGION_METADATA, META_OFFSET, META_LENGTH]];
  entries.forEach(([g, off, len], i) => {
    const o = 16 + i * 32;
    guidToBytesLE(g).copy(b, o);
    b.writeBigUInt64LE(BigInt(off), o + 16);
    b.writeUInt32LE(len, o + 24);
    b.writeUInt32LE(1, o + 28);
  });
  b.writeUInt32LE(crc32c(b), 4);
  return b;
}

export function parentLocatorItem(kv: Record<string, string>): Buffer {
  const keys = Object.keys(kv);
  const head = Buffer.alloc(20 + keys.length * 12);
  guidToBytesLE(PARENT_LOCATOR_TYPE).copy(head, 0);
  head.writeUInt16LE(keys.length, 18);
  const strings: Buffer[] = [];
  let at = head.length;
  keys.forEach((k, i) => {
    const kb = Buffer.from(k, 'utf16le'), vb = Buffer.from(kv[k], 'utf16le');
    const o = 20 + i * 12;
    head.writeUInt32LE(at, o);
    head.writeUInt32LE(at + kb.length, o + 4);
    head.writeUInt16LE(kb.length, o + 8);
    head.writeUInt16LE(vb.length, o + 10);
    strings.push(kb, vb);
    at += kb.length + vb.length;
  });
  return Buffer.concat([head, ...strings]);
}

type MetaSpec = Omit<VhdxChildSpec, 'locator'> & { locator?: Record<string, string>; fixed?: boolean };

function metadata(s: MetaSpec): Buffer {
  const fp = Buffer.alloc(8);
  fp.writeUInt32LE(s.blockSize, 0);
  fp.writeUInt32LE(s.locator ? 2 : s.fixed ? 1 : 0, 4); // HasParent, LeaveBlocksAllocated
  const vs = Buffer.alloc(8);
  vs.writeBigUInt64LE(BigInt(s.virtualSize));
  const ls = Buffer.alloc(4);
  ls.writeUInt32LE(s.logicalSectorSize);
  const ps = Buffer.alloc(4);
  ps.writeUInt32LE(s.physicalSectorSize);
  const REQ = 4, VD = 2;
  const items: [string, Buffer, number][] = [
    [META_FILE_PARAMETERS, fp, REQ], [META_VIRTUAL_DISK_SIZE, vs, REQ | VD], [META_VIRTUAL_DISK_ID, guidToBytesLE(s.virtualDiskId), REQ | VD],
    [META_LOGICAL_SECTOR, ls, REQ | VD], [META_PHYSICAL_SECTOR, ps, REQ | VD],
  ];
  if (s.locator) items.push([META_PARENT_LOCATOR, parentLocatorItem(s.locator), REQ]);
  const b = Buffer.alloc(META_LENGTH);
  b.write('metadata', 0, 'latin1');
  b.writeUInt16LE(items.length, 10);
  let at = 64 * KiB;
  items.forEach(([g, data, flags], i) => {
    const o = 32 + i * 32;
    guidToBytesLE(g).copy(b, o);
    b.writeUInt32LE(at, o + 16);
    b.writeUInt32LE(data.length, o + 20);
    b.writeUInt32LE(flags, o + 24);
    data.copy(b, at);
    at += Math.ceil(data.length / 8) * 8;
  });
  if (at > META_LENGTH) throw new Error('parent locator too long for the metadata region');
  return b;
}

export function buildVhdxChild(s: VhdxChildSpec): { pieces: [number, Buffer][]; size: number } {
  const batLength = Math.ceil((vhdxBatEntries(s.virtualSize, s.blockSize, s.logicalSectorSize) * 8) / MiB) * MiB;
  return { pieces: frame(s, batLength, metadata(s)), size: BAT_OFFSET + batLength };
}

function frame(s: MetaSpec, batLength: number, meta: Buffer): [number, Buffer][] {
  const ident = Buffer.alloc(8 + 512);
  ident.write('vhdxfile', 0, 'latin1');
  Buffer.from(s.creator.slice(0, 255), 'utf16le').copy(ident, 8);
  const rt = regionTable(batLength);
  // the log (and a dynamic disk's BAT) are all zeros: left as holes in a sparse file
  return [[0, ident], [64 * KiB, header(s, 1)], [128 * KiB, header(s, 2)], [192 * KiB, rt], [256 * KiB, rt], [META_OFFSET, meta]];
}

export type VhdxBaseSpec = Omit<VhdxChildSpec, 'locator'> & { fixed: boolean };

/** The BAT entry of payload block `i` (its index among BAT entries: a sector bitmap entry follows every chunk). */
export function payloadEntryIndex(i: number, blockSize: number, logical: number): number {
  const chunkRatio = (2 ** 23 * logical) / blockSize;
  return i + Math.floor(i / chunkRatio);
}

/**
 * A dynamic (BAT all NOT_PRESENT) or fixed (every payload block FULLY_PRESENT, laid out in order after the BAT,
 * LeaveBlocksAllocated set) VHDX. `dataOffset`/`dataBytes`: the fixed disk's payload range, zeros for the caller.
 */
export function buildVhdxBase(s: VhdxBaseSpec): { pieces: [number, Buffer][]; size: number; dataOffset: number; dataBytes: number } {
  const batLength = Math.ceil((vhdxBatEntries(s.virtualSize, s.blockSize, s.logicalSectorSize) * 8) / MiB) * MiB;
  const pieces = frame(s, batLength, metadata(s));
  const dataOffset = BAT_OFFSET + batLength;
  if (!s.fixed) return { pieces, size: dataOffset, dataOffset, dataBytes: 0 };
  const blocks = Math.ceil(s.virtualSize / s.blockSize);
  const bat = Buffer.alloc(batLength);
  for (let i = 0; i < blocks; i++) {
    const mib = (dataOffset + i * s.blockSize) / MiB;
    bat.writeBigUInt64LE((BigInt(mib) << 20n) | 6n, payloadEntryIndex(i, s.blockSize, s.logicalSectorSize) * 8);
  }
  pieces.push([BAT_OFFSET, bat]);
  return { pieces, size: dataOffset + blocks * s.blockSize, dataOffset, dataBytes: blocks * s.blockSize };
}
