#!/usr/bin/env node
// The long fuzz run (docs/fuzzing.md):
//   node scripts/fuzz.js [--cases 100000] [--format vhdx] [--seed N] [--workers N] [--no-build] [--no-shared]
//   [--qemu-every 50]: also compare 1 case in N with qemu-img (0 turns the differential oracle off)
//   [--target block]: fuzz the block layer (openDisk + reading the disk) of vhd, vhdx, qcow2, vmdk and vdi instead
// Builds (tsc) unless --no-build, then fuzzes every format (or the one named) and writes each crashing input to
// test/fixtures/fuzz/<format>-<sha8>.bin.gz with a JSON note (seed, case, mutations, error). Exit code 1 on any failure.
'use strict';
const cp = require('child_process');
const fs = require('fs');
const path = require('path');

const ROOT = path.resolve(__dirname, '..');
const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return def;
  const v = args[i + 1];
  if (v === undefined || v.startsWith('--')) { console.error(`--${name} needs a value`); process.exit(2); }
  return v;
};
const known = new Set(['--cases', '--format', '--seed', '--workers', '--qemu-every', '--target', '--no-build', '--no-shared', '--help']);
for (const a of args) if (a.startsWith('--') && !known.has(a)) { console.error(`unknown option ${a}`); process.exit(2); }
if (args.includes('--help')) {
  console.log('node scripts/fuzz.js [--cases 100000] [--format vhd|vhdx|iso|udf|qcow2|vmdk|vdi|mbr-gpt] [--target inspect|block] [--seed N] [--workers N] [--qemu-every N] [--no-build] [--no-shared]');
  process.exit(0);
}
const cases = Number(opt('cases', '100000'));
const seed = Number(opt('seed', String(Date.now() % 2147483647)));
const workers = opt('workers', undefined);
const qemuEvery = Number(opt('qemu-every', '50'));
if (!Number.isSafeInteger(cases) || cases <= 0 || !Number.isSafeInteger(seed)) { console.error('--cases and --seed must be integers'); process.exit(2); }

if (!args.includes('--no-build')) {
  const r = cp.spawnSync(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', ROOT], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(1);
}
const { buildCorpus, FUZZ_FORMATS } = require(path.join(ROOT, 'out/test/fuzz/corpus.js'));
const { BLOCK_FUZZ_FORMATS } = require(path.join(ROOT, 'out/test/fuzz/block-corpus.js'));
const { runFuzz, signature } = require(path.join(ROOT, 'out/test/fuzz/runner.js'));
const target = opt('target', 'inspect');
if (target !== 'inspect' && target !== 'block') { console.error('--target is inspect or block'); process.exit(2); }
const allowed = target === 'block' ? BLOCK_FUZZ_FORMATS : FUZZ_FORMATS;
const formatArg = opt('format', null);
if (formatArg && !allowed.includes(formatArg)) { console.error(`unknown format ${formatArg} (${allowed.join(', ')})`); process.exit(2); }
const formats = formatArg ? [formatArg] : allowed;

(async () => {
  const corpus = await buildCorpus(formats, { shared: !args.includes('--no-shared'), block: target === 'block' });
  let bad = 0;
  try {
    for (const n of corpus.notes) console.log(`note: ${n}`);
    console.log(`seed ${seed}, ${cases} cases per format, target ${target}, formats ${formats.join(', ')}`);
    for (const format of formats) {
      const s = await runFuzz({ format, corpus, cases, seed, workers: workers ? Number(workers) : undefined, qemuEvery, target,
        fixtureDir: path.join(ROOT, 'test/fixtures/fuzz'), log: (l) => console.log(l) });
      const sigs = new Map();
      for (const f of s.failures) sigs.set(signature(f), (sigs.get(signature(f)) ?? 0) + 1);
      console.log(`${format}: ${s.cases} cases in ${s.seconds.toFixed(1)} s (${s.casesPerSecond.toFixed(0)} cases/s, mean ${s.meanCaseMs.toFixed(2)} ms, max ${s.maxCaseMs.toFixed(0)} ms), `
        + `${s.failures.length} failing cases, ${sigs.size} distinct${target === 'block' ? `; ${s.opened} disks opened and read, the rest refused` : ''}`);
      for (const [k, n] of sigs) console.log(`  ${n} x ${k}`);
      for (const f of s.fixtures) console.log(`  fixture ${path.isAbsolute(f) ? `${f} (from a shared image: not for the repo)` : `test/fixtures/fuzz/${f}`}`);
      bad += s.failures.length;
    }
  } finally {
    fs.rmSync(corpus.dir, { recursive: true, force: true });
  }
  process.exit(bad ? 1 : 0);
})().catch((e) => { console.error(e); process.exit(1); });
