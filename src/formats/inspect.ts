// inspectImage: one file's metadata plus its whole differencing chain, without attaching anything.
import * as fs from 'fs';
import * as path from 'path';
import type { ImageInfo } from '../common/image';
import { FormatError } from './errors';
import { inspectOne, OneFile } from './inspect-one';
import { LayerOpen, resolveChain, DEFAULT_MAX_DEPTH } from './chain';

export { FormatError };

/**
 * `searchFolders`: more places to look for missing parents, by file name (identity still checked). `stamps`, when
 * given, receives each image file's identity as it was opened (RangeReader.stamp), by path: the worker's cache keeps
 * the answer against those, with no second stat of every layer.
 */
export async function inspectImage(file: string, opts: {
  maxDepth?: number; searchFolders?: string[]; stamps?: Map<string, string>;
  /**
   * Reads one file: the image itself (with the stat above), then each parent or backing layer (checked by layers.ts
   * first, as always); inspectOne when absent.
   */
  openLayer?: LayerOpen;
} = {}): Promise<ImageInfo> {
  const abs = path.resolve(file);
  let st: fs.Stats;
  try {
    st = fs.statSync(abs);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new FormatError('not-found', `${abs}: no such file`);
    throw new FormatError('unreadable', `${abs}: ${(e as Error).message}`);
  }
  if (st.isDirectory()) throw new FormatError('not-an-image', `${abs} is a directory`);
  if (!st.isFile()) throw new FormatError('not-an-image', `${abs} is not a regular file`);
  let one;
  try {
    one = opts.openLayer ? await opts.openLayer(abs, st) : await inspectOne(abs);
    opts.stamps?.set(abs, one.stamp);
  } catch (e) {
    throw new FormatError('unreadable', `${abs}: ${(e as Error).message}`);
  }
  const p = one.parsed;
  const stamps = opts.stamps;
  const one1: LayerOpen = opts.openLayer ?? ((f) => inspectOne(f));
  const open: LayerOpen | undefined = stamps ? async (f, checked) => { const o = await one1(f, checked); stamps.set(f, o.stamp); return o; } : opts.openLayer;
  const c = await resolveChain(abs, p, opts.maxDepth ?? DEFAULT_MAX_DEPTH, open, (opts.searchFolders ?? []).map((f) => path.resolve(f)));
  return {
    path: abs,
    format: p.format,
    subtype: p.subtype,
    virtualSize: p.virtualSize,
    fileSize: one.fileSize,
    blockSize: p.blockSize,
    logicalSectorSize: p.logicalSectorSize,
    physicalSectorSize: p.physicalSectorSize,
    id: p.id,
    virtualDiskId: p.virtualDiskId,
    creator: p.creator,
    parent: c.parent,
    chain: c.chain,
    needsLogReplay: p.needsLogReplay,
    problems: [...p.problems, ...c.problems],
    details: p.details,
  };
}
