// New Virtual Disk: a fixed or dynamic VHD or VHDX, with Windows' defaults and limits (CreateVirtualDisk V2).
import { FormatError } from '../errors';
import { randomGuid } from '../guid';
import { buildVhdBase } from '../vhd/writer';
import { buildVhdxBase } from '../vhdx/writer';
import * as path from 'path';
import { Progress, writeOutput, writeZeros } from './output';
import { writeVhd, writeVhdx } from './convert';
import { InitialisedDisk, SeekFn } from './initialise';
import { checkInitSpec, InitSpec } from '../../common/init-spec';
import { inspectImage } from '../inspect';
import { checkCreateSpec, CreateSpec } from '../../common/create-spec';
import type { CreateImageResult } from '../../common/protocol';

export type { CreateSpec };

export interface CreateOptions {
  force?: boolean;
  progress?: Progress;
  /** Initialise: a GPT, and one partition with a file system (mkfs must be on PATH: the caller checks). */
  init?: InitSpec;
  /** SEEK_DATA/SEEK_HOLE (the worker's libc), so only what mkfs wrote is read; without it the file is scanned. */
  seek?: SeekFn;
}

export async function createImage(spec: CreateSpec, opts: CreateOptions = {}): Promise<CreateImageResult> {
  let s: ReturnType<typeof checkCreateSpec>;
  let init: InitSpec;
  try {
    s = checkCreateSpec(spec);
    init = checkInitSpec(opts.init ?? {}, s.size, s.logicalSectorSize);
  } catch (e) { throw new FormatError('unsupported', (e as Error).message); }
  if (init.init) return createInitialised(s, init, opts);
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

/** A new disk with a GPT (and a file system): the image is written from an InitialisedDisk by convert's writers. */
async function createInitialised(s: ReturnType<typeof checkCreateSpec>, init: InitSpec, opts: CreateOptions): Promise<CreateImageResult> {
  let disk: InitialisedDisk | null = null;
  try {
    const made = await InitialisedDisk.make(s.size, s.logicalSectorSize, init, path.dirname(path.resolve(s.path)),
      { seek: opts.seek, progress: opts.progress });
    disk = made.disk;
    const d = disk;
    const id = randomGuid();
    await writeOutput(s.path, !!opts.force, async (out) => {
      if (s.format === 'vhd') await writeVhd(d, out, s.type, s.blockSize, opts.progress);
      else await writeVhdx(d, out, s.type, s.blockSize, opts.progress, { dataWriteGuid: id, physicalSectorSize: s.physicalSectorSize });
    });
    const i = await inspectImage(s.path);
    return {
      path: s.path, format: s.format, type: s.type, size: s.size, id: i.id ?? id,
      blockSize: s.format === 'vhd' && s.type === 'fixed' ? null : s.blockSize,
      logicalSectorSize: s.logicalSectorSize, physicalSectorSize: s.physicalSectorSize,
      init: { table: 'gpt', partition: made.partition && init.fileSystem
        ? { ...made.partition, fileSystem: init.fileSystem, label: init.label ?? '', writtenBytes: d.fileSystemBytes } : null },
    };
  } finally {
    await disk?.close();
  }
}
