// New Virtual Disk: a fixed or dynamic VHD or VHDX, with Windows' defaults and limits (CreateVirtualDisk V2).
import { FormatError } from '../errors';
import { randomGuid } from '../guid';
import { buildVhdBase } from '../vhd/writer';
import { buildVhdxBase } from '../vhdx/writer';
import { Progress, writeOutput, writeZeros } from './output';
import { checkCreateSpec, CreateSpec } from '../../common/create-spec';
import type { CreateImageResult } from '../../common/protocol';

export type { CreateSpec };

export async function createImage(spec: CreateSpec, opts: { force?: boolean; progress?: Progress } = {}): Promise<CreateImageResult> {
  let s: ReturnType<typeof checkCreateSpec>;
  try { s = checkCreateSpec(spec); } catch (e) { throw new FormatError('unsupported', (e as Error).message); }
  const id = randomGuid();
  let built: { pieces: [number, Buffer][]; size: number; dataOffset: number; dataBytes: number };
  if (s.format === 'vhd') {
    const b = buildVhdBase({ virtualSize: s.size, type: s.type, blockSize: s.blockSize, uniqueId: id });
    built = { ...b, dataOffset: 0 };
  } else {
    built = buildVhdxBase({
      virtualSize: s.size, blockSize: s.blockSize, logicalSectorSize: s.logicalSectorSize, physicalSectorSize: s.physicalSectorSize,
      virtualDiskId: randomGuid(), fileWriteGuid: randomGuid(), dataWriteGuid: id, creator: 'vdisk', fixed: s.type === 'fixed',
    });
  }
  await writeOutput(s.path, !!opts.force, async (out) => {
    await out.fh.truncate(built.size);
    if (built.dataBytes) await writeZeros(out, built.dataOffset, built.dataBytes, opts.progress);
    for (const [off, buf] of built.pieces) await out.write(buf, off);
  });
  return {
    path: s.path, format: s.format, type: s.type, size: s.size, id,
    blockSize: s.format === 'vhd' && s.type === 'fixed' ? null : s.blockSize,
    logicalSectorSize: s.logicalSectorSize, physicalSectorSize: s.physicalSectorSize,
  };
}
