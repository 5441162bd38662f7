#!/usr/bin/env node
// Builds a platform-specific VSIX: `node scripts/package.js [--target <vsce target>] [--out <file.vsix>] [--quiet]`.
// The VSIX carries dist/ (production bundles), the manifest, media, syntaxes, docs, and a node_modules holding
// only koffi's runtime files plus the ONE @koromix/koffi-<platform> package of the target, with only that
// target's koffi.node. Without --target it packages for this machine's platform. --quiet hides vsce's file tree.
'use strict';
const cp = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const zlib = require('zlib');

const ROOT = path.resolve(__dirname, '..');

// vsce target -> koffi platform package and the one folder of it to keep (koffi.node lives there)
const TARGETS = {
  'linux-x64': { pkg: 'linux-x64', dir: 'linux_x64' },
  'linux-arm64': { pkg: 'linux-arm64', dir: 'linux_arm64' },
  'alpine-x64': { pkg: 'linux-x64', dir: 'musl_x64' },
  'alpine-arm64': { pkg: 'linux-arm64', dir: 'musl_arm64' },
  'win32-x64': { pkg: 'win32-x64', dir: 'win32_x64' },
  'win32-arm64': { pkg: 'win32-arm64', dir: 'win32_arm64' },
  'darwin-x64': { pkg: 'darwin-x64', dir: 'darwin_x64' },
  'darwin-arm64': { pkg: 'darwin-arm64', dir: 'darwin_arm64' },
};
// What `require('koffi')` loads: index.cjs -> src/koffi/index.cjs -> src/koffi/src/static.cjs, which requires
// @koromix/koffi-<platform> (its index.js picks <triplet>/koffi.node). Nothing else of koffi is read at run time.
const KOFFI_RUNTIME = ['package.json', 'index.cjs', 'src/koffi/index.cjs', 'src/koffi/src/static.cjs', 'LICENSE.txt'];

function hostTarget() {
  const arch = process.arch;
  if (process.platform === 'linux') {
    const musl = !(process.report && process.report.getReport().header.glibcVersionRuntime);
    return `${musl ? 'alpine' : 'linux'}-${arch}`;
  }
  return `${process.platform}-${arch}`;
}

function copy(rel, stage, { from = ROOT, filter } = {}) {
  const src = path.join(from, rel);
  if (!fs.existsSync(src)) return false;
  fs.cpSync(src, path.join(stage, rel), { recursive: true, filter });
  return true;
}

function npmCommand() {   // npm's JS entry run by this node: no shell, works where npm is a .cmd
  const candidates = [process.env.npm_execpath,
    path.resolve(path.dirname(process.execPath), '../lib/node_modules/npm/bin/npm-cli.js'),
    path.resolve(path.dirname(process.execPath), 'node_modules/npm/bin/npm-cli.js')];
  const js = candidates.find((c) => c && /npm-cli\.js$/.test(c) && fs.existsSync(c));
  if (js) return [process.execPath, [js]];
  if (process.platform === 'win32') throw new Error('cannot find npm-cli.js next to node to fetch koffi packages');
  return ['npm', []];
}

// Minimal reader for npm's .tgz (ustar); yields { name, data } for regular files.
function* untgz(file) {
  const buf = zlib.gunzipSync(fs.readFileSync(file));
  let off = 0;
  let longName = null;
  while (off + 512 <= buf.length) {
    const h = buf.subarray(off, off + 512);
    if (h.every((b) => b === 0)) break;
    const str = (a, n) => h.subarray(a, a + n).toString('utf8').replace(/\0.*$/s, '');
    const size = parseInt(str(124, 12).trim() || '0', 8);
    const type = String.fromCharCode(h[156] || 48);
    const prefix = str(345, 155);
    let name = longName || (prefix ? `${prefix}/${str(0, 100)}` : str(0, 100));
    longName = null;
    const data = buf.subarray(off + 512, off + 512 + size);
    off += 512 + Math.ceil(size / 512) * 512;
    if (type === 'x') {   // pax header: may carry a long path for the next entry
      const m = /\d+ path=([^\n]*)\n/.exec(data.toString('utf8'));
      if (m) longName = m[1];
    } else if (type === '0' || type === '\0') yield { name, data };
  }
}

// The @koromix/koffi-<pkg> folder for `version`: the installed one when it is this machine's, else `npm pack`ed
// into a cache (node_modules/.cache/vdisk-koffi) and extracted.
function koffiPlatformDir(pkg, version, log) {
  const installed = path.join(ROOT, 'node_modules/@koromix', `koffi-${pkg}`);
  if (fs.existsSync(path.join(installed, 'package.json'))
      && JSON.parse(fs.readFileSync(path.join(installed, 'package.json'), 'utf8')).version === version) return installed;
  const cache = path.join(ROOT, 'node_modules/.cache/vdisk-koffi');
  const dir = path.join(cache, `koffi-${pkg}-${version}`);
  if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
  fs.mkdirSync(cache, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(cache, 'pack-'));
  try {
    log(`fetching @koromix/koffi-${pkg}@${version} with npm pack`);
    const [cmd, pre] = npmCommand();
    const out = cp.execFileSync(cmd, [...pre, 'pack', `@koromix/koffi-${pkg}@${version}`, '--json', '--pack-destination', tmp, '--loglevel=error'],
      { cwd: tmp, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    const tgz = path.join(tmp, JSON.parse(out)[0].filename);
    const unpacked = path.join(tmp, 'unpacked');
    for (const { name, data } of untgz(tgz)) {
      const rel = name.replace(/^package\//, '');
      if (rel.includes('..')) throw new Error(`unsafe path ${name} in ${tgz}`);
      fs.mkdirSync(path.dirname(path.join(unpacked, rel)), { recursive: true });
      fs.writeFileSync(path.join(unpacked, rel), data);
    }
    fs.renameSync(unpacked, dir);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return dir;
}

function stageKoffi(stage, target, log) {
  const spec = TARGETS[target];
  const koffiSrc = path.join(ROOT, 'node_modules/koffi');
  const koffiPkg = JSON.parse(fs.readFileSync(path.join(koffiSrc, 'package.json'), 'utf8'));
  const dest = path.join(stage, 'node_modules/koffi');
  for (const f of KOFFI_RUNTIME) {
    if (!fs.existsSync(path.join(koffiSrc, f))) { if (f === 'LICENSE.txt') continue; throw new Error(`koffi ${koffiPkg.version} has no ${f}: check what require('koffi') loads`); }
    fs.mkdirSync(path.dirname(path.join(dest, f)), { recursive: true });
    fs.copyFileSync(path.join(koffiSrc, f), path.join(dest, f));
  }
  // only the target's platform package stays declared, so `npm list` (run by vsce) sees a complete tree
  const platName = `@koromix/koffi-${spec.pkg}`;
  const trimmed = { ...koffiPkg, optionalDependencies: { [platName]: koffiPkg.version } };
  delete trimmed.scripts;   // the install script builds from source; nothing runs at install time of a VSIX
  fs.writeFileSync(path.join(dest, 'package.json'), JSON.stringify(trimmed, null, 2));

  const platSrc = koffiPlatformDir(spec.pkg, koffiPkg.version, log);
  const platDest = path.join(stage, 'node_modules', platName);
  for (const f of ['package.json', 'index.js']) copy(f, platDest, { from: platSrc });
  if (!copy(spec.dir, platDest, { from: platSrc, filter: (s) => fs.statSync(s).isDirectory() || s.endsWith('.node') })) {
    throw new Error(`${platName}@${koffiPkg.version} has no ${spec.dir}/ folder for target ${target}`);
  }
  return koffiPkg.version;
}

function stageManifest(stage) {
  const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  // runtime dependencies are bundled into dist/ except koffi; dev tooling does not belong in the VSIX manifest
  manifest.dependencies = { koffi: manifest.dependencies.koffi };
  delete manifest.devDependencies;
  if (manifest.scripts) delete manifest.scripts['vscode:prepublish'];   // we build before staging
  fs.writeFileSync(path.join(stage, 'package.json'), JSON.stringify(manifest, null, 2));
  return manifest;
}

// vsce prints its file tree through console.*; tests ask for quiet (errors still throw)
async function withConsoleMuted(fn) {
  const saved = { log: console.log, info: console.info, warn: console.warn };
  console.log = console.info = console.warn = () => {};
  try { return await fn(); } finally { Object.assign(console, saved); }
}

async function packageExtension({ target = hostTarget(), out, build = true, quiet = false, log = (m) => console.log(m) } = {}) {
  if (!TARGETS[target]) throw new Error(`unknown target "${target}"; one of: ${Object.keys(TARGETS).join(', ')}`);
  if (build) cp.execFileSync(process.execPath, [path.join(ROOT, 'esbuild.js'), '--production'], { cwd: ROOT, stdio: ['ignore', quiet ? 'ignore' : 'inherit', 'inherit'] });
  const stage = fs.mkdtempSync(path.join(os.tmpdir(), `vdisk-stage-${target}-`));
  try {
    const manifest = stageManifest(stage);
    copy('dist', stage, { filter: (s) => !s.endsWith('.map') });
    for (const f of ['media', 'syntaxes', 'README.md', 'CHANGELOG.md', 'LICENSE', 'LICENSE.md', 'LICENSE.txt', 'ThirdPartyNotices.txt']) copy(f, stage);
    if (!fs.existsSync(path.join(stage, 'dist/extension.js'))) throw new Error('dist/extension.js missing after the build');
    const koffiVersion = stageKoffi(stage, target, log);
    // the stage holds exactly what ships; this only tells vsce so (and silences its warning)
    fs.writeFileSync(path.join(stage, '.vscodeignore'), '# staged by scripts/package.js\n');
    const hasLicense = ['LICENSE', 'LICENSE.md', 'LICENSE.txt'].some((f) => fs.existsSync(path.join(stage, f)));
    if (!hasLicense) log('warning: no LICENSE file in the repo; packaging without one');
    const vsixPath = path.resolve(out || path.join(ROOT, `${manifest.name}-${manifest.version}-${target}.vsix`));
    fs.mkdirSync(path.dirname(vsixPath), { recursive: true });
    const { createVSIX } = require('@vscode/vsce');
    // dependencies: 'npm' mode (vsce runs `npm list --production` in the stage): with dependencies:false vsce
    // skips every node_modules folder, koffi included; the staged tree holds only what we put there
    const opts = { cwd: stage, packagePath: vsixPath, target, dependencies: true, useYarn: false,
      skipLicense: !hasLicense, allowMissingRepository: true };
    if (quiet) await withConsoleMuted(() => createVSIX(opts));
    else await createVSIX(opts);
    const size = fs.statSync(vsixPath).size;
    log(`${path.relative(process.cwd(), vsixPath) || vsixPath}: ${(size / 1024).toFixed(1)} KiB (${target}, koffi ${koffiVersion})`);
    return { vsixPath, size, target };
  } finally {
    if (!process.env.KEEP_TMP) fs.rmSync(stage, { recursive: true, force: true });
  }
}

module.exports = { packageExtension, hostTarget, TARGETS };

if (require.main === module) {
  const argv = process.argv.slice(2);
  const opt = (n) => { const i = argv.indexOf(`--${n}`); return i >= 0 ? argv[i + 1] : undefined; };
  if (argv.includes('--target') && !opt('target')) { console.error(`usage: package.js [--target <${Object.keys(TARGETS).join('|')}>] [--out <file>] [--quiet]`); process.exit(1); }
  packageExtension({ target: opt('target') || hostTarget(), out: opt('out'), quiet: argv.includes('--quiet') })
    .catch((e) => { console.error(`package: ${e.message}`); process.exit(1); });
}
