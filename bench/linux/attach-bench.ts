// Linux engine bench, same-run ratios (needs root, qemu-storage-daemon, losetup):
//   1. attach+detach of a dynamic VHDX through the worker vs qemu-storage-daemon + losetup driven by a shell script
//   2. sequential read of 256 MiB through an attached image vs reading a raw copy (cold and warm cache): a dynamic
//      VHDX (qemu-storage-daemon FUSE export) and the fixed/flat layouts (plain loop device with an offset)
//   3. the same dynamic VHDX attached read-only twice at once, through vdisk's own FUSE server (a worker with
//      VDISK_FUSE_DYNAMIC=1) and through qemu-storage-daemon, read in turns with the raw file (raw, ours, qemu, raw, ours, qemu...) in the same run
// Run: node out/bench/linux/attach-bench.js   (after `node esbuild.js` and `npx tsc -p .`)
import * as cp from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as P from '../../src/common/protocol';
import { WorkerClient } from '../../src/host/worker-client';

const MiB = 1 << 20;
/** Cold reads vary widely on a shared disk: medians of this many alternating raw/device reads. */
const READS = Number(process.env.BENCH_READS ?? 5);
const ROOT = path.resolve(__dirname, '../../..');
const quiet = { trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// The hand-driven baseline: what a user scripting it would run (exits when the daemon is gone, zombie or not).
const SCRIPT = `#!/bin/bash
set -e
IMG=$1; EXP=$2
touch "$EXP"
qemu-storage-daemon --blockdev "{\\"driver\\":\\"file\\",\\"node-name\\":\\"f\\",\\"filename\\":\\"$IMG\\",\\"read-only\\":true}" \\
  --blockdev '{"driver":"vhdx","node-name":"d","file":"f","read-only":true}' \\
  --export "{\\"type\\":\\"fuse\\",\\"id\\":\\"e\\",\\"node-name\\":\\"d\\",\\"mountpoint\\":\\"$EXP\\",\\"writable\\":false}" \\
  --pidfile "$EXP.pid" --daemonize
DEV=$(losetup -f --show -r "$EXP")
losetup -d "$DEV"
PID=$(cat "$EXP.pid")
kill "$PID"
while [ -e /proc/$PID ] && ! grep -q '^State:.*Z' /proc/$PID/status 2>/dev/null; do sleep 0.002; done
rm -f "$EXP"
`;

function dropCaches(): boolean {
  try { cp.execFileSync('sync'); fs.writeFileSync('/proc/sys/vm/drop_caches', '3'); return true; } catch { return false; }
}

function readAll(file: string, direct = false): number {
  const fd = fs.openSync(file, direct ? fs.constants.O_RDONLY | fs.constants.O_DIRECT : 'r');
  const buf = Buffer.alloc(4 * MiB);
  let total = 0;
  const t0 = process.hrtime.bigint();
  try { for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0;) total += n; } finally { fs.closeSync(fd); }
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  return total / MiB / s;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the Linux bench needs root (loop devices)');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vdisk-bench-'));
  // the qemu route (VDISK_FUSE_DYNAMIC=0); vdisk's own FUSE server with its spare (engines/fuse-spare.ts), and without
  const client = new WorkerClient({ workerPath: path.join(ROOT, 'dist/worker.js'), client: 'bench', log: quiet, env: { VDISK_FUSE_DYNAMIC: '0' } });
  const fuseClient = new WorkerClient({ workerPath: path.join(ROOT, 'dist/worker.js'), client: 'bench', log: quiet, env: { VDISK_FUSE_DYNAMIC: '1' } });
  const coldClient = new WorkerClient({ workerPath: path.join(ROOT, 'dist/worker.js'), client: 'bench', log: quiet, env: { VDISK_FUSE_DYNAMIC: '1', VDISK_FUSE_SPARE: '0' } });
  /** Between rounds (untimed): a user's attaches are seconds apart, time for the spare of the last one to start. */
  const IDLE_MS = Number(process.env.BENCH_IDLE_MS ?? 1000);
  try {
    const small = path.join(dir, 'small.vhdx');
    cp.execFileSync('qemu-img', ['create', '-q', '-f', 'vhdx', small, '64M']);
    const script = path.join(dir, 'qsd-losetup.sh');
    fs.writeFileSync(script, SCRIPT, { mode: 0o755 });
    const runs = Number(process.env.BENCH_N ?? 15);
    const worker: number[] = [], shell: number[] = [], ours: number[] = [], noSpare: number[] = [];
    await client.request(P.List); // the worker is started once, like the extension's
    await fuseClient.request(P.List);
    await coldClient.request(P.List);
    for (let i = 0; i < runs + 2; i++) {
      await new Promise((r) => setTimeout(r, IDLE_MS));
      // the first worker's read-only attach goes through qemu-storage-daemon (the script's peer), the second's through vdisk's own FUSE server
      let t = Date.now();
      const d = await client.request(P.Attach, { path: small, readOnly: true, lifetime: 'session' });
      await client.request(P.Detach, { target: d.device });
      const w = Date.now() - t;
      t = Date.now();
      const o = await fuseClient.request(P.Attach, { path: small, readOnly: true, lifetime: 'session' });
      await fuseClient.request(P.Detach, { target: o.device });
      const f = Date.now() - t;
      t = Date.now();
      const c = await coldClient.request(P.Attach, { path: small, readOnly: true, lifetime: 'session' });
      await coldClient.request(P.Detach, { target: c.device });
      const n = Date.now() - t;
      t = Date.now();
      cp.execFileSync('bash', [script, small, path.join(dir, 'exp.raw')]);
      const s = Date.now() - t;
      if (i >= 2) { worker.push(w); shell.push(s); ours.push(f); noSpare.push(n); } // two warm-up rounds
    }
    const mw = median(worker), ms = median(shell), mf = median(ours), mn = median(noSpare);
    const range = (xs: number[]) => `${Math.min(...xs)}-${Math.max(...xs)}`;
    console.log(`attach+detach dynamic VHDX via worker (qemu): ${mw} ms median of ${runs} (${range(worker)})`);
    console.log(`attach+detach dynamic VHDX via worker (vdisk-fuse, read-only, spare): ${mf} ms median of ${runs} (${range(ours)}) = ${(mf / ms).toFixed(2)}x the script, ${(mf / mw).toFixed(2)}x the qemu route`);
    console.log(`attach+detach dynamic VHDX via worker (vdisk-fuse, read-only, no spare): ${mn} ms median of ${runs} (${range(noSpare)}) = ${(mn / ms).toFixed(2)}x the script (a Node process and its threads start)`);
    console.log(`attach+detach via qemu-storage-daemon + losetup shell script: ${ms} ms median of ${runs}`);
    console.log(`attach+detach ratio worker/script: ${(mw / ms).toFixed(2)}x (same run; the worker also inspects the image, scans partitions and probes file systems)`);

    // 256 MiB of random data, as a raw file and in each layout: the dynamic VHDX goes through qemu-storage-daemon's
    // FUSE export, the fixed/flat layouts straight onto a loop device with an offset (issue 15.1)
    const raw = path.join(dir, 'data.raw');
    const fd = fs.openSync(raw, 'w');
    for (let i = 0; i < 256; i++) fs.writeSync(fd, crypto.randomBytes(MiB));
    fs.closeSync(fd);
    const layouts: [string, string, string[]][] = [
      ['dynamic VHDX', 'data.vhdx', ['-O', 'vhdx']],
      ['fixed VHDX', 'fixed.vhdx', ['-O', 'vhdx', '-o', 'subformat=fixed,block_state_zero=off']],
      ['static VDI', 'static.vdi', ['-O', 'vdi', '-o', 'static=on']],
      ['monolithicFlat VMDK', 'flat.vmdk', ['-O', 'vmdk', '-o', 'subformat=monolithicFlat']],
    ];
    // 3. vdisk's FUSE server vs qemu-storage-daemon on the same dynamic VHDX, alternating within one run
    {
      const img = path.join(dir, 'both.vhdx');
      cp.execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'vhdx', raw, img]);
      const ours = await fuseClient.request(P.Attach, { path: img, readOnly: true, lifetime: 'session' });
      const qemu = await client.request(P.Attach, { path: img, readOnly: true, lifetime: 'session' });
      try {
        if (ours.engine !== 'vdisk-fuse' || qemu.engine !== 'qemu') throw new Error(`engines ${ours.engine}/${qemu.engine}`);
        for (const mode of ['cold', 'warm'] as const) {
          const r: number[] = [], o: number[] = [], q: number[] = [];
          for (let i = 0; i < READS; i++) {
            for (const [dev, into] of [[raw, r], [ours.device, o], [qemu.device, q]] as [string, number[]][]) {
              if (mode === 'cold' && !dropCaches()) throw new Error('cannot drop caches');
              if (mode === 'warm') readAll(dev);
              into.push(readAll(dev));
            }
          }
          const mr = median(r), mo = median(o), mq = median(q);
          console.log(`read 256 MiB dynamic VHDX (${mode}): vdisk-fuse ${mo.toFixed(0)} MiB/s = ${(mo / mr).toFixed(2)}x raw, qemu ${mq.toFixed(0)} MiB/s = ${(mq / mr).toFixed(2)}x raw, `
            + `raw ${mr.toFixed(0)} MiB/s; vdisk-fuse/qemu ${(mo / mq).toFixed(2)}x (target ${mode === 'cold' ? '>= 0.7' : '>= 0.9'}x raw; medians of ${READS}, alternating)`);
        }
      } finally {
        await fuseClient.request(P.Detach, { target: ours.device });
        await client.request(P.Detach, { target: qemu.device });
        fs.rmSync(img, { force: true });
      }
    }

    for (const [name, file, args] of layouts) {
      const img = path.join(dir, file);
      cp.execFileSync('qemu-img', ['convert', '-f', 'raw', ...args, raw, img]);
      const d = await client.request(P.Attach, { path: img, readOnly: true, lifetime: 'session' });
      try {
        for (const mode of ['cold', 'warm'] as const) {
          const rawRates: number[] = [], devRates: number[] = [];
          for (let i = 0; i < READS; i++) {
            if (mode === 'cold' && !dropCaches()) { console.log('read (cold): cannot drop caches; skipped'); break; }
            if (mode === 'warm') readAll(raw);
            rawRates.push(readAll(raw));
            if (mode === 'cold') dropCaches(); else readAll(d.device);
            devRates.push(readAll(d.device));
          }
          if (!rawRates.length) continue;
          const r = median(rawRates), v = median(devRates);
          const target = d.engine === 'loop' ? '>= 0.9' : mode === 'cold' ? '>= 0.7' : '>= 0.9';
          console.log(`read 256 MiB ${name} via ${d.engine} (${mode}): ${v.toFixed(0)} MiB/s vs raw file ${r.toFixed(0)} MiB/s = ${(v / r).toFixed(2)}x (target ${target})`);
        }
      } catch (e) {
        console.log(`read 256 MiB ${name} via ${d.engine}: FAILED: ${(e as Error).message}`);
        process.exitCode = 1;
      } finally { await client.request(P.Detach, { target: d.device }); }
      fs.rmSync(img, { force: true });
      fs.rmSync(img.replace(/\.vmdk$/, '-flat.vmdk'), { force: true });
    }
  } finally {
    await client.stop();
    await fuseClient.stop();
    await coldClient.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
