// VMDK: hosted sparse extent header ("KDMV", little-endian) with its embedded descriptor, or a
// stand-alone text descriptor ("# Disk DescriptorFile") that names the extent files.
import { RangeReader, u64le } from '../reader';
import { problem } from '../problems';
import { ParsedImage, baseParsed } from '../types';

export const VMDK_MAGIC = 'KDMV';
export const DESCRIPTOR_MARK = '# Disk DescriptorFile';
/** A descriptor is a few hundred bytes; anything larger than this is not one. */
export const MAX_DESCRIPTOR_BYTES = 64 * 1024;

export interface VmdkDescriptor {
  fields: Record<string, string>;
  /** `offset`: where the extent's data starts in its file, in sectors (FLAT and VMFS extents), else 0. */
  extents: { access: string; sectors: number; type: string; file: string | null; offset: number }[];
  /** Lines VMware and qemu would refuse: extents (unknown type, unquoted or unterminated file name, trailing text)
   * and key = value lines with unbalanced quotes. */
  invalid: string[];
}

/** VMware's create types (qemu opens a subset). */
const CREATE_TYPES = new Set(['monolithicSparse', 'monolithicFlat', 'twoGbMaxExtentSparse', 'twoGbMaxExtentFlat', 'streamOptimized',
  'vmfs', 'vmfsSparse', 'vmfsThin', 'vmfsPreallocated', 'vmfsEagerZeroedThick', 'vmfsRDM', 'vmfsRaw', 'vmfsPassthroughRawDeviceMap',
  'fullDevice', 'partitionedDevice', 'custom', 'seSparse']);
/** ZERO needs no file; FLAT needs the file and its start offset; the others a file and an optional offset. */
const STRICT_EXTENT = /^(RW|RDONLY|NOACCESS)\s+\d+\s+(?:ZERO|FLAT\s+"[^"]*"\s+\d+|(?:SPARSE|VMFS|VMFSSPARSE|VMFSRDM|VMFSRAW|SESPARSE)\s+"[^"]*"(?:\s+\d+)?)\s*$/;

export function parseDescriptor(text: string): VmdkDescriptor {
  const fields: Record<string, string> = {};
  const extents: VmdkDescriptor['extents'] = [];
  const invalid: string[] = [];
  // a descriptor is a C string to VMware and qemu: it ends at the first NUL (embedded ones are NUL-padded)
  for (const raw of text.split('\0')[0].split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    if (/^(RW|RDONLY|NOACCESS)\b/.test(line) && !STRICT_EXTENT.test(line)) invalid.push(line.slice(0, 80));
    const ext = /^(RW|RDONLY|NOACCESS)\s+(\d+)\s+(\w+)(?:\s+"([^"]*)"(?:\s+(\d+))?)?/.exec(line);
    if (ext) {
      extents.push({ access: ext[1], sectors: Number(ext[2]), type: ext[3], file: ext[4] ?? null, offset: Number(ext[5] ?? 0) });
      continue;
    }
    const kv = /^([\w.]+)\s*=\s*(?:"([^"]*)"|([^"]*))$/.exec(line);
    if (kv) fields[kv[1]] = (kv[2] ?? kv[3]).trim();
    else if (/^[\w.]+\s*=/.test(line)) invalid.push(line.slice(0, 80));
  }
  return { fields, extents, invalid };
}

/**
 * The descriptor text with extent file names replaced: `rename(index)` gives the new name of the index-th extent line
 * (as parseDescriptor numbers them), or null to keep it. The text ends at the first NUL, as VMware and qemu read it.
 */
export function renameExtents(text: string, rename: (index: number) => string | null): string {
  let index = 0;
  // blank lines are dropped: qemu's sscanf skips a blank line into the next one and reads an extent line after it
  // twice (a larger disk than the descriptor describes); the rewritten copy means exactly what parseDescriptor read
  return text.split('\0')[0].split(/\r?\n/).filter((l) => l.trim()).map((raw) => {
    if (!/^(RW|RDONLY|NOACCESS)\s+(\d+)\s+(\w+)/.test(raw.trim())) return raw;
    const to = rename(index++);
    return to === null ? raw : raw.replace(/"[^"]*"/, JSON.stringify(to));
  }).join('\n');
}

function applyDescriptor(p: ParsedImage, d: VmdkDescriptor, sparseHeader: boolean): void {
  const type = d.fields.createType ?? null;
  if (type !== null && !CREATE_TYPES.has(type)) p.problems.push(problem('bad-header', `unknown createType ${JSON.stringify(type.slice(0, 40))}`));
  if (d.invalid.length) p.problems.push(problem('bad-header', `invalid descriptor line ${JSON.stringify(d.invalid[0])}`));
  else if (type === null && sparseHeader) p.problems.push(problem('bad-header', 'the embedded descriptor has no createType'));
  // qemu refuses a descriptor without a hexadecimal CID and parentCID (VMware writes both)
  for (const key of ['CID', 'parentCID']) {
    if (!/^[0-9a-f]{1,8}$/i.test(d.fields[key] ?? '')) p.problems.push(problem('bad-header', `the descriptor has no valid ${key}`));
  }
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
    const d = parseDescriptor(text);
    applyDescriptor(p, d, false);
    p.details.descriptorFile = true;
    if (!d.extents.length) p.problems.push(problem('bad-header', 'the descriptor names no extent'));
    else if (!d.fields.createType) p.problems.push(problem('bad-header', 'the descriptor has no createType'));
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
  // capacity 0 makes qemu read the embedded descriptor as a descriptor file: not a sparse extent any more
  if (capacity === null || capacity === 0 || !Number.isSafeInteger(capacity * 512)) p.problems.push(problem('bad-header', `capacity ${capacity}`));
  else p.virtualSize = capacity * 512;
  if (grain !== null && grain > 0 && grain <= 2048 && (grain & (grain - 1)) === 0) p.blockSize = grain * 512;
  else p.problems.push(problem('bad-header', `grain size ${grain}`));
  const version = head.readUInt32LE(4), gtes = head.readUInt32LE(44);
  if (version < 1 || version > 3) p.problems.push(problem('bad-header', `sparse extent version ${version}`));
  if (gtes === 0 || gtes > 512) p.problems.push(problem('bad-header', `${gtes} entries per grain table`));
  // qemu caps the grain directory at 32 Mi entries (a petabyte at the usual 64 KiB grains)
  else if (capacity && p.blockSize && Math.ceil(capacity / (gtes * (p.blockSize / 512))) > 32 * 1024 * 1024) {
    p.problems.push(problem('bad-header', `grain directory of ${Math.ceil(capacity / (gtes * (p.blockSize / 512)))} entries`));
  }
  const overhead = u64le(head, 64);
  if (overhead === null || overhead * 512 > r.size) p.problems.push(problem('truncated', `grains start at sector ${overhead ?? head.readBigUInt64LE(64)}, beyond the end of the file`));
  const atEnd = head.readBigUInt64LE(56) === 0xffffffffffffffffn;
  const footerOk = atEnd && await streamFooterOk(r);
  if (atEnd && !footerOk) p.problems.push(problem('bad-header', 'stream-optimized footer missing or damaged'));
  const tableChecks: [string, Buffer, number][] = [['redundant grain directory', head, 48], ['grain directory', head, 56]];
  // streamOptimized writes GD_AT_END (all ones) and keeps the real offsets in the footer's copy of the header,
  // which is where qemu reads them (the redundant one only when its flag is set)
  const footer = footerOk ? await r.readExact(r.size - 1024, 512) : null;
  if (footer) tableChecks.push(['grain directory (footer)', footer, 56], ...(footer.readUInt32LE(8) & 2 ? [['redundant grain directory (footer)', footer, 48] as [string, Buffer, number]] : []));
  for (const [name, b, at] of tableChecks) {
    // all ones is GD_AT_END for the grain directory; for the redundant one qemu takes it as an offset when its flag is set
    if (b.readBigUInt64LE(at) === 0xffffffffffffffffn && (at === 56 || !(b.readUInt32LE(8) & 2))) continue;
    const sector = u64le(b, at);
    if (sector === null || sector * 512 >= r.size) p.problems.push(problem('truncated', `${name} at sector ${sector ?? b.readBigUInt64LE(at)} beyond the end of the file`));
  }
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

/** A streamOptimized extent ends with a footer marker, a copy of the header and an end-of-stream marker. */
async function streamFooterOk(r: RangeReader): Promise<boolean> {
  if (r.size < 2048) return false;
  const f = await r.readExact(r.size - 1536, 1536);
  return !!f && f.readUInt32LE(8) === 0 && f.readUInt32LE(12) === 3 && f.toString('latin1', 512, 516) === VMDK_MAGIC
    && f.readBigUInt64LE(1024) === 0n && f.readUInt32LE(1032) === 0 && f.readUInt32LE(1036) === 0;
}
