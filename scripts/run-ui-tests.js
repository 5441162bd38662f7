#!/usr/bin/env node
// Runs the Chromium UI flows (out/test/ui/**/*.test.js, plain mocha on this Node) against code-server with the
// host-platform VSIX installed: packages the VSIX, generates a workspace of sample images, runs the flows, and
// checks that no loop device backed by a workspace file is left behind (one left is a failure; it is detached).
//   node scripts/run-ui-tests.js [--grep <re>]     Env: VDISK_RESULT_FILE (tally for scripts/test-all.js), KEEP_TMP=1
'use strict';
const cp = require('child_process');
const fs = require('fs');
const path = require('path');
const lib = require('./code-server-lib');
const { makeSampleImages } = require('./make-sample-images');
const { packageExtension } = require('./package');

const argv = process.argv.slice(2);
const grepIdx = argv.indexOf('--grep');

function testFiles(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { recursive: true }).filter((f) => f.endsWith('.test.js')).sort().map((f) => path.join(dir, f));
}

(async () => {
  const t0 = Date.now();
  let tally = { passes: 0, failures: 1, pending: 0 };
  const tmp = lib.mkTmp('vdisk-ui-tests-');
  const workspace = path.join(tmp, 'sample workspace');   // a space in the path on purpose
  const innerResult = path.join(tmp, 'mocha-result.json');
  try {
    lib.ensureCodeServer();
    const files = testFiles(path.join(lib.ROOT, 'out/test/ui'));
    if (!files.length) throw new Error('no out/test/ui/**/*.test.js: compile the tests (npx tsc -p .)');
    makeSampleImages(workspace);
    const tPack = Date.now();
    const { vsixPath } = await packageExtension({ out: path.join(tmp, 'vdisk.vsix'), quiet: true });
    console.log(`packaged ${path.basename(vsixPath)} in ${Date.now() - tPack} ms`);
    const before = lib.loopsUnder(workspace);
    if (before.length) throw new Error(`loop devices already backed by the fresh workspace: ${before.map((l) => l.name)}`);
    const tRun = Date.now();
    const r = cp.spawnSync(process.execPath, [path.join(lib.ROOT, 'node_modules/mocha/bin/mocha.js'),
      '--reporter', path.join(__dirname, 'mocha-reporter.js'), '--timeout', '180000', '--bail',
      ...(grepIdx >= 0 ? ['--grep', argv[grepIdx + 1]] : []), ...files],
    { stdio: 'inherit', env: { ...process.env, VDISK_RESULT_FILE: innerResult, VDISK_UI_VSIX: vsixPath, VDISK_UI_WORKSPACE: workspace } });
    console.log(`UI flows ran in ${Date.now() - tRun} ms`);
    if (fs.existsSync(innerResult)) {
      const t = JSON.parse(fs.readFileSync(innerResult, 'utf8'));
      tally = { passes: t.passes, failures: t.failures, pending: t.pending };
    }
    if (r.status !== 0 && tally.failures === 0) tally.failures = 1;
  } catch (e) {
    console.error(`run-ui-tests: ${e.stack || e.message}`);
    tally = { passes: tally.passes, failures: Math.max(1, tally.failures), pending: tally.pending };
  } finally {
    const left = lib.detachLoopsUnder(workspace);
    if (left.length) {
      console.error(`FAIL loop devices left behind by the UI run (now detached): ${left.map((l) => `${l.name} -> ${l.backFile}`).join(', ')}`);
      tally.failures++;
    }
    if (!process.env.KEEP_TMP) fs.rmSync(tmp, { recursive: true, force: true });
  }
  if (process.env.VDISK_RESULT_FILE) fs.writeFileSync(process.env.VDISK_RESULT_FILE, JSON.stringify(tally));
  console.log(`UI: ${tally.passes} passed, ${tally.failures} failed, ${tally.pending} pending (${Date.now() - t0} ms)`);
  process.exit(tally.failures ? 1 : 0);
})();
