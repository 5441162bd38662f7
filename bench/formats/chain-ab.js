// A/B of worker builds on a 16-deep VHDX chain, alternating in the same run (issue 15.3): for each build, a chain
// never seen (its folder renamed before each request; wall time and the worker's CPU from /proc/<pid>/task/*/stat,
// all threads) and then the first inspection of fresh workers. `vhdiinfo` on the tip runs in the same loop.
//   node esbuild.js && npx tsc -p . && cp -a dist /tmp/dist-a   (then change, rebuild)
//   node bench/formats/chain-ab.js 80 /tmp/dist-a dist          (F=40 in the environment: 40 fresh workers each)
'use strict';
const path = require('path'), fs = require('fs'), os = require('os'), cp = require('child_process');
const { performance } = require('perf_hooks');
const OUT = path.join(__dirname, '../../out');
const N = +process.argv[2], dists = process.argv.slice(3).map((d) => path.resolve(d));
const { WorkerClient } = require(path.join(OUT, 'src/host/worker-client.js'));
const P = require(path.join(OUT, 'src/common/protocol.js'));
const { createDifferencingDisk } = require(path.join(OUT, 'src/formats/index.js'));
const quiet = { trace() {}, debug() {}, info() {}, warn() {}, error() {} };
const cpuOf = (pid) => { let s = 0; for (const t of fs.readdirSync(`/proc/${pid}/task`)) { const f = fs.readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8').split(') ')[1].split(' '); s += +f[11] + +f[12]; } return s * 10; };
const med = (a) => { const s = [...a].sort((x, y) => x - y); return s[s.length >> 1]; };
const rng = (a) => `${Math.min(...a).toFixed(2)}-${Math.max(...a).toFixed(2)}`;
(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'c2w-'));
  const folders = [];
  for (let k = 0; k < dists.length; k++) {
    const folder = path.join(dir, `d${k}-0`); fs.mkdirSync(folder);
    cp.execFileSync('qemu-img', ['create', '-q', '-f', 'vhdx', path.join(folder, 'base.vhdx'), '10G']);
    let prev = path.join(folder, 'base.vhdx');
    for (let i = 1; i <= 16; i++) { const c = path.join(folder, `c${i}.vhdx`); await createDifferencingDisk(prev, c); prev = c; }
    folders.push(folder);
  }
  const clients = [];
  for (const d of dists) { const c = new WorkerClient({ workerPath: path.join(d, 'worker.js'), client: 'bench', log: quiet }); await c.request(P.List); clients.push(c); }
  const pids = clients.map((c) => c.pid ?? c.process?.pid);
  const wall = dists.map(() => []), cpu = dists.map(() => []), vh = [];
  for (let i = 0; i < N; i++) {
    for (let k = 0; k < dists.length; k++) {
      const next = path.join(dir, `d${k}-${i + 1}`); fs.renameSync(folders[k], next); folders[k] = next;
      const tip = path.join(next, 'c16.vhdx');
      const c0 = pids[k] ? cpuOf(pids[k]) : 0;
      const t = performance.now();
      const info = await clients[k].request(P.Inspect, { path: tip });
      wall[k].push(performance.now() - t);
      if (pids[k]) cpu[k].push(cpuOf(pids[k]) - c0);
      if (info.chain.length !== 17 || info.problems.length) throw new Error('broken');
      if (k === 0) { const t2 = performance.now(); cp.spawnSync('vhdiinfo', [tip], { stdio: 'ignore' }); vh.push(performance.now() - t2); }
    }
  }
  for (const c of clients) await c.stop();
  const v = med(vh);
  console.log(`never-seen N=${N} load ${os.loadavg()[0].toFixed(1)} vhdiinfo ${v.toFixed(2)} ms (${rng(vh)})`);
  dists.forEach((d, k) => console.log(`  ${d}: wall ${med(wall[k]).toFixed(2)} ms (${rng(wall[k])}) = ${(med(wall[k]) / v).toFixed(2)}x; worker CPU mean ${(cpu[k].reduce((a, b) => a + b, 0) / cpu[k].length).toFixed(2)} ms`));
  // fresh workers, alternating
  const F = +process.env.F || Math.max(6, Math.min(N, 16)); const fw = dists.map(() => []); const fv = []; const fc = dists.map(() => []);
  for (let i = 0; i < F; i++) for (let k = 0; k < dists.length; k++) {
    const c = new WorkerClient({ workerPath: path.join(dists[k], 'worker.js'), client: 'bench', log: quiet });
    await c.request(P.List);
    const tip = path.join(folders[k], 'c16.vhdx');
    const c0 = cpuOf(c.pid); const t = performance.now(); await c.request(P.Inspect, { path: tip }); fw[k].push(performance.now() - t); fc[k].push(cpuOf(c.pid) - c0);
    await c.stop();
    if (k === 0) { const t2 = performance.now(); cp.spawnSync('vhdiinfo', [tip], { stdio: 'ignore' }); fv.push(performance.now() - t2); }
  }
  const fvm = med(fv);
  console.log(`fresh worker x${F} vhdiinfo ${fvm.toFixed(2)} ms`);
  dists.forEach((d, k) => console.log(`  ${d}: ${med(fw[k]).toFixed(2)} ms (${rng(fw[k])}) = ${(med(fw[k]) / fvm).toFixed(2)}x; worker CPU mean ${(fc[k].reduce((a, b) => a + b, 0) / F).toFixed(1)} ms`));
  fs.rmSync(dir, { recursive: true, force: true });
})();
