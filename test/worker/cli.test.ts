// `node dist/cli.js` end to end on real loop devices.
import * as assert from 'assert';
import * as cp from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { cli, CLI, forceDetachUnder, isRoot, loopsUnder, tmpDir } from '../support/worker';

describe('CLI (real devices)', function () {
  this.timeout(60_000);
  let dir: string;
  before(function () { if (!isRoot) { console.log('    (needs root for loop devices)'); this.skip(); } });
  beforeEach(() => { dir = tmpDir(); });
  afterEach(() => {
    const left = loopsUnder(dir);
    forceDetachUnder(dir);
    fs.rmSync(dir, { recursive: true, force: true });
    assert.deepStrictEqual(left, []);
  });

  it('attach --json prints the disk, list --json shows it, detach removes it (permanent by default)', () => {
    const img = path.join(dir, 'a disk $(x) "q".img'); fs.writeFileSync(img, Buffer.alloc(1 << 20));
    const a = cli(['attach', img, '--read-only', '--json']);
    assert.strictEqual(a.code, 0, a.stderr);
    const disk = a.json as Record<string, unknown>;
    for (const k of ['device', 'image', 'readOnly', 'engine', 'lifetime']) assert.ok(k in disk, k);
    assert.deepStrictEqual([disk.image, disk.readOnly, disk.engine, disk.lifetime], [img, true, 'loop', 'permanent']);
    const l = cli(['list', '--json']);
    assert.strictEqual(l.code, 0, l.stderr);
    assert.ok((l.json as { device: string; image: string }[]).some((d) => d.device === disk.device && d.image === img));
    const text = cli(['list']);
    assert.match(text.stdout, new RegExp(`${disk.device}\\t.*a disk`));
    const d = cli(['detach', String(disk.device), '--json']);
    assert.strictEqual(d.code, 0, d.stderr);
    assert.deepStrictEqual(d.json, { device: disk.device, image: img });
  });

  it('detaches by image path, relative to the current directory', () => {
    const img = path.join(dir, 'rel.img'); fs.writeFileSync(img, Buffer.alloc(1 << 20));
    assert.strictEqual(cli(['attach', img]).code, 0);
    const r = cp.spawnSync(process.execPath, [CLI, 'detach', 'rel.img'], { cwd: dir, encoding: 'utf8' });
    assert.strictEqual(r.status, 0, r.stderr);
    assert.match(r.stdout, /^Detached \/dev\/loop\d+ \(.*rel\.img\)/);
  });

  it('exits 2 with one line for an operation the image refuses', () => {
    const src = path.join(dir, 'src'); fs.mkdirSync(src); fs.writeFileSync(path.join(src, 'f.txt'), 'x');
    const iso = path.join(dir, 'x.iso');
    cp.execFileSync('xorriso', ['-as', 'mkisofs', '-quiet', '-o', iso, src], { stdio: 'ignore' });
    const r = cli(['attach', iso]);
    assert.strictEqual(r.code, 2);
    assert.strictEqual(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /^vdisk: ISO images can only be attached read-only/);
    assert.strictEqual(r.stdout, '');
  });

  it('--wait holds a session attach until Ctrl-C, then the disk goes away', async () => {
    const img = path.join(dir, 'w.img'); fs.writeFileSync(img, Buffer.alloc(1 << 20));
    const p = cp.spawn(process.execPath, [CLI, 'attach', img, '--wait', '--read-only', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    await new Promise<void>((resolve, reject) => {
      p.stderr.on('data', (d: Buffer) => { if (d.toString().includes('press Ctrl-C')) resolve(); });
      p.once('exit', (c) => reject(new Error(`exited ${c} early: ${out}`)));
    });
    const disk = JSON.parse(out);
    assert.strictEqual(disk.lifetime, 'session');
    assert.deepStrictEqual(loopsUnder(dir), [disk.device]);
    p.kill('SIGINT');
    const code = await new Promise((r) => p.once('exit', r));
    assert.strictEqual(code, 0);
    for (let i = 0; i < 50 && loopsUnder(dir).length; i++) await new Promise((r) => setTimeout(r, 20));
    assert.deepStrictEqual(loopsUnder(dir), []);
  });
});
