#!/usr/bin/env node
// `npm run bench [-- name...]`: builds, then runs every compiled benchmark (out/bench/**/*.js) one after another.
'use strict';
const cp = require('child_process');
const fs = require('fs');
const path = require('path');

const ROOT = path.resolve(__dirname, '..');
const only = process.argv.slice(2);
const step = (args) => { const r = cp.spawnSync(process.execPath, args, { cwd: ROOT, stdio: 'inherit' }); if (r.status !== 0) process.exit(r.status ?? 1); };
step([path.join(ROOT, 'esbuild.js')]);
step([path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', ROOT]);
const dir = path.join(ROOT, 'out/bench');
// bench/vscode/*.bench.ts run inside a real VS Code extension host; everything else is a plain node script
const files = fs.readdirSync(dir, { recursive: true }).filter((f) => f.endsWith('.js') && !f.includes('support') && !f.startsWith('vscode'))
  .filter((f) => !only.length || only.some((o) => f.includes(o))).sort();
let failed = 0;
for (const f of files) {
  console.log(`\n## ${f.replace(/\.js$/, '')}`);
  const r = cp.spawnSync(process.execPath, [path.join(dir, f)], { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
if (!only.length || only.some((o) => 'vscode'.includes(o))) {
  console.log('\n## vscode (extension host)');
  const r = cp.spawnSync(process.execPath, [path.join(ROOT, 'scripts/run-vscode-tests.js'), '--tests', path.join(dir, 'vscode')], { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
