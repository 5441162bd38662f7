// VirtualBox VDI header (little-endian): "<<< ... >>>" text, signature 0xbeda107f at 0x40.
import { RangeReader, u64le } from './reader';
import { guidLE, ZERO_GUID } from './guid';
import { problem } from './problems';
import { ParsedImage, baseParsed, cstr, isPow2 } from './types';

export const VDI_SIGNATURE = 0xbeda107f;

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
  if (version >>> 16 !== 1) {
    p.problems.push(problem('bad-header', `VDI version ${p.details.version}`));
    return p;
  }
  const type = b.readUInt32LE(0x4c);
  p.subtype = type === 2 ? 'fixed' : type === 4 ? 'differencing' : type === 1 || type === 3 ? 'dynamic' : null;
  if (p.subtype === null) p.problems.push(problem('bad-header', `VDI image type ${type}`));
  const sector = b.readUInt32LE(0x168);
  if (sector === 512 || sector === 4096) p.logicalSectorSize = p.physicalSectorSize = sector;
  const size = u64le(b, 0x170);
  if (size === null) p.problems.push(problem('bad-header', 'virtual size'));
  else p.virtualSize = size;
  const block = b.readUInt32LE(0x178);
  if (isPow2(block)) p.blockSize = block;
  else p.problems.push(problem('bad-header', `block size ${block}`));
  p.details.blocks = b.readUInt32LE(0x180);
  p.details.allocatedBlocks = b.readUInt32LE(0x184);
  p.details.offsetBlocks = b.readUInt32LE(0x154);
  p.details.offsetData = b.readUInt32LE(0x158);
  p.id = guidLE(b, 0x188);
  p.details.modifyUuid = guidLE(b, 0x198);
  const link = guidLE(b, 0x1a8);
  if (p.subtype === 'differencing' && link !== ZERO_GUID) p.details.parentUuid = link;
  return p;
}
