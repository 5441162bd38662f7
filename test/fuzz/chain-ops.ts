// Chain fuzzing (issue 13.9): random VHD/VHDX chains (sizes, block sizes, sector sizes, random writes in every layer,
// sometimes a damaged parent identity or locator), then a random convert / merge / set-parent / compact. The oracle:
// an operation that succeeds leaves files qemu-img check and vhdiinfo accept, whose content equals the input chain's
// (openDisk before the operation, itself proven against qemu and libvhdi); one that fails leaves every input
// byte-identical and no temporary file behind.
import * as cp from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { createImage } from '../../src/formats/manage/create';
import { createDifferencingDisk } from '../../src/formats/create-diff';
import { openVhdLayer } from '../../src/formats/vhd/layer';
import { openVhdxLayer } from '../../src/formats/vhdx/layer';
import { openDisk } from '../../src/formats/open-disk';
import { inspectImage } from '../../src/formats/inspect';
import { convertImage } from '../../src/formats/manage/convert';
import { mergeImage } from '../../src/formats/manage/merge';
import { setParent } from '../../src/formats/manage/set-parent';
import { compactImage } from '../../src/formats/manage/compact';
import { writeHeader } from '../../src/formats/vhdx/log';
import { ZERO_GUID, randomGuid } from '../../src/formats/guid';
import { vhdChecksum } from '../../src/formats/vhd/inspect';
import { int, mulberry32, pick, Rng } from './prng';

const KiB = 1024, MiB = 2 ** 20;

export interface ChainCase { seed: number; index: number; format: 'vhd' | 'vhdx'; layers: string[]; size: number; blockSize: number; sector: number; damage: string | null; op: string }
export interface ChainOutcome { c: ChainCase; ok: boolean; error?: string; failure?: string }

function sha(file: string): string { return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex'); }

/** The disk's content through openDisk as a raw file, or null when the chain cannot be read. */
async function rawOf(image: string, out: string): Promise<string | null> {
  let d;
  try { d = await openDisk(image); } catch { return null; }
  try {
    const fd = fs.openSync(out, 'w');
    const b = Buffer.alloc(MiB);
    for (let at = 0; at < d.size; at += MiB) { const n = await d.read(b, at); fs.writeSync(fd, b, 0, n, at); }
    fs.ftruncateSync(fd, d.size);
    fs.closeSync(fd);
    return out;
  } finally { await d.close(); }
}

/** Random writes through our layer writer (runs of sectors, patterned and zero). */
async function scribble(r: Rng, file: string, format: 'vhd' | 'vhdx', size: number, sector: number): Promise<void> {
  const l = format === 'vhd' ? openVhdLayer(file, true) : await openVhdxLayer(file, true);
  try {
    for (let k = 1 + int(r, 6); k > 0; k--) {
      const sectors = size / sector;
      const start = int(r, sectors), n = Math.min(sectors - start, 1 + int(r, r() < 0.3 ? 4096 : 64));
      const buf = r() < 0.15 ? Buffer.alloc(n * sector) : crypto.randomBytes(n * sector);
      await l.write(start * sector, buf);
    }
    await l.commit();
  } finally { await l.close(); }
}

/** Builds the chain of case `index`: base (ours or qemu-img) and 0-2 children, each with random writes. */
export async function buildChain(dir: string, seed: number, index: number): Promise<ChainCase & { rng: Rng }> {
  const r = mulberry32((seed * 7919 + index * 104729) >>> 0);
  const format = pick(r, ['vhd', 'vhdx'] as const);
  const sector = format === 'vhdx' && r() < 0.3 ? 4096 : 512;
  const blockSize = format === 'vhd' ? pick(r, [512 * KiB, MiB, 2 * MiB]) : pick(r, [MiB, 2 * MiB, 4 * MiB]);
  const size = (3 * MiB) + int(r, 20 * MiB / sector) * sector;
  const ext = (i: number) => (format === 'vhd' ? 'vhd' : i ? 'avhdx' : 'vhdx');
  const layers = [path.join(dir, `base.${ext(0)}`)];
  const fixed = format === 'vhd' && r() < 0.25;
  if (r() < 0.3 && sector === 512 && !fixed) {
    cp.execFileSync('qemu-img', ['create', '-q', '-f', format === 'vhd' ? 'vpc' : 'vhdx', '-o', format === 'vhd' ? 'subformat=dynamic,force_size=on' : `block_size=${blockSize}`, layers[0], String(size)]);
  } else {
    await createImage({ path: layers[0], format, type: fixed ? 'fixed' : 'dynamic', size, blockSize, logicalSectorSize: sector });
  }
  await scribble(r, layers[0], format, size, sector);
  for (let i = 1, depth = int(r, 3); i <= depth; i++) {
    layers.push(path.join(dir, `c${i}.${ext(i)}`));
    await createDifferencingDisk(layers[i - 1], layers[i]);
    await scribble(r, layers[i], format, size, sector);
  }
  const realSize = (await inspectImage(layers[0])).virtualSize;
  return { seed, index, format, layers, size: realSize, blockSize, sector, damage: null, op: '', rng: r };
}

/** Damages the chain's identity or locator, sometimes (the case records which). */
export function damage(c: ChainCase, r: Rng): void {
  if (c.layers.length < 2 || r() > 0.25) return;
  const child = c.layers[c.layers.length - 1], parent = c.layers[c.layers.length - 2];
  const kind = pick(r, ['parent-identity', 'parent-moved', 'locator-garbage'] as const);
  if (kind === 'parent-moved') fs.renameSync(parent, `${parent}.moved`);
  else if (kind === 'parent-identity') {
    const fd = fs.openSync(parent, 'r+');
    try {
      if (c.format === 'vhdx') writeHeader(fd, ZERO_GUID, { dataWriteGuid: randomGuid() });
      else {
        const st = fs.fstatSync(fd), f = Buffer.alloc(512);
        fs.readSync(fd, f, 0, 512, st.size - 512);
        f[68] ^= 0xff; f.writeUInt32BE(vhdChecksum(f, 64), 64);
        fs.writeSync(fd, f, 0, 512, st.size - 512);
        if (f.readUInt32BE(60) !== 2) fs.writeSync(fd, f, 0, 512, 0);
      }
    } finally { fs.closeSync(fd); }
  } else {
    // the child's relative locator text: VHD W2ru data / VHDX relative_path value, as stored (UTF-16LE)
    const b = fs.readFileSync(child);
    const needle = Buffer.from(path.basename(parent), 'utf16le');
    const at = b.indexOf(needle);
    if (at < 0) return;
    b.fill(0x41, at, at + 2);
    fs.writeFileSync(child, b);
  }
  c.damage = kind;
}

const qemuDriver = (f: string) => (/\.vhd$/.test(f) ? 'vpc' : /\.vhdx$|\.avhdx$/.test(f) ? 'vhdx' : 'raw');

/** Checks an output image: qemu-img check (VHDX) and vhdiinfo (VHD, VHDX) accept it, and its content is `want`. */
async function checkOutput(out: string, want: string | null, dir: string, differencing: boolean): Promise<string | null> {
  const driver = qemuDriver(out);
  const info = await inspectImage(out);
  // named difference: qemu's vhdx driver refuses 4096-byte logical sectors ("Operation not supported"); libvhdi reads them
  if (driver === 'vhdx' && !differencing && info.logicalSectorSize === 512) {
    const q = cp.spawnSync('qemu-img', ['check', '-f', 'vhdx', out], { encoding: 'utf8' });
    if (q.status !== 0) return `qemu-img check rejects ${path.basename(out)}: ${q.stdout}${q.stderr}`;
  }
  if (driver !== 'raw') {
    const v = cp.spawnSync('vhdiinfo', [out], { encoding: 'utf8' });
    if (v.status !== 0) return `vhdiinfo rejects ${path.basename(out)}: ${v.stderr.trim()}`;
  }
  if (!want) return null;
  const got = await rawOf(out, path.join(dir, 'got.raw'));
  if (!got) return `${path.basename(out)} does not open`;
  if (sha(got) !== sha(want)) return `${path.basename(out)}: content differs from the input chain`;
  // qemu reads base VHD/VHDX with 512-byte sectors: its view must be the same bytes
  if (!differencing && info.logicalSectorSize === 512) {
    const cmp = cp.spawnSync('qemu-img', ['compare', '-q', '-f', 'raw', '-F', driver, want, out], { encoding: 'utf8' });
    if (cmp.status !== 0) return `qemu-img compare: ${path.basename(out)} differs from the input chain (${cmp.stdout}${cmp.stderr})`;
  }
  return null;
}

/** One case: build, maybe damage, run one operation, apply the oracle. */
export async function runChainCase(dir: string, seed: number, index: number): Promise<ChainOutcome> {
  const c = await buildChain(dir, seed, index);
  const r = c.rng;
  const top = c.layers[c.layers.length - 1];
  const original = await rawOf(top, path.join(dir, 'original.raw'));
  if (!original) return { c, ok: false, failure: 'the freshly built chain does not open' };
  damage(c, r);
  const want = await rawOf(top, path.join(dir, 'want.raw'));
  const baseWant = await rawOf(c.layers[0], path.join(dir, 'base-before.raw'));
  const before = new Map(fs.readdirSync(dir).filter((n) => !n.endsWith('.raw')).map((n) => [n, sha(path.join(dir, n))]));
  const ops = ['convert', 'compact', ...(c.layers.length > 1 ? ['merge', 'merge-into-base', 'set-parent'] : [])];
  const op = pick(r, ops);
  let outputs: [string, boolean][] = [];
  let run: () => Promise<unknown>;
  if (op === 'convert') {
    const fmt = pick(r, ['vhd', 'vhdx', 'raw'] as const), type = pick(r, ['dynamic', 'fixed'] as const);
    const dest = path.join(dir, `out.${fmt === 'vhdx' ? 'vhdx' : fmt === 'vhd' ? 'vhd' : 'img'}`);
    c.op = `convert -> ${fmt} ${type}`;
    run = () => convertImage({ source: top, dest, format: fmt, type });
    outputs = [[dest, false]];
  } else if (op === 'compact') {
    c.op = 'compact base';
    run = () => compactImage(c.layers[0]);
    // compacting a parent under children changes no content: the top still reads the same
    outputs = [[c.layers[0], false], ...(c.layers.length > 1 ? [[top, true] as [string, boolean]] : [])];
  } else if (op === 'set-parent') {
    const parent = c.layers[c.layers.length - 2];
    const real = fs.existsSync(parent) ? parent : `${parent}.moved`;
    const ignore = r() < 0.5;
    c.op = `set-parent${ignore ? ' --ignore-id-mismatch' : ''}`;
    run = () => setParent(top, real, { ignoreIdMismatch: ignore });
    outputs = [[top, true]];
  } else {
    const into = op === 'merge-into-base' ? c.layers[0] : undefined;
    c.op = into ? 'merge --into base' : 'merge';
    run = () => mergeImage({ child: top, into, force: true });
    outputs = [[into ?? c.layers[c.layers.length - 2], c.layers.length > 2 && !into]];
  }
  let error: string | undefined;
  try { await run(); } catch (e) { error = (e as Error).message; }
  if (error !== undefined) {
    for (const [n, h] of before) {
      if (!fs.existsSync(path.join(dir, n))) return { c, ok: false, error, failure: `refused, but ${n} is gone` };
      if (sha(path.join(dir, n)) !== h) return { c, ok: false, error, failure: `refused, but ${n} changed` };
    }
    const extra = fs.readdirSync(dir).filter((n) => !before.has(n) && !n.endsWith('.raw'));
    if (extra.length) return { c, ok: false, error, failure: `refused, but left ${extra.join(', ')}` };
    return { c, ok: false, error };
  }
  // damage changes identities and locators, never data: a reconnected chain reads as the original did
  const expect = op === 'set-parent' ? original : want;
  for (const [out, diff] of outputs) {
    const w = out === c.layers[0] && op === 'compact' ? baseWant : expect;
    // a compacted base under a damaged chain: only the base itself can be compared
    if (!w && op === 'compact' && out !== c.layers[0]) continue;
    if (!w) return { c, ok: true, failure: `${c.op} succeeded, but openDisk refuses ${path.basename(out === c.layers[0] ? out : top)} as it was before` };
    const f = await checkOutput(out, w, dir, diff);
    if (f) return { c, ok: true, failure: `${c.op}: ${f}` };
  }
  return { c, ok: true };
}
