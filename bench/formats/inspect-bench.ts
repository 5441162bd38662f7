// Format-layer bench: bytes read to inspect a 10 GiB dynamic VHDX, and the time to inspect a 16-deep
// differencing chain (made by our writer) against one `vhdiinfo` run on the same child, in the same run.
// Run: node out/bench/formats/inspect-bench.js   (needs qemu-img and vhdiinfo)
import * as cp from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { inspectImage, createDifferencingDisk } from '../../src/formats';
import { observeReads } from '../../src/formats/reader';

const MiB = 1024 * 1024;

function need(tool: string): string {
  for (const d of (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/sbin'])) {
    const p = path.join(d, tool);
    if (fs.existsSync(p)) return p;
  }
  throw new Error(`${tool} is not installed; the bench needs it`);
}

async function bytesRead(file: string): Promise<{ bytes: number; reads: number }> {
  let bytes = 0, reads = 0;
  const stop = observeReads((_p, _o, n) => { bytes += n; reads++; });
  try { await inspectImage(file); } finally { stop(); }
  return { bytes, reads };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Runs a and b back to back `runs` times, so machine load hits both alike; times in ms. */
async function interleaved(runs: number, a: () => Promise<unknown>, b: () => unknown): Promise<{ a: number[]; b: number[] }> {
  const ta: number[] = [], tb: number[] = [];
  const time = async (fn: () => unknown) => { const s = process.hrtime.bigint(); await fn(); return Number(process.hrtime.bigint() - s) / 1e6; };
  for (let i = 0; i < runs; i++) {
    ta.push(await time(a));
    tb.push(await time(b));
  }
  return { a: ta, b: tb };
}

async function main(): Promise<void> {
  const qemuImg = need('qemu-img');
  const vhdiinfo = need('vhdiinfo');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vdisk-bench-'));
  try {
    const big = path.join(dir, 'big.vhdx');
    cp.execFileSync(qemuImg, ['create', '-q', '-f', 'vhdx', big, '10G']);
    const r = await bytesRead(big);
    console.log(`vhdx-10g-inspect-bytes-read: ${r.bytes} bytes in ${r.reads} reads (target <= ${MiB})`);
    // bytes read are deterministic, so a miss fails the bench; timings are only reported (shared machines are noisy)
    if (r.bytes > MiB) process.exitCode = 1;
    const bigVhd = path.join(dir, 'big.vhd');
    cp.execFileSync(qemuImg, ['create', '-q', '-f', 'vpc', bigVhd, '10G']);
    const rv = await bytesRead(bigVhd);
    console.log(`vhd-10g-inspect-bytes-read: ${rv.bytes} bytes in ${rv.reads} reads (target <= ${MiB})`);

    let prev = path.join(dir, 'base.vhdx');
    cp.execFileSync(qemuImg, ['create', '-q', '-f', 'vhdx', prev, '1G']);
    for (let i = 1; i <= 16; i++) {
      const child = path.join(dir, `layer${String(i).padStart(2, '0')}.${i % 2 ? 'avhdx' : 'vhd'}`);
      await createDifferencingDisk(prev, child);
      prev = child;
    }
    const info = await inspectImage(prev);
    if (info.chain.length !== 17 || info.problems.length) throw new Error(`chain broken: ${JSON.stringify(info.problems)}`);
    const chainBytes = await bytesRead(prev);
    console.log(`chain-16-inspect-bytes-read: ${chainBytes.bytes} bytes for 17 files (target <= ${17 * MiB})`);
    await inspectImage(prev); // warm the page cache and the JIT for both sides alike
    cp.execFileSync(vhdiinfo, [prev], { stdio: 'ignore' });
    const runs = 31;
    const t = await interleaved(runs, () => inspectImage(prev), () => cp.execFileSync(vhdiinfo, [prev], { stdio: 'ignore' }));
    const ratios = t.a.map((x, i) => x / t.b[i]);
    console.log(`chain-16-inspect-ms: ${median(t.a).toFixed(2)} ms (median of ${runs}, in-process; min ${Math.min(...t.a).toFixed(2)})`);
    console.log(`vhdiinfo-one-child-ms: ${median(t.b).toFixed(2)} ms (median of ${runs}, one process per run; min ${Math.min(...t.b).toFixed(2)})`);
    console.log(`chain-16-vs-vhdiinfo-ratio: ${median(ratios).toFixed(2)} (median of pairwise ratios; target <= 1.00)`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => { console.error(`inspect-bench failed: ${e instanceof Error ? e.message : e}`); process.exit(1); });
