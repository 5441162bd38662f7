// Merge (Merge-VHD): the sectors a differencing child holds, sector-bitmap exact, written into its parent (or a
// further ancestor, the layers between merged in order), then the merged files removed. Crash safety: every sector
// written into the ancestor is covered by the layer it comes from, which sits above the ancestor in the old chain, so
// the old chain reads the same at every moment; the ancestor's new blocks only become part of it at commit (VHD: one
// BAT write; VHDX: through the log), after the data is synced; from then on the ancestor alone is the merged disk.
// Only then are the merged files removed. A VHDX ancestor gets a new DataWriteGuid (its data changed).
import * as fs from 'fs';
import * as path from 'path';
import type { MergeResult } from '../../common/protocol';
import { FormatError } from '../errors';
import { inspectImage } from '../inspect';
import { openVhdLayer } from '../vhd/layer';
import { openVhdxLayer } from '../vhdx/layer';
import type { MergeLayer } from './merge-layer';
import { checkCancel, Progress } from './output';
import { stepDone } from './steps';
import { dependents, realPath } from './dependents';

export interface MergeSpec { child: string; into?: string; keepChild?: boolean; force?: boolean; otherImages?: string[] }

const real = realPath;
const openLayer = (file: string, format: string, writable: boolean): Promise<MergeLayer> =>
  format === 'vhd' ? Promise.resolve(openVhdLayer(file, writable)) : openVhdxLayer(file, writable);

export interface MergePlan { child: string; chain: { path: string; format: string }[]; depth: number; target: { path: string; format: string }; merged: string[] }

/** The checks of a merge (differencing, whole chain, the ancestor, no other user of it unless forced), nothing written. */
export async function planMerge(s: MergeSpec): Promise<MergePlan> {
  const child = path.resolve(s.child);
  const info = await inspectImage(child);
  if (info.subtype !== 'differencing') throw new FormatError('unsupported', `${child} is not a differencing disk: there is nothing to merge`);
  if (info.problems.length) throw new FormatError('chain-broken', `${child} cannot be merged: ${info.problems.map((p) => p.message).join('; ')}`);
  const chain = info.chain;
  const k = s.into ? chain.findIndex((l, i) => i > 0 && real(l.path) === real(s.into!)) : 1;
  if (k < 1) throw new FormatError('unsupported', `${s.into} is not an ancestor of ${path.basename(child)} (its chain: ${chain.map((l) => path.basename(l.path)).join(' -> ')})`);
  const target = chain[k];
  const merged = chain.slice(0, k).map((l) => l.path);
  if (!s.force) {
    const users = await dependents(chain.slice(1, k + 1).map((l) => real(l.path)), new Set(merged.map(real)), [...new Set(chain.map((l) => path.dirname(l.path)))], s.otherImages ?? []);
    if (users.length) {
      throw new FormatError('unsupported', `${users.map((u) => path.basename(u)).join(', ')} also ${users.length > 1 ? 'use' : 'uses'} ${path.basename(target.path)}: merging changes it under ${users.length > 1 ? 'them' : 'it'}. `
        + 'Merge anyway only if you no longer need them (force).');
    }
  }
  return { child, chain, depth: k, target, merged };
}

export async function mergeImage(s: MergeSpec, progress?: Progress): Promise<MergeResult> {
  const { chain, target, merged } = await planMerge(s);
  const dest = await openLayer(target.path, target.format, true);
  let bytes = 0;
  try {
    const layers = merged.slice().reverse(); // farthest first: nearer layers override
    const total = layers.length * dest.virtualSize;
    for (const [n, file] of layers.entries()) {
      const f = chain.find((l) => l.path === file)!.format;
      const src = await openLayer(file, f, false);
      try {
        if (src.virtualSize !== dest.virtualSize || src.sectorSize !== dest.sectorSize) {
          throw new FormatError('unsupported', `${path.basename(file)} and ${path.basename(target.path)} differ in size or sector size`);
        }
        const blocks = Math.ceil(src.virtualSize / src.blockSize);
        const report = (i: number) => progress?.report?.(n * dest.virtualSize + Math.min(dest.virtualSize, (i + 1) * src.blockSize), total);
        if (src.extents && src.readFile) bytes += await copyExtents(src, dest, blocks, progress, report);
        else {
          for (let i = 0; i < blocks; i++) {
            checkCancel(progress);
            for (const [off, data] of await src.present(i)) { await dest.write(off, data); bytes += data.length; }
            report(i);
          }
        }
      } finally { await src.close(); }
    }
    await dest.commit((step) => stepDone('merge', step));
  } finally { await dest.close(); }
  const removed: string[] = [];
  if (!s.keepChild) for (const f of merged) { fs.rmSync(f); removed.push(f); }
  stepDone('merge', 10);
  return { target: target.path, merged, removed, bytes };
}

const CHUNK = 2 ** 20;

/**
 * Copies the sectors `src` holds into `dest` in 1 MiB pieces through two buffers in turn: the next piece is read (on
 * the thread pool) while this one is written, and a piece stays in the CPU cache between its read and its write.
 */
async function copyExtents(src: MergeLayer, dest: MergeLayer, blocks: number, progress: Progress | undefined, report: (i: number) => void): Promise<number> {
  const bufs = [Buffer.allocUnsafe(CHUNK), Buffer.allocUnsafe(CHUNK)];
  let zeros: Buffer | null = null;
  let turn = 0, bytes = 0;
  let pending: { off: number; data: Promise<Buffer> } | null = null;
  const flush = async () => {
    if (!pending) return;
    const p = pending;
    pending = null;
    const data = await p.data;
    await dest.write(p.off, data);
    bytes += data.length;
  };
  try {
    for (let i = 0; i < blocks; i++) {
      checkCancel(progress);
      for (const [v, f, len] of await src.extents!(i)) {
        for (let o = 0; o < len; o += CHUNK) {
          const k = Math.min(CHUNK, len - o);
          const data = f < 0 ? Promise.resolve((zeros ??= Buffer.alloc(CHUNK)).subarray(0, k)) : src.readFile!(f + o, bufs[turn ^= 1].subarray(0, k));
          data.catch(() => undefined); // surfaces at its await in flush()
          const prev = pending;
          pending = { off: v + o, data };
          if (prev) { const cur = pending; pending = prev; await flush(); pending = cur; }
        }
      }
      await flush();
      report(i);
    }
  } finally {
    if (pending) await (pending as { data: Promise<Buffer> }).data.catch(() => undefined);
  }
  return bytes;
}
