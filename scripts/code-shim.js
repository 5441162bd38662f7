#!/usr/bin/env node
// Stand-in for a VS Code executable, for @vscode/test-electron's runTests({ vscodeExecutablePath: <this file> })
// on a machine without desktop VS Code (this one): it takes the arguments runTests passes
// (--extensionDevelopmentPath=, --extensionTestsPath=, a workspace folder from launchArgs, and Electron/profile
// flags it ignores) and runs the suite in code-server through scripts/run-vscode-tests.js. The environment
// (runTests' extensionTestsEnv) passes through to the extension host. Exit code: the host's.
'use strict';
const cp = require('child_process');
const fs = require('fs');
const path = require('path');

const args = process.argv.slice(2);
const val = (k) => { const a = args.find((x) => x.startsWith(`--${k}=`)); return a === undefined ? undefined : a.slice(k.length + 3); };
const ext = val('extensionDevelopmentPath');
const tests = val('extensionTestsPath');
if (!ext || !tests) {
  console.error('code-shim: expected --extensionDevelopmentPath=<dir> and --extensionTestsPath=<path> (as runTests passes them)');
  process.exit(1);
}
const out = ['--ext', ext, '--tests', tests];
const folder = args.find((a) => !a.startsWith('-') && fs.existsSync(a) && fs.statSync(a).isDirectory());
if (folder) out.push('--workspace', folder);
const r = cp.spawnSync(process.execPath, [path.join(__dirname, 'run-vscode-tests.js'), ...out], { stdio: 'inherit' });
process.exit(r.status === null ? 1 : r.status);
