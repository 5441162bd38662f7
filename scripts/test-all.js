#!/usr/bin/env node
// `npm test`: builds, then runs every suite one after another and ends with one line
// "N passed, N failed[, N skipped]" over all of them. `node scripts/test-all.js unit worker` runs some.
//   unit   plain mocha, no privileges (parsers, protocol, manifest, CLI usage)
//   worker plain mocha against real worker processes, loop devices, daemons (needs root)
//   vscode mocha inside a real VS Code extension host (code-server + headless Chromium)
//   ui     Chromium flows against code-server with the packaged VSIX, screenshots in test/ui/screenshots
'use strict';
const cp = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const ROOT = path.resolve(__dirname, '..');
const ALL = ['unit', 'worker', 'vscode', 'ui'];
const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const suites = wanted.length ? wanted : ALL;
const mochaBin = path.join(ROOT, 'node_modules/mocha/bin/mocha.js');

function run(cmd, args, env = {}) {
  const r = cp.spawnSync(cmd, args, { cwd: ROOT, stdio: 'inherit', env: { ...process.env, ...env } });
  return r.status === null ? 1 : r.status;
}

function mochaSuite(name, extra = []) {
  const dir = path.join(ROOT, 'out/test', name);
  if (!fs.existsSync(dir)) return { passes: 0, failures: 0, pending: 0, note: 'no tests' };
  const resultFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'vdisk-result-')), 'r.json');
  const code = run(process.execPath, [mochaBin, '--recursive', '--reporter', path.join(__dirname, 'mocha-reporter.js'),
    '--timeout', '60000', ...extra, `${dir}/**/*.test.js`], { VDISK_RESULT_FILE: resultFile });
  return readTally(resultFile, code);
}

function readTally(resultFile, code) {
  let t = { passes: 0, failures: 0, pending: 0 };
  if (fs.existsSync(resultFile)) t = JSON.parse(fs.readFileSync(resultFile, 'utf8'));
  fs.rmSync(path.dirname(resultFile), { recursive: true, force: true });
  // a suite that crashed before reporting counts as one failure, never as silence
  if (code !== 0 && t.failures === 0) t.failures = 1;
  return t;
}

function hostSuite(name, script) {
  const resultFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'vdisk-result-')), 'r.json');
  const code = run(process.execPath, [path.join(__dirname, script)], { VDISK_RESULT_FILE: resultFile });
  return readTally(resultFile, code);
}

const t0 = Date.now();
if (run(process.execPath, [path.join(ROOT, 'esbuild.js')]) !== 0 || run(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', ROOT]) !== 0) {
  console.log('0 passed, 1 failed');
  process.exit(1);
}
const totals = { passes: 0, failures: 0, pending: 0 };
for (const s of suites) {
  console.log(`\n=== ${s} ===`);
  let t;
  if (s === 'unit' || s === 'worker') t = mochaSuite(s);
  else if (s === 'vscode') t = hostSuite(s, 'run-vscode-tests.js');
  else if (s === 'ui') t = hostSuite(s, 'run-ui-tests.js');
  else { console.error(`unknown suite ${s}`); t = { passes: 0, failures: 1, pending: 0 }; }
  console.log(`--- ${s}: ${t.passes} passed, ${t.failures} failed, ${t.pending} skipped`);
  totals.passes += t.passes; totals.failures += t.failures; totals.pending += t.pending;
}
console.log(`\nall suites in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
console.log(`${totals.passes} passed, ${totals.failures} failed${totals.pending ? `, ${totals.pending} skipped` : ''}`);
process.exit(totals.failures ? 1 : 0);
