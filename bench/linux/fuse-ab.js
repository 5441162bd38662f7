#!/usr/bin/env node
// A/B of vdisk's FUSE server (issue 15.2; bench/BENCHMARKS.md): several workers (builds or settings) attach one
// 256 MiB dynamic VHDX read-only at once and the raw file and each device are read in turns, the order reversed every
// round; medians, ranges, per-round ratios and the server's CPU per MiB from /proc/<pid>/stat. Needs root and a
// build (`node esbuild.js && npx tsc -p .`). A previous build is compared by copying its dist/ below the repository
// (e.g. out/ab/A, so that node_modules resolves) and naming it in SIDES.
//   SIDES='name=DIR:ENV#VAL,ENV#VAL;...' (DIR relative to the repository; ENV `-` = a plain worker: qemu's route)
//   N=rounds  MODES=cold,warm,path (path: the image file cached, the device read with O_DIRECT: the path's own cost)
//   ATT=n: also n alternating attach+detach rounds of a small image.  FMT=vhdx|vpc  CHILD=1: read a differencing child
// Run: sudo node bench/linux/fuse-ab.js
const cp = require('child_process'), fs = require('fs'), path = require('path'), crypto = require('crypto');
const ROOT = path.resolve(__dirname, '../..');
const { WorkerClient } = require(ROOT + '/out/src/host/worker-client.js');
const P = require(ROOT + '/out/src/common/protocol.js');
const MiB = 1 << 20, N = Number(process.env.N || 5), ATT = Number(process.env.ATT || 0);
const quiet = { trace() {}, debug() {}, info() {}, warn() {}, error() {} };
const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rng = (xs) => `${Math.min(...xs).toFixed(0)}-${Math.max(...xs).toFixed(0)}`;
const drop = () => { cp.execFileSync('sync'); fs.writeFileSync('/proc/sys/vm/drop_caches', '3'); };
const cpuOf = (pid) => { try { const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' '); return (Number(f[11]) + Number(f[12])) * 10; } catch { return NaN; } };
const sysOf = (pid) => { try { const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' '); return Number(f[12]) * 10; } catch { return NaN; } };
function readAll(file) {
  const fd = fs.openSync(file, 'r'); const buf = Buffer.alloc(4 * MiB); let total = 0;
  const t0 = process.hrtime.bigint();
  try { for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0;) total += n; } finally { fs.closeSync(fd); }
  return total / MiB / (Number(process.hrtime.bigint() - t0) / 1e9);
}
function serverPid(exportFile) {
  for (const d of fs.readdirSync('/proc')) { if (!/^\d+$/.test(d)) continue; try { const c = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8'); if (c.includes('fuse-server') && c.includes(exportFile)) return Number(d); } catch {} }
  return null;
}
(async () => {
  const dir = fs.mkdtempSync('/tmp/vdisk-ab-');
  const mk = (wp, env) => new WorkerClient({ workerPath: wp, client: 'bench', log: quiet, env });
  const spec = process.env.SIDES || 'spliced=dist:;copied=dist:VDISK_FUSE_SPLICE#0;qemu=dist:-';
  const sides = spec.split(';').map((s) => { const [n, rest] = s.split('='); const [d, e] = [rest.slice(0, rest.indexOf(':')), rest.slice(rest.indexOf(':') + 1)];
    const env = e === '-' ? {} : { VDISK_FUSE_DYNAMIC: '1', ...Object.fromEntries(e.split(',').filter(Boolean).map((kv) => kv.split('#'))) };
    return [n, mk(`${ROOT}/${d}/worker.js`, env)]; });
  try {
    for (const [, c] of sides) await c.request(P.List);
    const raw = path.join(dir, 'data.raw'); const fd = fs.openSync(raw, 'w');
    for (let i = 0; i < 256; i++) fs.writeSync(fd, crypto.randomBytes(MiB)); fs.closeSync(fd);
    const base = path.join(dir, 'd.vhdx');
    cp.execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', process.env.FMT || 'vhdx', raw, base]);
    let img = base;
    if (process.env.CHILD) { // a differencing child over it (vdisk-fuse's default case): every read resolves to the parent
      img = path.join(dir, 'child.avhdx');
      await require(ROOT + '/out/src/formats/index.js').createDifferencingDisk(base, img);
    }
    const want = crypto.createHash('sha256').update(fs.readFileSync(raw)).digest('hex');
    if (ATT) {
      const small = path.join(dir, 's.vhdx'); cp.execFileSync('qemu-img', ['create', '-q', '-f', 'vhdx', small, '64M']);
      const t = Object.fromEntries(sides.map(([n]) => [n, []]));
      for (let i = 0; i < ATT + 1; i++) for (const [n, c] of (i % 2 ? [...sides].reverse() : sides)) {
        const t0 = process.hrtime.bigint(); const d = await c.request(P.Attach, { path: small, readOnly: true, lifetime: 'session' });
        const t1 = process.hrtime.bigint(); await c.request(P.Detach, { target: d.device }); const t2 = process.hrtime.bigint();
        if (i) t[n].push([Number(t1 - t0) / 1e6, Number(t2 - t1) / 1e6]);
      }
      for (const [n] of sides) console.log(`attach+detach ${n}: attach ${med(t[n].map((x) => x[0])).toFixed(1)} ms (${rng(t[n].map((x) => x[0]))}), detach ${med(t[n].map((x) => x[1])).toFixed(1)} ms, total ${med(t[n].map((x) => x[0] + x[1])).toFixed(1)} ms`);
    }
    const att = [];
    for (const [n, c] of sides) { const d = await c.request(P.Attach, { path: img, readOnly: true, lifetime: 'session' }); att.push([n, c, d, serverPid(fs.readFileSync(`/sys/block/${path.basename(d.device)}/loop/backing_file`, 'utf8').trim())]); console.log(n, d.engine, d.device, 'pid', att.at(-1)[3]); }
    try {
      for (const [n, , d] of att) { const h = crypto.createHash('sha256').update(fs.readFileSync(d.device)).digest('hex'); if (h !== want) throw new Error(`${n}: device sha256 differs`); }
      for (const mode of (process.env.MODES || 'cold,warm').split(',')) {
        const res = { raw: [] }; const cpu = {}; const sys = {};
        for (const [n] of att) { res[n] = []; cpu[n] = []; }
        for (let i = 0; i < N; i++) {
          const order = [['raw', raw, null], ...att.map(([n, , d, pid]) => [n, d.device, pid])];
          const o = i % 2 ? [order[0], ...order.slice(1).reverse()] : order;
          for (const [n, f, pid] of o) {
            if (mode === 'cold') drop(); else if (mode === 'path') readAll(img); else readAll(f);
            if (mode === 'path') {
              const c0 = pid ? cpuOf(pid) : 0, s0 = pid ? sysOf(pid) : 0;
              const o = cp.spawnSync('dd', [`if=${f}`, 'of=/dev/null', 'bs=4M', ...(n === 'raw' ? [] : ['iflag=direct'])], { encoding: 'utf8' }).stderr;
              const m = /(\d+) bytes.*copied, ([\d.]+) s/.exec(o);
              res[n].push(Number(m[1]) / MiB / Number(m[2]));
              if (pid) { cpu[n].push((cpuOf(pid) - c0) / 256); (sys[n] ??= []).push((sysOf(pid) - s0) / 256); }
              continue;
            }
            const c0 = pid ? cpuOf(pid) : 0, s0 = pid ? sysOf(pid) : 0; res[n].push(readAll(f)); if (pid) { cpu[n].push((cpuOf(pid) - c0) / 256); (sys[n] ??= []).push((sysOf(pid) - s0) / 256); }
          }
        }
        const r = med(res.raw);
        console.log(`${mode}: raw ${r.toFixed(0)} MiB/s (${rng(res.raw)})`);
        for (const [n] of att) console.log(`${mode}: ${n} ${med(res[n]).toFixed(0)} MiB/s (${rng(res[n])}) = ${(med(res[n]) / r).toFixed(2)}x raw; ratios per round ${res[n].map((x, i) => (x / res.raw[i]).toFixed(2)).join(' ')}; server CPU ${cpu[n].length ? med(cpu[n]).toFixed(2) + ' ms/MiB (' + cpu[n].map((x) => x.toFixed(2)).join(' ') + '), of which system ' + med(sys[n]).toFixed(2) : '-'}`);
      }
    } finally { for (const [, c, d] of att) await c.request(P.Detach, { target: d.device }); }
  } finally { for (const [, c] of sides) await c.stop(); fs.rmSync(dir, { recursive: true, force: true }); }
  console.log(fs.readFileSync('/proc/loadavg', 'utf8').trim());
})().catch((e) => { console.error(e); process.exit(1); });
