// VMDK: hosted sparse extent header ("KDMV", little-endian) with its embedded descriptor, or a
// stand-alone text descriptor ("# Disk DescriptorFile") that names the extent files.
import { RangeReader, u64le } from './reader';
import { problem } from './problems';
import { ParsedImage, baseParsed } from './types';

export const VMDK_MAGIC = 'KDMV';
export const DESCRIPTOR_MARK = '# Disk DescriptorFile';
/** A descriptor is a few hundred bytes; anything larger than this is not one. */
export const MAX_DESCRIPTOR_BYTES = 64 * 1024;

export interface VmdkDescriptor { fields: Record<string, string>; extents: { access: string; sectors: number; type: string; file: string | null }[] }

export function parseDescriptor(text: string): VmdkDescriptor {
  const fields: Record<string, string> = {};
  const extents: VmdkDescriptor['extents'] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/\0.*$/, '').trim();
    if (!line || line.startsWith('#')) continue;
    const ext = /^(RW|RDONLY|NOACCESS)\s+(\d+)\s+(\w+)(?:\s+"([^"]*)")?/.exec(line);
    if (ext) {
      extents.push({ access: ext[1], sectors: Number(ext[2]), type: ext[3], file: ext[4] ?? null });
      continue;
    }
    const kv = /^([\w.]+)\s*=\s*"?([^"]*)"?$/.exec(line);
    if (kv) fields[kv[1]] = kv[2];
  }
  return { fields, extents };
}

function applyDescriptor(p: ParsedImage, d: VmdkDescriptor, sparseHeader: boolean): void {
  const type = d.fields.createType ?? null;
  p.details.createType = type;
  p.details.cid = d.fields.CID ?? null;
  p.details.extents = d.extents;
  p.id = d.fields.CID ? d.fields.CID.toLowerCase() : null;
  const parentCid = d.fields.parentCID;
  const hint = d.fields.parentFileNameHint;
  if (hint || (parentCid && parentCid.toLowerCase() !== 'ffffffff')) {
    p.subtype = 'differencing';
    p.details.parentCid = parentCid ?? null;
    p.details.parentFileNameHint = hint ?? null;
  } else if (type && /flat|preallocated|^vmfs$|fullDevice|partitionedDevice/i.test(type)) {
    p.subtype = 'fixed';
  } else if (type || sparseHeader) {
    p.subtype = 'dynamic';
  }
  const total = d.extents.reduce((s, e) => s + e.sectors, 0);
  if (!sparseHeader || p.virtualSize === 0) p.virtualSize = Number.isSafeInteger(total * 512) ? total * 512 : 0;
}

export async function inspectVmdk(r: RangeReader): Promise<ParsedImage> {
  const p = baseParsed('vmdk', 0);
  const head = await r.read(0, 512);
  if (head.toString('latin1', 0, 4) !== VMDK_MAGIC) {
    const text = (await r.read(0, Math.min(r.size, MAX_DESCRIPTOR_BYTES))).toString('utf8');
    applyDescriptor(p, parseDescriptor(text), false);
    p.details.descriptorFile = true;
    return p;
  }
  if (head.length < 80) {
    p.problems.push(problem('truncated', 'sparse extent header'));
    return p;
  }
  p.subtype = 'dynamic';
  p.details.version = head.readUInt32LE(4);
  const capacity = u64le(head, 12);
  const grain = u64le(head, 20);
  const descOff = u64le(head, 28);
  const descSize = u64le(head, 36);
  if (capacity === null || !Number.isSafeInteger(capacity * 512)) p.problems.push(problem('bad-header', 'capacity'));
  else p.virtualSize = capacity * 512;
  if (grain !== null && grain > 0 && grain <= 2048) p.blockSize = grain * 512;
  else p.problems.push(problem('bad-header', `grain size ${grain}`));
  p.details.uncleanShutdown = head[72] !== 0;
  p.details.compression = head.readUInt16LE(77);
  if (descOff && descSize) {
    if (descOff * 512 + descSize * 512 > r.size || descSize * 512 > MAX_DESCRIPTOR_BYTES) {
      p.problems.push(problem('bad-header', 'embedded descriptor outside the file'));
    } else {
      applyDescriptor(p, parseDescriptor((await r.read(descOff * 512, descSize * 512)).toString('utf8')), true);
    }
  }
  return p;
}
