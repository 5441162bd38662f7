// Symbolic links inside images, for the file systems whose 7-Zip listing gives no target (squashfs, HFS+: the link's
// data is its target) and ext4 (the listing gives it): the listing shows the target as stored, reading a link never
// leaves the image, and Extract makes a link with exactly that target (relative, absolute, one leading out of the image).
import * as assert from 'assert';
import * as cp from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as P from '../../src/common/protocol';
import type { WorkerClient } from '../../src/host/worker-client';
import { cli, newClient, tmpDir } from '../support/worker';
import { requireTools } from '../support/browse-images';

const LINKS: [string, string][] = [['abs', '/etc/hostname'], ['dirlink', 'sub'], ['out', '../../etc/passwd'], ['rel', 'a.txt'], ['sub/up', '../a.txt']];

describe('Browse: symbolic links shown, read and extracted as links (squashfs, HFS+, ISO 9660 Rock Ridge, ext4)', function () {
  this.timeout(300_000);
  let dir: string, src: string;
  let client: WorkerClient;
  before(() => {
    dir = tmpDir('vdisk-browse-links-'); fs.chmodSync(dir, 0o755); client = newClient();
    src = path.join(dir, 'src');
    fs.mkdirSync(path.join(src, 'sub'), { recursive: true });
    fs.writeFileSync(path.join(src, 'a.txt'), 'hello\n');
    fs.writeFileSync(path.join(src, 'sub/b.txt'), 'deep\n');
    for (const [p, t] of LINKS) fs.symlinkSync(t, path.join(src, p));
  });
  after(async () => { await client?.stop(); if (dir) fs.rmSync(dir, { recursive: true, force: true }); });

  async function assertLinks(img: string, base: string): Promise<void> {
    const entries = await client.request(P.BrowseList, { image: img, path: base, recursive: true });
    const at = (p: string) => `${base === '/' ? '' : base}/${p}`;
    assert.deepStrictEqual(entries.filter((e) => e.type === 'symlink').map((e) => [e.path, e.target]), LINKS.map(([p, t]) => [at(p), t]));
    const st = await client.request(P.BrowseStat, { image: img, path: at('out') });
    assert.deepStrictEqual([st.type, st.target, st.targetType], ['symlink', '../../etc/passwd', undefined], 'a link out of the image leads nowhere');
    assert.strictEqual((await client.request(P.BrowseStat, { image: img, path: at('dirlink') })).targetType, 'directory');
    for (const p of ['out', 'abs']) {
      await assert.rejects(client.request(P.BrowseRead, { image: img, path: at(p), offset: 0, length: 100 }),
        (e: { code: number; message: string }) => e.code === P.ErrorCode.NotFound && /is a symbolic link to .*, which is not inside .*never followed out of the image$/.test(e.message),
        `${p} is never followed out of the image`);
    }
    const rel = await client.request(P.BrowseRead, { image: img, path: at('sub/up'), offset: 0, length: 100 });
    assert.strictEqual(Buffer.from(rel.data, 'base64').toString(), 'hello\n', 'a link inside the image reads its target');
    // extract: the whole folder, then one link alone
    const tag = `${path.basename(img)}${base.replace(/[^A-Za-z0-9]+/g, '-')}`;
    const out = path.join(dir, `${tag}-out`);
    const x = cli(['extract', img, base, out]);
    assert.strictEqual(x.code, 0, x.stderr);
    for (const [p, t] of LINKS) {
      assert.ok(fs.lstatSync(path.join(out, p)).isSymbolicLink(), `${p} is a link`);
      assert.strictEqual(fs.readlinkSync(path.join(out, p)), t);
    }
    assert.strictEqual(fs.readFileSync(path.join(out, 'sub/b.txt'), 'utf8'), 'deep\n');
    assert.deepStrictEqual(fs.readdirSync(out).sort(), ['a.txt', 'abs', 'dirlink', 'out', 'rel', 'sub'].concat(fs.existsSync(path.join(out, 'lost+found')) ? ['lost+found'] : []).sort());
    const one = path.join(dir, `${tag}-one`);
    const y = cli(['extract', img, at('out'), one]);
    assert.strictEqual(y.code, 0, y.stderr);
    assert.strictEqual(fs.readlinkSync(one), '../../etc/passwd');
  }

  it('squashfs (mksquashfs)', async function () {
    requireTools('mksquashfs');
    const img = path.join(dir, 'links.squashfs');
    cp.execFileSync('mksquashfs', [src, img, '-quiet', '-noappend', '-no-progress']);
    await assertLinks(img, '/');
  });

  it('HFS+ (the HFS+ side of xorriso -hfsplus) and the Rock Ridge side of the same disc', async function () {
    requireTools('xorriso');
    const img = path.join(dir, 'links-hfs.iso');
    cp.execFileSync('xorriso', ['-as', 'mkisofs', '-quiet', '-hfsplus', '-R', '-V', 'LINKS', '-o', img, src], { stdio: 'ignore' });
    const top = await client.request(P.BrowseList, { image: img, path: '/' });
    assert.deepStrictEqual(top.map((e) => e.name), ['0 · ISO 9660', '3 · HFSPLUS_Hybrid (HFS+)']);
    await assertLinks(img, `/${top[1].name}/LINKS`);
    await assertLinks(img, `/${top[0].name}`);
  });

  it('ISO 9660 with Rock Ridge and Joliet (xorriso -R -J): the Rock Ridge tree, with its links, not Joliet\'s', async function () {
    requireTools('xorriso');
    const img = path.join(dir, 'links-rj.iso');
    cp.execFileSync('xorriso', ['-as', 'mkisofs', '-quiet', '-R', '-J', '-V', 'LINKS', '-o', img, src], { stdio: 'ignore' });
    await assertLinks(img, '/');
  });

  it('ext4 (mkfs.ext4 -d): a link out of the image no longer fails the whole extraction', async function () {
    const img = path.join(dir, 'links.ext4');
    fs.writeFileSync(img, ''); fs.truncateSync(img, 8 << 20);
    cp.execFileSync('mkfs.ext4', ['-q', '-d', src, img]);
    await assertLinks(img, '/');
  });
});
