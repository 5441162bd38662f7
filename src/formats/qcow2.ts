// qcow2 header (big-endian): size, cluster size, backing file name.
import { RangeReader, u64be } from './reader';
import { problem } from './problems';
import { ParsedImage, baseParsed } from './types';

export const QCOW_MAGIC = 0x514649fb; // "QFI\xfb"

export async function inspectQcow2(r: RangeReader): Promise<ParsedImage> {
  const b = await r.readExact(0, 104);
  const p = baseParsed('qcow2', 0);
  p.subtype = 'dynamic';
  if (!b) {
    p.problems.push(problem('truncated', 'qcow header'));
    return p;
  }
  const version = b.readUInt32BE(4);
  const clusterBits = b.readUInt32BE(20);
  const size = u64be(b, 24);
  p.details.version = version;
  if (version < 1 || version > 3) p.problems.push(problem('bad-header', `qcow version ${version}`));
  if (clusterBits >= 9 && clusterBits <= 21) p.blockSize = 2 ** clusterBits;
  else p.problems.push(problem('bad-header', `cluster bits ${clusterBits}`));
  if (size === null) p.problems.push(problem('bad-header', 'virtual size does not fit 2^53'));
  else p.virtualSize = size;
  p.details.encrypted = b.readUInt32BE(32) !== 0;
  const backingOffset = u64be(b, 8);
  const backingLen = b.readUInt32BE(16);
  if (backingOffset && backingLen) {
    if (backingLen > 1023 || backingOffset + backingLen > r.size) {
      p.problems.push(problem('bad-header', 'backing file name outside the file'));
    } else {
      p.details.backingFile = (await r.readExact(backingOffset, backingLen))!.toString('utf8');
    }
  }
  return p;
}
