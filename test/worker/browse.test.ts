// Browsing images without attaching: every file of generated images compared byte for byte with its source folder,
// through the real worker (vdisk/browse/*) and the CLI (ls, cat, extract), as root and as `nobody`.
import * as assert from 'assert';
import * as cp from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import { CancellationTokenSource } from 'vscode-jsonrpc';
import * as P from '../../src/common/protocol';
import type { WorkerClient } from '../../src/host/worker-client';
import { cli, CLI, newClient, tmpDir } from '../support/worker';
import { SHARED_IMAGES } from '../support/shared-images';
import { assertSameFolder, assertSameTree, convert, makeGptDisk, makeIso, makeTree, requireTools, browseReader } from '../support/browse-images';

const FAT = '1 · VDISKFAT (FAT)';
const EXT = '2 · vdiskext (ext)';

describe('Browse: files inside images (7-Zip in WebAssembly, no attach)', function () {
  this.timeout(300_000);
  let dir: string, fatSrc: string, extSrc: string, raw: string;
  let client: WorkerClient;

  before(function () {
    requireTools('mkfs.vfat', 'mcopy', 'mkfs.ext4', 'sfdisk', 'xorriso', 'qemu-img', '7z');
    dir = tmpDir('vdisk-browse-');
    fs.chmodSync(dir, 0o755);
    fatSrc = makeTree(path.join(dir, 'fat-src'), false, true);
    extSrc = makeTree(path.join(dir, 'ext-src'), true);
    raw = makeGptDisk(dir, fatSrc, extSrc);
    client = newClient();
  });
  after(async () => { await client?.stop(); if (dir) fs.rmSync(dir, { recursive: true, force: true }); });

  const reader = (image: string) => browseReader(client, image);

  async function assertDisk(image: string): Promise<void> {
    const top = await client.request(P.BrowseList, { image, path: '/' });
    assert.deepStrictEqual(top.map((e) => [e.name, e.type]), [[FAT, 'directory'], [EXT, 'directory']]);
    const all = await client.request(P.BrowseList, { image, path: '/', recursive: true });
    const read = reader(image);
    assert.ok(await assertSameTree(fatSrc, all.filter((e) => e.path.startsWith(`/${FAT}/`)), `/${FAT}`, read) >= 6);
    assert.ok(await assertSameTree(extSrc, all.filter((e) => e.path.startsWith(`/${EXT}/`)), `/${EXT}`, read) >= 6);
  }

  it('reads a raw GPT disk: one folder per volume, every file equal to its source (FAT and ext4, links as links)', async () => {
    await assertDisk(raw);
    const link = await client.request(P.BrowseStat, { image: raw, path: `/${EXT}/sub/rel-link` });
    assert.deepStrictEqual([link.type, link.target, link.targetType], ['symlink', '../a.txt', 'file']);
    const abs = await client.request(P.BrowseStat, { image: raw, path: `/${EXT}/abs-link` });
    assert.deepStrictEqual([abs.type, abs.target, abs.targetType], ['symlink', '/etc/passwd', undefined], 'a link out of the volume resolves to nothing');
    await assert.rejects(client.request(P.BrowseRead, { image: raw, path: `/${EXT}/abs-link`, offset: 0, length: 10 }), (e: { code: number }) => e.code === P.ErrorCode.NotFound);
    const viaDirLink = await client.request(P.BrowseList, { image: raw, path: `/${EXT}/dir-link` });
    assert.deepStrictEqual(viaDirLink.map((e) => e.name), ['d.txt']);
  });

  it('answers from single-folder listings before the full listing, the same as from the full listing', async () => {
    const fresh = newClient();
    try {
      for (const p of [`/${EXT}/sub/deep`, `/${EXT}/dir-link`, `/${EXT}/sub`, '/', `/${EXT}`, `/${FAT}/ユニコード`]) {
        const early = await fresh.request(P.BrowseList, { image: raw, path: p });
        assert.deepStrictEqual(early, await client.request(P.BrowseList, { image: raw, path: p }), p);
      }
      assert.deepStrictEqual(await fresh.request(P.BrowseStat, { image: raw, path: `/${EXT}/sub/rel-link` }),
        await client.request(P.BrowseStat, { image: raw, path: `/${EXT}/sub/rel-link` }));
    } finally { await fresh.stop(); }
  });

  for (const ext of ['vhd', 'vhdx', 'qcow2', 'vmdk', 'vdi']) {
    it(`reads the same disk converted to ${ext.toUpperCase()} by qemu-img, through the block layer`, async () => {
      const img = convert(raw, ext);
      try { await assertDisk(img); } finally { fs.rmSync(img, { force: true }); }
    });
  }

  it('reads an ISO made by xorriso with Joliet and Rock Ridge: a single file system at the root', async () => {
    const src = makeTree(path.join(dir, 'iso-src'), false);
    const iso = makeIso(dir, src);
    const all = await client.request(P.BrowseList, { image: iso, path: '/', recursive: true });
    assert.ok(await assertSameTree(src, all, '/', reader(iso)) >= 6);
  });

  it('reads a differencing VHD through its parent, as native 7-Zip does', async function () {
    const shared = path.join(SHARED_IMAGES, 'vhd');
    const child = path.join(shared, 'dfvfs-edited-image-differential.vhd.gz');
    if (!fs.existsSync(child)) { console.log(`    (${shared} is absent)`); this.skip(); }
    const chain = path.join(dir, 'chain'); fs.mkdirSync(chain);
    fs.writeFileSync(path.join(chain, 'image.vhd'), zlib.gunzipSync(fs.readFileSync(path.join(shared, 'dfvfs-edited-image-parent.vhd.gz'))));
    const img = path.join(chain, 'child.vhd');
    fs.writeFileSync(img, zlib.gunzipSync(fs.readFileSync(child)));
    const peer = path.join(dir, 'chain-7z');
    cp.spawnSync('7z', ['x', '-y', `-o${peer}`, img], { encoding: 'utf8' });
    fs.rmSync(path.join(peer, 'lost+found'), { recursive: true, force: true });
    const all = await client.request(P.BrowseList, { image: img, path: '/', recursive: true });
    assert.ok(await assertSameTree(peer, all, '/', reader(img)) >= 3);
  });

  it('CLI: ls --json, cat and extract; a folder with links comes out equal to its source', () => {
    const ls = cli(['ls', raw, `/${EXT}/sub`, '--json']);
    assert.strictEqual(ls.code, 0, ls.stderr);
    const names = (ls.json as { name: string; type: string; path: string }[]).map((e) => `${e.type}:${e.path}`);
    assert.deepStrictEqual(names, ['file:/2 · vdiskext (ext)/sub/big.bin', 'directory:/2 · vdiskext (ext)/sub/deep', 'file:/2 · vdiskext (ext)/sub/mid.bin', 'symlink:/2 · vdiskext (ext)/sub/rel-link']);
    for (const e of ls.json as Record<string, unknown>[]) assert.deepStrictEqual(Object.keys(e).filter((k) => k !== 'target'), ['path', 'name', 'type', 'size', 'mtime']);
    const cat = cp.spawnSync(process.execPath, [CLI, 'cat', raw, `/${FAT}/sub/big.bin`], { maxBuffer: 64 << 20 });
    assert.strictEqual(cat.status, 0, cat.stderr.toString());
    assert.ok(cat.stdout.equals(fs.readFileSync(path.join(fatSrc, 'sub/big.bin'))));
    const out = path.join(dir, 'out'); fs.mkdirSync(out);
    const x = cli(['extract', raw, `/${EXT}/sub`, out]);
    assert.strictEqual(x.code, 0, x.stderr);
    assertSameFolder(path.join(extSrc, 'sub'), path.join(out, 'sub'));
    const again = cli(['extract', raw, `/${EXT}/sub`, out]);
    assert.strictEqual(again.code, 2);
    assert.match(again.stderr, /^vdisk: .*already exists: vdisk never replaces files/);
    assertSameFolder(path.join(extSrc, 'sub'), path.join(out, 'sub'));
  });

  it('CLI: a path not in the image, a file that is no disk: exit 2 and one line saying what is wrong', () => {
    const r = cli(['cat', raw, `/${EXT}/nope.txt`]);
    assert.strictEqual(r.code, 2);
    assert.deepStrictEqual(r.stderr.trim().split('\n'), [`vdisk: /${EXT}/nope.txt is not in disk.img`]);
    const junk = path.join(dir, 'junk.img'); fs.writeFileSync(junk, Buffer.alloc(4 << 20, 0x5a));
    const j = cli(['ls', junk]);
    assert.strictEqual(j.code, 2);
    assert.match(j.stderr, /^vdisk: junk\.img holds no file system vdisk can browse: the disk: 7-Zip finds no file system it can read\n$/);
    assert.strictEqual(cli(['ls']).code, 1);
  });

  it('damaged volumes: the readable one is shown, the error names the volume; nothing hangs', () => {
    const bad = path.join(dir, 'bad.img');
    fs.copyFileSync(raw, bad);
    const fd = fs.openSync(bad, 'r+');
    fs.writeSync(fd, Buffer.alloc(64 * 1024), 0, 64 * 1024, (2048 + 32768) * 512);   // the ext4 superblock area
    fs.closeSync(fd);
    const r = cli(['ls', bad, '--json']);
    assert.strictEqual(r.code, 0, r.stderr);
    assert.deepStrictEqual((r.json as { name: string }[]).map((e) => e.name).sort(), fs.readdirSync(fatSrc).sort(), 'the FAT volume alone, at the root');
  });

  it('extract is cancellable mid-way and leaves nothing behind', async () => {
    // A worker whose extraction, once it has reported progress, reads nothing more until it sees the cancel: the
    // cancel certainly lands while files are half-written, however fast or slow the machine (no timing involved).
    const held = newClient({ env: { VDISK_TEST_HOLD_EXTRACT: '1' } });
    try {
      const dest = path.join(dir, 'cancelled');
      const cts = new CancellationTokenSource();
      const seen: number[] = [];
      held.on('browseProgress', (p) => { if (p.progressId === 'c1') { seen.push(p.bytes); cts.cancel(); } });
      const pending = held.request(P.BrowseExtract, { image: raw, path: `/${EXT}`, dest, progressId: 'c1' }, cts.token);
      await assert.rejects(pending, (e: { code: number; message: string }) => {
        assert.strictEqual(e.code, P.ErrorCode.Cancelled, `not cancelled: ${e.message}`);
        return true;
      }, 'the extraction finished although it was cancelled');
      assert.ok(seen.length >= 1 && seen[0] > 0 && seen[0] < 9 * 1024 * 1024, `cancelled after ${seen.join(', ')} bytes`);
      assert.strictEqual(fs.existsSync(dest), false, 'the half-written destination was removed');
    } finally { await held.stop(); }
  });

  it('works for an unprivileged user who can read the image (nobody)', function () {
    if (process.getuid?.() !== 0 || cp.spawnSync('runuser', ['--help']).status !== 0) { console.log('    (needs root and runuser to switch to nobody)'); this.skip(); }
    const pub = tmpDir('vdisk-browse-nobody-'); fs.chmodSync(pub, 0o777);
    try {
      const img = path.join(pub, 'disk.img'); fs.copyFileSync(raw, img); fs.chmodSync(img, 0o644);
      const as = (args: string[]) => cp.spawnSync('runuser', ['-u', 'nobody', '--', process.execPath, CLI, ...args], { cwd: pub, maxBuffer: 64 << 20 });
      const ls = as(['ls', img, '/', '--recursive', '--json']);
      assert.strictEqual(ls.status, 0, ls.stderr.toString());
      assert.ok((JSON.parse(ls.stdout.toString()) as { path: string }[]).some((e) => e.path === `/${EXT}/sub/deep/d.txt`));
      const cat = as(['cat', img, `/${EXT}/sub/big.bin`]);
      assert.strictEqual(cat.status, 0, cat.stderr.toString());
      assert.ok(cat.stdout.equals(fs.readFileSync(path.join(extSrc, 'sub/big.bin'))));
      const x = as(['extract', img, `/${FAT}`, path.join(pub, 'fat')]);
      assert.strictEqual(x.status, 0, x.stderr.toString());
      assertSameFolder(fatSrc, path.join(pub, 'fat'));
      assert.strictEqual(fs.statSync(path.join(pub, 'fat', 'a.txt')).uid, fs.statSync('/proc/self').uid === 0 ? uidOf('nobody') : -1);
      fs.chmodSync(img, 0o600);
      const denied = as(['ls', img]);
      assert.strictEqual(denied.status, 2);
      assert.match(denied.stderr.toString(), /^vdisk: block layer: .*(no read permission|permission denied)/i);
    } finally { fs.rmSync(pub, { recursive: true, force: true }); }
  });
});

function uidOf(user: string): number { return Number(cp.execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim()); }
