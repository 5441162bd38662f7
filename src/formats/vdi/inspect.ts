// VirtualBox VDI header (little-endian): "<<< ... >>>" text, signature 0xbeda107f at 0x40.
import { RangeReader, u64le } from '../reader';
import { guidLE, ZERO_GUID } from '../guid';
import { problem } from '../problems';
import { ParsedImage, baseParsed, cstr } from '../types';

export const VDI_SIGNATURE = 0xbeda107f;
const VDI_BLOCK_SIZE = 1024 * 1024;
/** qemu's limit: the block map is at most 1 GiB of 4-byte entries. */
const MAX_BLOCKS = 0x3fffffff / 4;
/** The identity check reads the whole block map: up to 8 MiB of it (8 TiB of disk). */
const MAX_FLAT_MAP_BYTES = 8 * 1024 * 1024;

export async function inspectVdi(r: RangeReader): Promise<ParsedImage> {
  const p = baseParsed('vdi', 0);
  const b = await r.readExact(0, 0x1c8);
  if (!b) {
    p.problems.push(problem('truncated', 'VDI header'));
    return p;
  }
  const version = b.readUInt32LE(0x44);
  p.creator = cstr(b.subarray(0, 64)).replace(/[\s\n]+$/, '') || null;
  p.details.version = `${version >>> 16}.${version & 0xffff}`;
  // VirtualBox writes 1.1 only; qemu refuses every other version, sector size and block size
  if (version !== 0x00010001) {
    p.problems.push(problem('bad-header', `VDI version ${p.details.version}`));
    return p;
  }
  const bad = (d: string) => p.problems.push(problem('bad-header', d));
  const type = b.readUInt32LE(0x4c);
  p.subtype = type === 2 ? 'fixed' : type === 4 ? 'differencing' : type === 1 || type === 3 ? 'dynamic' : null;
  if (p.subtype === null) bad(`VDI image type ${type}`);
  const sector = b.readUInt32LE(0x168);
  if (sector === 512) p.logicalSectorSize = p.physicalSectorSize = sector;
  else bad(`sector size ${sector}`);
  const size = u64le(b, 0x170);
  if (size === null) bad('virtual size');
  else p.virtualSize = size;
  const block = b.readUInt32LE(0x178);
  if (block === VDI_BLOCK_SIZE) p.blockSize = block;
  else bad(`block size ${block}`);
  const blocks = b.readUInt32LE(0x180);
  const allocated = b.readUInt32LE(0x184);
  const offsetBlocks = b.readUInt32LE(0x154);
  const offsetData = b.readUInt32LE(0x158);
  p.details.blocks = blocks;
  p.details.allocatedBlocks = allocated;
  p.details.offsetBlocks = offsetBlocks;
  p.details.offsetData = offsetData;
  if (offsetBlocks % 512 !== 0) bad(`block map offset ${offsetBlocks} not sector-aligned`);
  if (offsetData % 512 !== 0) bad(`data offset ${offsetData} not sector-aligned`);
  if (blocks > MAX_BLOCKS) bad(`${blocks} blocks`);
  else if (size !== null && size > blocks * VDI_BLOCK_SIZE) bad(`${size} bytes but the block map covers ${blocks} blocks`);
  if (allocated > blocks) bad(`${allocated} of ${blocks} blocks allocated`);
  if (offsetBlocks + blocks * 4 > r.size) p.problems.push(problem('truncated', `block map of ${blocks} entries at ${offsetBlocks} beyond the end of the file`));
  if (p.subtype === 'fixed' && !p.problems.length && allocated === blocks && blocks * 4 <= MAX_FLAT_MAP_BYTES && size !== null
    && offsetData + size <= r.size && size <= blocks * VDI_BLOCK_SIZE) {
    // a static image whose block map is the identity is one byte range of the file (linux/plan.ts attaches it directly)
    const map = await r.readExact(offsetBlocks, blocks * 4);
    let identity = !!map;
    for (let i = 0; identity && i < blocks; i++) identity = map!.readUInt32LE(i * 4) === i;
    if (identity) p.details.flatData = { offset: offsetData, size };
  }
  p.id = guidLE(b, 0x188);
  p.details.modifyUuid = guidLE(b, 0x198);
  const link = guidLE(b, 0x1a8);
  if (p.subtype === 'differencing' && link !== ZERO_GUID) p.details.parentUuid = link;
  else if (p.subtype !== 'differencing' && (link !== ZERO_GUID || guidLE(b, 0x1b8) !== ZERO_GUID)) bad('a parent link in an image that is not differencing');
  return p;
}
