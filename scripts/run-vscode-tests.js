#!/usr/bin/env node
// Runs the extension-host suite (out/test/vscode/index.js, mocha inside the host) in a real VS Code: code-server
// on 127.0.0.1:0 with isolated dirs and the smoke-test driver, opened in headless Chromium with a URL payload
// carrying extensionDevelopmentPath + extensionTestsPath (what VS Code's own remote integration tests do).
// The workspace is a temp folder of generated sample images (scripts/make-sample-images.js) unless --workspace.
//   node scripts/run-vscode-tests.js [--ext <dir>] [--tests <dir|index.js>] [--workspace <dir>] [--timeout ms] [--verbose]
// Env: VDISK_RESULT_FILE (tally JSON for scripts/test-all.js), VDISK_TEST_GREP (mocha grep), KEEP_TMP=1.
// Exit code: the extension host's (0 only when every test passed).
'use strict';
const fs = require('fs');
const path = require('path');
const util = require('util');
const lib = require('./code-server-lib');
const { makeSampleImages } = require('./make-sample-images');

const argv = process.argv.slice(2);
const opt = (n, d) => { const i = argv.indexOf(`--${n}`); return i >= 0 ? argv[i + 1] : d; };
const extDir = path.resolve(opt('ext', lib.ROOT));
const testsPath = path.resolve(opt('tests', path.join(lib.ROOT, 'out/test/vscode')));
const wsSrc = opt('workspace');
const timeoutMs = Number(opt('timeout', 300000));
const verbose = argv.includes('--verbose');
// workbench housekeeping that codeAutomationLog forwards; the marketplace is unreachable offline
const NOISE = /ENOTFOUND|EAI_AGAIN|open-vsx|marketplace|^\s+at .*workbench\.js|Creating a socket|connection token|reconnection-grace-time|Service Worker|AgentHost|AccountPolicyGate|Updating additional builtin|authentication provider|\[Extension Host\] \(node:\d+\) \[DEP/;

function writeTally(t) {
  if (process.env.VDISK_RESULT_FILE) fs.writeFileSync(process.env.VDISK_RESULT_FILE, JSON.stringify(t));
}

async function runInHost(ws, resultFile) {
  const server = await lib.startCodeServer({ folder: ws, env: { VDISK_HOST_RESULT_FILE: resultFile },
    log: verbose ? (s) => process.stderr.write(`[server] ${s}`) : undefined });
  const tServer = Date.now();
  let browser;
  try {
    browser = await lib.launchChromium();
    const page = browser.pages()[0] || await browser.newPage();
    let finish;
    const done = new Promise((resolve) => { finish = resolve; });
    await page.exposeFunction('codeAutomationExit', (code) => finish(Number(code)));
    await page.exposeFunction('codeAutomationLog', (type, args) => {
      const line = util.format(...(Array.isArray(args) ? args : [args]));
      if (verbose || !NOISE.test(line)) console.log(line);
    });
    if (verbose) page.on('console', (m) => console.log('[browser]', m.text()));
    page.on('pageerror', (e) => console.error('[page error]', e.message));
    // a multi-root workspace, as a user who opens volumes beside their project has: the web workbench cannot turn a
    // single-folder window into one without a reload, which would end the test run
    const wsFile = `${ws}.code-workspace`;
    fs.writeFileSync(wsFile, JSON.stringify({ folders: [{ path: ws }] }));
    await page.goto(lib.workbenchUrl(server, wsFile, { extensionDevelopmentPath: extDir, extensionTestsPath: testsPath, skipWelcome: 'true' }));
    let timer;
    const timedOut = new Promise((r) => { timer = setTimeout(() => r('timeout'), timeoutMs); });
    const code = await Promise.race([done, timedOut]);
    clearTimeout(timer);
    if (code === 'timeout') {
      const shot = path.join(lib.mkTmp('vdisk-timeout-'), 'workbench.png');
      await page.screenshot({ path: shot }).catch(() => {});
      console.error(`no result from the extension host after ${timeoutMs} ms; workbench screenshot: ${shot}`);
      if (!verbose) console.error(server.output().split('\n').slice(-30).join('\n'));
      return { code: 1, tServer };
    }
    return { code, tServer };
  } finally {
    if (browser) await browser.close();
    await server.stop();
  }
}

(async () => {
  const t0 = Date.now();
  let tally = { passes: 0, failures: 1, pending: 0 };
  let exitCode = 1;
  const tmp = lib.mkTmp('vdisk-vscode-tests-');
  const ws = path.join(tmp, 'workspace');
  const resultFile = path.join(tmp, 'host-result.json');
  try {
    lib.ensureCodeServer();
    const tSetup = Date.now();
    for (const f of [path.join(extDir, 'package.json'), fs.statSync(testsPath, { throwIfNoEntry: false })?.isDirectory() ? path.join(testsPath, 'index.js') : testsPath]) {
      if (!fs.existsSync(f)) throw new Error(`missing ${f}: build first (node esbuild.js && npx tsc -p .)`);
    }
    if (wsSrc) fs.cpSync(path.resolve(wsSrc), ws, { recursive: true });
    else makeSampleImages(ws);
    const { code, tServer } = await runInHost(ws, resultFile);
    exitCode = code;
    if (fs.existsSync(resultFile)) {
      const r = JSON.parse(fs.readFileSync(resultFile, 'utf8'));
      tally = { passes: r.passes, failures: r.failures, pending: r.pending };
      for (const f of r.failed) console.error(`FAIL ${f.title}\n${f.error}\n`);
      // run through scripts/code-shim.js: the caller (run-electron) asked for the host's result file too
      if (process.env.VDISK_HOST_RESULT_FILE) fs.copyFileSync(resultFile, process.env.VDISK_HOST_RESULT_FILE);
    } else {
      console.error('the extension host wrote no result file (tests never ran: activation or loading failed?)');
      tally = { passes: 0, failures: 1, pending: 0 };
    }
    if (exitCode === 0 && (tally.failures > 0 || !fs.existsSync(resultFile))) exitCode = 1;
    if (exitCode !== 0 && tally.failures === 0) tally.failures = 1;   // a host that failed is never a pass
    console.log(`setup check ${tSetup - t0} ms, code-server listening after ${tServer - tSetup} ms, total ${Date.now() - t0} ms, extension host exit code ${exitCode}`);
  } catch (e) {
    console.error(`run-vscode-tests: ${e.stack || e.message}`);
    exitCode = 1;
  } finally {
    const left = lib.detachLoopsUnder(ws);   // the extension host is gone: nothing of the workspace may stay attached
    if (left.length) {
      console.error(`FAIL loop devices left behind (now detached): ${left.map((l) => `${l.name} -> ${l.backFile}`).join(', ')}`);
      tally.failures++;
      exitCode = 1;
    }
    if (!process.env.KEEP_TMP) fs.rmSync(tmp, { recursive: true, force: true });
  }
  writeTally(tally);
  console.log(`extension host: ${tally.passes} passed, ${tally.failures} failed, ${tally.pending} pending`);
  process.exit(exitCode);
})();
