// The worker's V8 code cache (src/worker/code-cache.ts): used when valid, and never a reason for a start to fail.
import * as assert from 'assert';
import * as cp from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { cacheFileFor, runWithCodeCache } from '../../src/worker/code-cache';

const ROOT = path.resolve(__dirname, '../../..');

describe('worker code cache', () => {
  let dir: string;
  let bundle: string;
  const BODY = 'exports.ran = (exports.ran || 0) + 1; module.exports.file = __filename; module.exports.dir = __dirname; module.exports.req = typeof require("path").join;\n'
    + 'function unused(a) { return a * 2; }\n';
  const run = (cacheDir: string | undefined) => runWithCodeCache(bundle, cacheDir, module);
  const cacheFiles = (d: string) => (fs.existsSync(d) ? fs.readdirSync(d).filter((f) => f.endsWith('.v8cache')) : []);

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vdisk-cc-'));
    bundle = path.join(dir, 'body.js');
    fs.writeFileSync(bundle, BODY);
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('runs the bundle as CommonJS (its own __filename, __dirname, require) with no cache folder', () => {
    const r = run(undefined);
    assert.strictEqual(r.outcome, 'off');
    assert.deepStrictEqual(r.exports, { ran: 1, file: bundle, dir, req: 'function' });
    r.save();
    assert.deepStrictEqual(fs.readdirSync(dir), ['body.js']);
  });

  it('a missing cache is made on save (folder created, private) and used by the next start', () => {
    const cache = path.join(dir, 'storage', 'code-cache');
    const first = run(cache);
    assert.strictEqual(first.outcome, 'miss');
    first.save();
    const files = cacheFiles(cache);
    assert.deepStrictEqual(files, [path.basename(cacheFileFor(cache, BODY))]);
    if (process.platform !== 'win32') assert.strictEqual(fs.statSync(path.join(cache, files[0])).mode & 0o777, 0o600);
    assert.strictEqual(run(cache).outcome, 'hit');
  });

  it('a corrupt cache is rejected by V8, the bundle still runs, and save replaces the file', () => {
    const cache = path.join(dir, 'cc');
    fs.mkdirSync(cache, { mode: 0o700 });
    const file = cacheFileFor(cache, BODY);
    fs.writeFileSync(file, Buffer.alloc(4096, 0x5a), { mode: 0o600 });
    const r = run(cache);
    assert.strictEqual(r.outcome, 'rejected');
    r.save();
    assert.notDeepStrictEqual(fs.readFileSync(file), Buffer.alloc(4096, 0x5a));
    assert.strictEqual(run(cache).outcome, 'hit');
  });

  it('a changed bundle gets its own cache and the old one is removed', () => {
    const cache = path.join(dir, 'cc');
    const a = run(cache); a.save();
    const old = cacheFiles(cache);
    fs.writeFileSync(bundle, `${BODY}exports.more = 1;\n`);
    const b = run(cache);
    assert.strictEqual(b.outcome, 'miss');
    b.save();
    const now = cacheFiles(cache);
    assert.strictEqual(now.length, 1);
    assert.notStrictEqual(now[0], old[0]);
  });

  it('an unwritable cache folder only means no cache: the bundle runs and save does not throw', () => {
    const blocker = path.join(dir, 'not-a-folder');
    fs.writeFileSync(blocker, 'x');
    const r = run(path.join(blocker, 'cc'));
    assert.strictEqual(r.outcome, 'miss');
    r.save();
    assert.deepStrictEqual(fs.readdirSync(dir).sort(), ['body.js', 'not-a-folder']);
  });

  it('a cache file others can write is not handed to V8', function () {
    if (process.platform === 'win32') { console.log('    (skipped: POSIX modes; on Windows the cache folder is the user\'s own profile)'); this.skip(); }
    const cache = path.join(dir, 'cc');
    const r = run(cache); r.save();
    const file = cacheFileFor(cache, BODY);
    fs.chmodSync(file, 0o666);
    assert.strictEqual(run(cache).outcome, 'unsafe');
  });

  it('dist/worker.js (the entry) starts the worker with a missing, corrupt or unwritable cache', async function () {
    this.timeout(60_000);
    const entry = path.join(ROOT, 'dist', 'worker.js');
    if (!fs.existsSync(path.join(ROOT, 'dist', 'worker-main.js'))) assert.fail('dist/worker-main.js is not built (node esbuild.js)');
    const body = fs.readFileSync(path.join(ROOT, 'dist', 'worker-main.js'), 'utf8');
    const corrupt = path.join(dir, 'corrupt');
    fs.mkdirSync(corrupt, { mode: 0o700 });
    fs.writeFileSync(cacheFileFor(corrupt, body), Buffer.alloc(1000, 1), { mode: 0o600 });
    const blocker = path.join(dir, 'file');
    fs.writeFileSync(blocker, '');
    for (const cacheDir of [path.join(dir, 'missing'), corrupt, path.join(blocker, 'cc')]) {
      // one request over stdio (Content-Length framing); the answer read, end of input stops the worker
      const w = cp.spawn(process.execPath, [entry, '--stdio'], { env: { ...process.env, VDISK_CODE_CACHE: cacheDir }, stdio: ['pipe', 'pipe', 'pipe'] });
      let out = ''; let err = '';
      w.stderr.on('data', (d: Buffer) => { err += d; });
      const answered = new Promise<void>((resolve, reject) => {
        w.stdout.on('data', (d: Buffer) => { out += d; if (/"id":1,/.test(out)) resolve(); });
        w.once('exit', (code) => reject(new Error(`${cacheDir}: the worker exited (${code}) without answering: ${err}`)));
      });
      const msg = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'vdisk/sleep', params: { ms: 0 } });
      w.stdin.write(`Content-Length: ${Buffer.byteLength(msg)}\r\n\r\n${msg}`);
      await answered;
      assert.match(out, /"id":1,"result":\{"slept":\d+,"cancelled":false\}/, `${cacheDir}: ${err}`);
      const exited = new Promise((resolve) => w.once('exit', resolve));
      w.stdin.end();
      await exited;
    }
  });
});
