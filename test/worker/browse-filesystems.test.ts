// Browsing the file systems beyond FAT/ext4/ISO, each image made by the file system's own tools and every file
// compared byte for byte with its source folder: NTFS (mkntfs + ntfs-3g, with an alternate data stream), exFAT (vdisk's own reader; mkfs.exfat + exfat-fuse on a loop
// device), alone and in a GPT disk converted to VHDX; squashfs (mksquashfs); UDF (genisoimage -udf); HFS+ (the HFS+
// side of a hybrid disc by xorriso -hfsplus, through its Apple Partition Map). APFS cannot be made here (no tool):
// only its error path is tested.
import * as assert from 'assert';
import * as cp from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as P from '../../src/common/protocol';
import type { WorkerClient } from '../../src/host/worker-client';
import { cli, newClient, tmpDir } from '../support/worker';
import { assertSameFolder, assertSameTree, makeTree, requireTools, browseReader } from '../support/browse-images';
import { exfatSkipReason, gptWithPartition, makeExfatImage } from '../support/exfat-images';


describe('Browse: NTFS, exFAT, squashfs, UDF and HFS+ images, byte for byte', function () {
  this.timeout(300_000);
  let dir: string;
  let client: WorkerClient;
  before(() => { dir = tmpDir('vdisk-browse-fs-'); fs.chmodSync(dir, 0o755); client = newClient(); });
  after(async () => { await client?.stop(); if (dir) fs.rmSync(dir, { recursive: true, force: true }); });

  const read = (image: string) => browseReader(client, image);
  const all = (image: string, p = '/') => client.request(P.BrowseList, { image, path: p, recursive: true });

  describe('exFAT (vdisk reader)', () => {
    let src: string, img: string;
    before(function () {
      const why = exfatSkipReason();
      if (why) { console.log(`    (${why})`); this.skip(); }
      src = path.join(dir, 'exfat-src');
      img = makeExfatImage(dir, src);
    });

    it('a bare exFAT volume: its files at the root, equal to the source (fragmented file, 300-entry folder, unicode)', async () => {
      const entries = await all(img);
      assert.strictEqual(await assertSameTree(src, entries, '/', read(img), []), 311);
      const top = await client.request(P.BrowseList, { image: img, path: '/' });
      assert.ok(top.some((e) => e.name === 'ünïcødé' && e.type === 'directory'));
      const a = entries.find((e) => e.path === '/a.txt')!;
      assert.ok(Math.abs(a.mtime - fs.statSync(path.join(src, 'a.txt')).mtimeMs) < 24 * 3600_000, 'a modification time near the source\'s');
      // a read in the middle of the fragmented file, across a cluster boundary
      const r = await client.request(P.BrowseRead, { image: img, path: '/frag/fragmented.bin', offset: 4000, length: 9000 });
      assert.ok(Buffer.from(r.data, 'base64').equals(fs.readFileSync(path.join(src, 'frag/fragmented.bin')).subarray(4000, 13000)));
    });

    it('a GPT disk holding it, converted to VHDX by qemu-img: CLI ls, cat and extract', () => {
      const raw = gptWithPartition(dir, img);
      const vhdx = raw.replace(/\.img$/, '.vhdx');
      cp.execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'vhdx', raw, vhdx]);
      const ls = cli(['ls', vhdx, '/', '--json']);
      assert.strictEqual(ls.code, 0, ls.stderr);
      // one file system on the disk: its files at the root
      assert.deepStrictEqual((ls.json as P.BrowseEntry[]).map((e) => e.name), fs.readdirSync(src).sort());
      const cat = cp.spawnSync(process.execPath, [path.join(__dirname, '../../../dist/cli.js'), 'cat', vhdx, '/sub/big.bin'], { maxBuffer: 64 << 20 });
      assert.strictEqual(cat.status, 0, String(cat.stderr));
      assert.ok(cat.stdout.equals(fs.readFileSync(path.join(src, 'sub/big.bin'))));
      const out = path.join(dir, 'exfat-out');
      const x = cli(['extract', vhdx, '/', out]);
      assert.strictEqual(x.code, 0, x.stderr);
      assertSameFolder(src, out);
      const again = cli(['extract', vhdx, '/a.txt', path.join(out, 'a.txt')]);
      assert.strictEqual(again.code, 2, 'never replaces a file');
      assert.match(again.stderr, /already exists/);
    });
  });

  it('NTFS (mkntfs + ntfs-3g): every file equal; metafiles and alternate data streams hidden', async function () {
    requireTools('mkntfs', 'ntfs-3g');
    if (process.getuid?.() !== 0 || !fs.existsSync('/dev/fuse')) { console.log('    (skipped: needs root and /dev/fuse to populate NTFS through ntfs-3g)'); this.skip(); }
    const src = makeTree(path.join(dir, 'ntfs-src'), false);
    const img = path.join(dir, 'ntfs.img');
    fs.writeFileSync(img, ''); fs.truncateSync(img, 48 << 20);
    cp.execFileSync('mkntfs', ['-q', '-F', '-f', '-L', 'VDISKNTFS', img], { stdio: 'ignore' });
    const mnt = fs.mkdtempSync(path.join(dir, 'ntfs-mnt-'));
    cp.execFileSync('ntfs-3g', ['-o', 'streams_interface=windows', img, mnt]);
    try {
      cp.execFileSync('cp', ['-r', '--no-preserve=all', ...fs.readdirSync(src).map((n) => path.join(src, n)), mnt]);
      fs.writeFileSync(path.join(mnt, 'a.txt:Zone.Identifier'), '[ZoneTransfer]\nZoneId=3\n');
    } finally { cp.execFileSync('umount', [mnt]); }
    const entries = await all(img);
    assert.strictEqual(await assertSameTree(src, entries, '/', read(img), []), 7);
    assert.ok(!entries.some((e) => e.name.includes(':') || e.name.startsWith('$') || e.name.startsWith('[')), 'no stream or metafile is shown');
  });

  it('squashfs (mksquashfs): every file equal; links shown as links with their targets (each link\'s data: the listing gives none)', async function () {
    requireTools('mksquashfs');
    const src = makeTree(path.join(dir, 'sq-src'), true);
    const img = path.join(dir, 'tree.squashfs');
    cp.execFileSync('mksquashfs', [src, img, '-quiet', '-noappend', '-no-progress']);
    const entries = await all(img);
    assert.strictEqual(await assertSameTree(src, entries, '/', read(img), []), 7);
    assert.deepStrictEqual(entries.filter((e) => e.type === 'symlink').map((e) => [e.path, e.target, e.targetType]),
      [['/abs-link', '/etc/passwd', undefined], ['/dir-link', 'sub/deep', 'directory'], ['/sub/rel-link', '../a.txt', 'file']]);
  });

  it('UDF (genisoimage -udf): every file equal', async function () {
    requireTools('genisoimage');
    const src = makeTree(path.join(dir, 'udf-src'), false);
    const img = path.join(dir, 'udf.iso');
    cp.execFileSync('genisoimage', ['-quiet', '-udf', '-J', '-R', '-V', 'VDISKUDF', '-o', img, src]);
    const top = await client.request(P.BrowseList, { image: img, path: '/' });
    assert.ok(top.length >= 5);
    assert.strictEqual(await assertSameTree(src, await all(img), '/', read(img)), 7);
    const x = cli(['extract', img, '/', path.join(dir, 'udf-out')]);
    assert.strictEqual(x.code, 0, x.stderr);
    assertSameFolder(src, path.join(dir, 'udf-out'));
  });

  it('HFS+ (xorriso -hfsplus hybrid): the ISO 9660 side and the HFS+ partition of its Apple Partition Map, both equal', async function () {
    requireTools('xorriso');
    const src = makeTree(path.join(dir, 'hfs-src'), false);
    const img = path.join(dir, 'hybrid.iso');
    cp.execFileSync('xorriso', ['-as', 'mkisofs', '-quiet', '-hfsplus', '-R', '-J', '-V', 'VDISKHFS', '-o', img, src], { stdio: 'ignore' });
    const top = await client.request(P.BrowseList, { image: img, path: '/' });
    assert.deepStrictEqual(top.map((e) => e.name), ['0 · ISO 9660', '3 · HFSPLUS_Hybrid (HFS+)']);
    assert.strictEqual(await assertSameTree(src, await all(img, `/${top[0].name}`), `/${top[0].name}`, read(img)), 7);
    // 7-Zip shows the HFS+ volume's name as its top folder; HFS+ stores names decomposed (NFD), as macOS shows them
    const hfs = `/${top[1].name}/VDISKHFS`;
    const entries = await all(img, hfs);
    assert.ok(entries.some((e) => e.name === 'ünïcødé'.normalize('NFD')));
    const stored = new Map(entries.map((e) => [e.path.normalize('NFC'), e.path]));
    const nfc = entries.map((e) => ({ ...e, path: e.path.normalize('NFC'), name: e.name.normalize('NFC') }));
    assert.strictEqual(await assertSameTree(src, nfc, hfs, (p) => read(img)(stored.get(p)!)), 7);
  });

  it('APFS: no tool here makes a container, so only the error path: a damaged container is named, and nothing hangs', () => {
    const img = path.join(dir, 'apfs.img');
    const b = Buffer.alloc(4 << 20);
    b.write('NXSB', 32, 'latin1'); b.writeUInt32LE(4096, 36);
    fs.writeFileSync(img, b);
    const r = cli(['ls', img, '/']);
    assert.strictEqual(r.code, 2);
    assert.deepStrictEqual(r.stderr.trim().split('\n'), ['vdisk: apfs.img holds no file system vdisk can browse: the disk (an APFS container): 7-Zip finds no file system it can read']);
  });
});
