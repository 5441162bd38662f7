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

export interface MergeSpec { child: string; into?: string; keepChild?: boolean; force?: boolean; otherImages?: string[] }

const real = (p: string) => { try { return fs.realpathSync(p); } catch { return path.resolve(p); } };
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
        let next: Promise<[number, Buffer][]> | null = src.present(0);
        for (let i = 0; i < blocks; i++) {
          checkCancel(progress);
          const runs = await next!;
          next = i + 1 < blocks ? src.present(i + 1) : null; // read the next block while this one is written
          next?.catch(() => undefined); // a failure surfaces at its await; never unhandled meanwhile
          for (const [off, data] of runs) { await dest.write(off, data); bytes += data.length; }
          progress?.report?.(n * dest.virtualSize + Math.min(dest.virtualSize, (i + 1) * src.blockSize), total);
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

/** Images in `folders` or `others` (Recent Images) whose chain passes through one of `layers`, except `exclude`. */
async function dependents(layers: string[], exclude: Set<string>, folders: string[], others: string[]): Promise<string[]> {
  const want = new Set(layers);
  const candidates = new Set<string>(others.map((o) => path.resolve(o)));
  for (const d of folders) {
    let names: string[] = [];
    try { names = fs.readdirSync(d); } catch { continue; }
    for (const n of names) if (/\.(vhdx?|avhdx)$/i.test(n)) candidates.add(path.join(d, n));
  }
  const out: string[] = [];
  for (const c of candidates) {
    if (!fs.existsSync(c) || exclude.has(real(c)) || want.has(real(c))) continue;
    try {
      const i = await inspectImage(c);
      if (i.chain.slice(1).some((l) => want.has(real(l.path)))) out.push(c);
    } catch { /* not an image we can read: it cannot depend on ours */ }
  }
  return out;
}
