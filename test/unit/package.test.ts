// scripts/package.js: each platform VSIX carries exactly its own koffi binary, a host bundle without koffi,
// and stays small. Reads the VSIX (a zip) directly, without unzip.
import * as assert from 'assert';
import * as cp from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';

const ROOT = path.resolve(__dirname, '../../..');
const { packageExtension } = require(path.join(ROOT, 'scripts/package.js')) as {
  packageExtension(o: { target: string; out: string; build?: boolean; quiet?: boolean; log?: (m: string) => void }): Promise<{ vsixPath: string; size: number }>;
};

interface ZipEntry { name: string; read(): Buffer }

function readZip(file: string): ZipEntry[] {
  const buf = fs.readFileSync(file);
  let eocd = buf.length - 22;
  while (eocd >= 0 && buf.readUInt32LE(eocd) !== 0x06054b50) eocd--;
  assert.ok(eocd >= 0, `${file} is not a zip (no end-of-central-directory record)`);
  const count = buf.readUInt16LE(eocd + 10);
  let off = buf.readUInt32LE(eocd + 16);
  const entries: ZipEntry[] = [];
  for (let i = 0; i < count; i++) {
    assert.strictEqual(buf.readUInt32LE(off), 0x02014b50, 'bad central directory entry');
    const method = buf.readUInt16LE(off + 10);
    const compSize = buf.readUInt32LE(off + 20);
    const nameLen = buf.readUInt16LE(off + 28);
    const local = buf.readUInt32LE(off + 42);
    const name = buf.toString('utf8', off + 46, off + 46 + nameLen);
    off += 46 + nameLen + buf.readUInt16LE(off + 30) + buf.readUInt16LE(off + 32);
    entries.push({ name, read: () => {
      const start = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
      const data = buf.subarray(start, start + compSize);
      return method === 8 ? zlib.inflateRawSync(data) : Buffer.from(data);
    } });
  }
  return entries;
}

const CASES = [
  { target: 'linux-x64', pkg: 'koffi-linux-x64', node: 'linux_x64/koffi.node' },
  { target: 'win32-x64', pkg: 'koffi-win32-x64', node: 'win32_x64/koffi.node' },
];

describe('scripts/package.js platform VSIX', function () {
  this.timeout(180000);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vdisk-package-test-'));
  const built: Record<string, { vsixPath: string; size: number }> = {};

  before(async () => {
    let first = true;
    for (const c of CASES) {
      built[c.target] = await packageExtension({ target: c.target, out: path.join(tmp, `${c.target}.vsix`), build: first, quiet: true, log: () => {} });
      first = false;
    }
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  for (const c of CASES) {
    describe(c.target, () => {
      it(`carries exactly one koffi binary, ${c.pkg}/${c.node}`, () => {
        const names = readZip(built[c.target].vsixPath).map((e) => e.name);
        const natives = names.filter((n) => n.endsWith('.node'));
        assert.deepStrictEqual(natives, [`extension/node_modules/@koromix/${c.pkg}/${c.node}`]);
        const platformPkgs = new Set(names.filter((n) => n.includes('/@koromix/')).map((n) => n.split('/')[3]));
        assert.deepStrictEqual([...platformPkgs], [c.pkg]);
        for (const f of ['package.json', 'index.cjs', 'src/koffi/index.cjs', 'src/koffi/src/static.cjs']) {
          assert.ok(names.includes(`extension/node_modules/koffi/${f}`), `koffi/${f} missing`);
        }
      });

      it('declares its target platform in the VSIX manifest', () => {
        const manifest = readZip(built[c.target].vsixPath).find((e) => e.name === 'extension.vsixmanifest');
        assert.ok(manifest);
        assert.match(manifest.read().toString('utf8'), new RegExp(`TargetPlatform="${c.target}"`));
      });

      it('has the host bundles (dist/extension.js, dist/core.js) with no trace of koffi', () => {
        for (const f of ['extension.js', 'core.js']) {
          const ext = readZip(built[c.target].vsixPath).find((e) => e.name === `extension/dist/${f}`);
          assert.ok(ext, `dist/${f} missing`);
          assert.ok(!ext.read().toString('utf8').includes('koffi'), `dist/${f} mentions koffi`);
        }
      });

      it('ships every bundle the build makes (the worker\'s entry dist/worker.js loads dist/worker-main.js)', () => {
        const names = readZip(built[c.target].vsixPath).map((e) => e.name);
        const bundles = fs.readdirSync(path.join(ROOT, 'dist')).filter((f) => f.endsWith('.js'));
        for (const f of ['worker.js', 'worker-main.js', 'extension.js', 'core.js']) assert.ok(bundles.includes(f), `the build made no dist/${f}`);
        for (const f of bundles) assert.ok(names.includes(`extension/dist/${f}`), `dist/${f} missing from the VSIX`);
      });

      it('ships 7-Zip\'s WebAssembly next to the bundles, with its licence in the third-party notices', () => {
        const entries = readZip(built[c.target].vsixPath);
        const names = entries.map((e) => e.name);
        for (const f of ['dist/7zz.wasm', 'dist/sevenzip-thread.js', 'ThirdPartyNotices.txt']) assert.ok(names.includes(`extension/${f}`), `${f} missing`);
        const notices = entries.find((e) => e.name === 'extension/ThirdPartyNotices.txt')!.read().toString('utf8');
        assert.match(notices, /GNU LGPL \+ unRAR restriction/);
        assert.match(notices, /7z-wasm/);
      });

      it('is smaller than 2 MB', () => {
        assert.ok(built[c.target].size < 2 * 1024 * 1024, `${built[c.target].size} bytes`);
      });
    });
  }

  it('ships a koffi that loads and calls libc from the unpacked linux-x64 VSIX', function () {
    if (process.platform !== 'linux' || process.arch !== 'x64') { console.log(`    (skipped: loading the linux-x64 koffi needs a linux-x64 host, this is ${process.platform}-${process.arch})`); this.skip(); }
    const dir = path.join(tmp, 'unpacked');
    for (const e of readZip(built['linux-x64'].vsixPath)) {
      if (!e.name.startsWith('extension/node_modules/')) continue;
      fs.mkdirSync(path.dirname(path.join(dir, e.name)), { recursive: true });
      fs.writeFileSync(path.join(dir, e.name), e.read());
    }
    const out = cp.execFileSync(process.execPath, ['-e',
      "const k = require('koffi'); process.stdout.write(String(k.load('libc.so.6').func('int getpid()')() === process.pid))"],
    { cwd: path.join(dir, 'extension'), encoding: 'utf8' });
    assert.strictEqual(out, 'true');
  });
});
