// UDF: the recognition sequence (BEA01 / NSR02|NSR03 / TEA01), the anchor at block 256 in the disc's own
// block size (512-4096), and from the main volume descriptor sequence the labels and partition size.
import { RangeReader } from '../reader';
import { problem } from '../problems';
import { ParsedImage, baseParsed } from '../types';
import { VolumeDescriptor, isoFacts, windowsIsoProblems } from '../iso/inspect';

const BLOCK_SIZES = [512, 1024, 2048, 4096];
/** The main volume descriptor sequence is read up to this many bytes (it is a few blocks in practice). */
const MAX_VDS_BYTES = 64 * 1024;

export function udfTagOk(b: Buffer, off: number, id: number | null, location: number | null): boolean {
  if (off + 16 > b.length) return false;
  let sum = 0;
  for (let i = 0; i < 16; i++) if (i !== 4) sum += b[off + i];
  if ((sum & 0xff) !== b[off + 4]) return false;
  if (id !== null && b.readUInt16LE(off) !== id) return false;
  return location === null || b.readUInt32LE(off + 12) === location;
}

/** OSTA compressed unicode "dstring": last byte = used length, first byte = 8 (Latin-1) or 16 (UTF-16BE). */
export function dstring(field: Buffer): string | null {
  const len = field[field.length - 1];
  if (len < 2 || len > field.length - 1) return null;
  const comp = field[0];
  const body = field.subarray(1, len);
  if (comp === 8) return body.toString('latin1').replace(/\0+$/, '') || null;
  if (comp === 16) return Buffer.from(body.subarray(0, body.length & ~1)).swap16().toString('utf16le').replace(/\0+$/, '') || null;
  return null;
}

interface Anchor { blockSize: number; vdsLocation: number; vdsLength: number }

async function findAnchor(r: RangeReader): Promise<Anchor | null> {
  for (const bs of BLOCK_SIZES) {
    for (const block of [256, Math.floor(r.size / bs) - 1, Math.floor(r.size / bs) - 257]) {
      if (block < 256) continue;
      const b = await r.readExact(block * bs, 32);
      if (b && udfTagOk(b, 0, 2, block)) return { blockSize: bs, vdsLength: b.readUInt32LE(16), vdsLocation: b.readUInt32LE(20) };
    }
  }
  return null;
}

export async function inspectUdf(r: RangeReader, ds: VolumeDescriptor[]): Promise<ParsedImage> {
  const p = baseParsed('udf', r.size);
  const nsr = ds.find((d) => d.id === 'NSR02' || d.id === 'NSR03')?.id ?? null;
  const iso = isoFacts(ds);
  p.details = { nsr, iso9660Bridge: iso.hasPrimary, elTorito: iso.elTorito, joliet: iso.joliet, isoLabel: iso.label,
    dataOffset: 0, dataSize: r.size };
  p.problems.push(...windowsIsoProblems(r.size, true));
  const a = await findAnchor(r);
  if (!a) {
    p.problems.push(problem('bad-header', 'no UDF anchor volume descriptor at block 256 for any block size 512-4096'));
    return p;
  }
  p.blockSize = a.blockSize;
  p.logicalSectorSize = a.blockSize;
  p.physicalSectorSize = a.blockSize;
  p.details.blockSize = a.blockSize;
  p.details.blocks = Math.floor(r.size / a.blockSize);
  const start = a.vdsLocation * a.blockSize;
  const len = Math.min(a.vdsLength, MAX_VDS_BYTES);
  if (start + len > r.size) {
    p.problems.push(problem('truncated', `volume descriptor sequence at block ${a.vdsLocation} beyond the end of the file`));
    return p;
  }
  const vds = await r.read(start, len);
  let label: string | null = null, volumeId: string | null = null, partitionBlocks: number | null = null;
  for (let o = 0, blk = a.vdsLocation; o + 16 <= vds.length; o += a.blockSize, blk++) {
    if (!udfTagOk(vds, o, null, blk)) continue;
    const tag = vds.readUInt16LE(o);
    if (tag === 1 && o + 56 <= vds.length && volumeId === null) volumeId = dstring(vds.subarray(o + 24, o + 56));
    if (tag === 5 && o + 196 <= vds.length && partitionBlocks === null) partitionBlocks = vds.readUInt32LE(o + 192);
    if (tag === 6 && o + 212 <= vds.length && label === null) label = dstring(vds.subarray(o + 84, o + 212));
    if (tag === 8) break;
  }
  p.details.label = label ?? volumeId;
  p.details.volumeId = volumeId;
  p.details.partitionBlocks = partitionBlocks;
  return p;
}
