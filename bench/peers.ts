// Inspect through a warm worker (what the tree, the inspector and the palette wait for) against the peer tools a
// user would run instead, on the same files in the same run; and the size of the VSIX for every target.
//   inspect vs `qemu-img info --output=json` and `vhdiinfo` per image   (target <= 1x)
//   VSIX size per target                                                  (target < 2 MB)
import * as cp from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { performance } from 'perf_hooks';
import * as P from '../src/common/protocol';
import { WorkerClient } from '../src/host/worker-client';
import { createDifferencingDisk } from '../src/formats';

const ROOT = path.resolve(__dirname, '../..');
const quiet = { trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
const N = Number(process.env.BENCH_N ?? 30);

function median(xs: number[]): number { const s = [...xs].sort((a, b) => a - b); return s[s.length >> 1]; }
function timeSync(f: () => void): number { const t = performance.now(); f(); return performance.now() - t; }

async function inspectVsPeers(dir: string): Promise<void> {
  const q = (args: string[]) => cp.execFileSync('qemu-img', args, { stdio: 'ignore' });
  // `touch`: the files changed before each cold run (the top by default: what a running VM writes to)
  const images: { name: string; file: string; qemuFmt: string; vhdi: boolean; touch: string[] }[] = [];
  const add = (name: string, file: string, qemuFmt: string, vhdi: boolean, touch = [file]) => images.push({ name, file, qemuFmt, vhdi, touch });
  q(['create', '-q', '-f', 'vpc', path.join(dir, 'dyn.vhd'), '1G']); add('dynamic VHD 1 GiB', path.join(dir, 'dyn.vhd'), 'vpc', true);
  q(['create', '-q', '-f', 'vhdx', path.join(dir, 'dyn.vhdx'), '10G']); add('dynamic VHDX 10 GiB', path.join(dir, 'dyn.vhdx'), 'vhdx', true);
  q(['create', '-q', '-f', 'qcow2', path.join(dir, 'a.qcow2'), '10G']); add('qcow2 10 GiB', path.join(dir, 'a.qcow2'), 'qcow2', false);
  q(['create', '-q', '-f', 'vmdk', path.join(dir, 'a.vmdk'), '10G']); add('VMDK 10 GiB', path.join(dir, 'a.vmdk'), 'vmdk', false);
  let parent = path.join(dir, 'dyn.vhdx');
  const chain = [parent];
  for (let i = 1; i <= 16; i++) { const child = path.join(dir, `c${i}.vhdx`); await createDifferencingDisk(parent, child); parent = child; chain.push(child); }
  add('16-deep VHDX chain (tip), the tip just changed', parent, 'vhdx', true);
  // every layer's stamp moved (mtime, ctime), its bytes did not: the worker compares the bytes it parsed last time
  // (formats/same-bytes.ts) and reuses those parses; the two rows after the loop parse every layer
  add('16-deep VHDX chain (tip), all 17 files just touched (same bytes)', parent, 'vhdx', true, chain);

  const client = new WorkerClient({ workerPath: path.join(ROOT, 'dist/worker.js'), client: 'bench', log: quiet });
  await client.request(P.List);
  for (const img of images) {
    const ours: number[] = []; const repeat: number[] = []; const qemu: number[] = []; const vhdi: number[] = [];
    for (let i = 0; i < N; i++) {
      // cold: the file(s) just changed, so the worker reads and verifies them again
      const now = new Date(); for (const f of img.touch) fs.utimesSync(f, now, now);
      let t = performance.now();
      await client.request(P.Inspect, { path: img.file });
      ours.push(performance.now() - t);
      // repeat: unchanged files, answered from the worker's cache (what the tree and the inspector mostly see)
      t = performance.now();
      await client.request(P.Inspect, { path: img.file });
      repeat.push(performance.now() - t);
      // qemu-img does not follow a differencing VHDX's parents (it cannot read them): it still costs a process run
      qemu.push(timeSync(() => cp.spawnSync('qemu-img', ['info', '--output=json', '-f', img.qemuFmt, img.file], { stdio: 'ignore' })));
      if (img.vhdi) vhdi.push(timeSync(() => cp.spawnSync('vhdiinfo', [img.file], { stdio: 'ignore' })));
    }
    const o = median(ours);
    const parts = [`qemu-img info ${median(qemu).toFixed(2)} ms = ${(o / median(qemu)).toFixed(2)}x`];
    if (vhdi.length) parts.push(`vhdiinfo ${median(vhdi).toFixed(2)} ms = ${(o / median(vhdi)).toFixed(2)}x`);
    console.log(`inspect ${img.name}: ${o.toFixed(2)} ms (repeat ${median(repeat).toFixed(2)} ms) vs ${parts.join(', ')} (target <= 1x)`);
  }
  await chainNeverSeen(dir, client);
  await client.stop();
  await chainFreshWorker(dir);
}

/** A 16-deep VHDX chain of its own (base + 16 children) in `folder`; returns the files, base first. */
async function makeChain(folder: string): Promise<string[]> {
  fs.mkdirSync(folder, { recursive: true });
  cp.execFileSync('qemu-img', ['create', '-q', '-f', 'vhdx', path.join(folder, 'base.vhdx'), '10G']);
  const chain = [path.join(folder, 'base.vhdx')];
  for (let i = 1; i <= 16; i++) { const child = path.join(folder, `c${i}.vhdx`); await createDifferencingDisk(chain[i - 1], child); chain.push(child); }
  return chain;
}

const vhdiinfoMs = (file: string) => timeSync(() => cp.spawnSync('vhdiinfo', [file], { stdio: 'ignore' }));

/**
 * The warm worker asked about a chain it has never seen: its folder gets a new name before each run (the locators
 * are relative), so no file of it is in the worker's cache and every layer is parsed.
 */
async function chainNeverSeen(dir: string, client: WorkerClient): Promise<void> {
  let folder = path.join(dir, 'unseen-0');
  await makeChain(folder);
  const ours: number[] = []; const vhdi: number[] = [];
  for (let i = 0; i < N; i++) {
    const next = path.join(dir, `unseen-${i + 1}`);
    fs.renameSync(folder, next);
    folder = next;
    const tip = path.join(folder, 'c16.vhdx');
    const t = performance.now();
    const info = await client.request(P.Inspect, { path: tip });
    ours.push(performance.now() - t);
    if (info.chain.length !== 17 || info.problems.length) throw new Error(`chain broken: ${JSON.stringify(info.problems)}`);
    vhdi.push(vhdiinfoMs(tip));
  }
  const o = median(ours), v = median(vhdi);
  console.log(`inspect 16-deep VHDX chain (tip), never seen by the worker (every layer parsed): ${o.toFixed(2)} ms vs vhdiinfo ${v.toFixed(2)} ms = ${(o / v).toFixed(2)}x (target <= 1x)`);
}

/** The first inspection a fresh worker makes (started and answering, nothing cached, its code not yet optimised). */
async function chainFreshWorker(dir: string): Promise<void> {
  const chain = await makeChain(path.join(dir, 'fresh'));
  const tip = chain[16];
  const runs = Math.max(5, Math.min(N, 20));
  const ours: number[] = []; const vhdi: number[] = [];
  for (let i = 0; i < runs; i++) {
    const client = new WorkerClient({ workerPath: path.join(ROOT, 'dist/worker.js'), client: 'bench', log: quiet });
    try {
      await client.request(P.List);
      const t = performance.now();
      await client.request(P.Inspect, { path: tip });
      ours.push(performance.now() - t);
    } finally { await client.stop(); }
    vhdi.push(vhdiinfoMs(tip));
  }
  const o = median(ours), v = median(vhdi);
  console.log(`inspect 16-deep VHDX chain (tip), first inspection of a fresh worker (nothing cached): ${o.toFixed(2)} ms vs vhdiinfo ${v.toFixed(2)} ms = ${(o / v).toFixed(2)}x (median of ${runs}; target <= 1x)`);
}

function vsixSizes(): void {
  for (const target of ['linux-x64', 'linux-arm64', 'alpine-x64', 'win32-x64', 'win32-arm64', 'darwin-x64', 'darwin-arm64']) {
    const out = path.join(os.tmpdir(), `vdisk-bench-${target}.vsix`);
    const r = cp.spawnSync(process.execPath, [path.join(ROOT, 'scripts/package.js'), '--target', target, '--out', out, '--quiet'], { encoding: 'utf8' });
    if (r.status !== 0) { console.log(`VSIX ${target}: packaging failed: ${(r.stderr || r.stdout).trim().split('\n').pop()}`); continue; }
    const size = fs.statSync(out).size;
    console.log(`VSIX ${target}: ${(size / 1024).toFixed(0)} KiB (target < 2048 KiB)`);
    fs.rmSync(out, { force: true });
  }
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vdisk-bench-peers-'));
  try {
    await inspectVsPeers(dir);
    vsixSizes();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
