// Issue 15.4's A/B: attach+detach of a raw image through two or more builds' workers and the `losetup` pair, in one
// run, taking turns every cycle (the order reversed every other cycle), so that every build sees the same load.
//   node out/bench/attach-ab.js N DIST_A DIST_B...   (each DIST a copy of dist/, e.g. `cp -a dist /tmp/distA` before a change)
// Prints medians and ranges, and CPU per cycle: each worker's main thread (/proc/<pid>/schedstat, ns) and this host
// process around our cycles (process.cpuUsage). Without arguments it says how to run it and exits (npm run bench).
import * as cp from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { performance } from 'perf_hooks';
import * as P from '../src/common/protocol';
import { WorkerClient } from '../src/host/worker-client';

const quiet = { trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s[s.length >> 1]; };
const cpuMs = (pid: number) => Number(fs.readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
/** CPU of this process's waited-for children (user + system, clock ticks of 10 ms: use over many cycles). */
const childCpuMs = () => { const f = fs.readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' '); return (Number(f[13]) + Number(f[14])) * 10; };
const range = (xs: number[]) => `${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}`;

async function main(): Promise<void> {
  const [nArg, ...dists] = process.argv.slice(2);
  if (!dists.length) { console.log('attach-ab: usage `node out/bench/attach-ab.js N DIST_A DIST_B...` (copies of dist/); nothing to compare'); return; }
  if (process.getuid?.() !== 0) throw new Error('run as root: loop devices');
  const n = Number(nArg);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vdisk-ab-'));
  const clients: WorkerClient[] = [];
  try {
    const img = path.join(dir, 'bench.img');
    fs.writeFileSync(img, Buffer.alloc(16 << 20));
    for (const d of dists) {
      const c = new WorkerClient({ workerPath: path.resolve(d, 'worker.js'), client: 'bench', log: quiet });
      await c.request(P.List);
      clients.push(c);
    }
    const runs = dists.map((_, i) => ({ t: [] as number[], cpu0: cpuMs(clients[i].pid!), host: 0 }));
    const peer: number[] = [];
    let peerCpu = 0;
    for (let i = 0; i < n; i++) {
      const order = [...clients.keys(), -1];
      if (i % 2) order.reverse();
      for (const k of order) {
        const t = performance.now();
        if (k < 0) {
          const c0 = childCpuMs();
          const dev = cp.execFileSync('losetup', ['-f', '--show', '-r', img], { encoding: 'utf8' }).trim();
          cp.execFileSync('losetup', ['-d', dev]);
          peer.push(performance.now() - t);
          peerCpu += childCpuMs() - c0;
          continue;
        }
        const h = process.cpuUsage();
        const d = await clients[k].request(P.Attach, { path: img, readOnly: true, lifetime: 'session' });
        await clients[k].request(P.Detach, { target: d.device });
        runs[k].t.push(performance.now() - t);
        const u = process.cpuUsage(h);
        runs[k].host += (u.user + u.system) / 1000;
      }
    }
    const p = median(peer);
    const pc = peerCpu / n;
    console.log(`load ${os.loadavg()[0].toFixed(1)}; losetup pair ${p.toFixed(2)} ms (${range(peer)}), CPU ${pc.toFixed(2)} ms per pair (both processes)`);
    runs.forEach((r, i) => {
      const w = (cpuMs(clients[i].pid!) - r.cpu0) / n;
      console.log(`  ${dists[i]}: ${median(r.t).toFixed(2)} ms (${range(r.t)}) = ${(median(r.t) / p).toFixed(2)}x; `
        + `CPU per cycle: worker ${w.toFixed(3)} ms + host ${(r.host / n).toFixed(3)} ms = ${((w + r.host / n) / pc).toFixed(2)}x the pair's`);
    });
  } finally {
    for (const c of clients) await c.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
