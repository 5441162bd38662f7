// Symbolic links on extraction (links-out.ts) and the Rock Ridge view of an ISO (iso-view.ts), without 7-Zip.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { linksUnder, makeLinks, refuseUnknownTargets } from '../../../src/worker/browse/links-out';
import { rockRidgeOverJoliet } from '../../../src/worker/browse/iso-view';
import { newDir, FsNode } from '../../../src/worker/browse/slt';
import type { BlockReader } from '../../../src/formats/block';

function tree(): FsNode {
  const root = newDir('');
  const sub = newDir('sub');
  root.children!.set('sub', sub);
  root.children!.set('out', { name: 'out', type: 'symlink', size: 16, mtime: 0, target: '../../etc/passwd' });
  sub.children!.set('up', { name: 'up', type: 'symlink', size: 8, mtime: 0, target: '../a.txt' });
  return root;
}

describe('browse: symbolic links on extraction', () => {
  it('makes each link with its exact target, never over anything that exists', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vdisk-links-'));
    try {
      const links = linksUnder(tree());
      assert.deepStrictEqual(links.map((l) => [l.names.join('/'), l.target]), [['sub/up', '../a.txt'], ['out', '../../etc/passwd']]);
      const dest = path.join(dir, 'x');
      fs.mkdirSync(path.join(dest, 'sub'), { recursive: true });
      assert.strictEqual(makeLinks(links, dest, new Set()), 2);
      assert.strictEqual(fs.readlinkSync(path.join(dest, 'out')), '../../etc/passwd');
      assert.strictEqual(fs.readlinkSync(path.join(dest, 'sub/up')), '../a.txt');
      assert.throws(() => makeLinks(links.slice(1), dest, new Set()), (e: Error) => /^destination: cannot create symbolic link .*out -> \.\.\/\.\.\/etc\/passwd/.test(e.message));
    } finally { fs.rmSync(dir, { recursive: true, force: true }); }
  });

  it('refuses links whose target is unknown, naming them, before anything is written', () => {
    const root = tree();
    (root.children!.get('sub')!.children!.get('up')!).target = undefined;
    assert.throws(() => refuseUnknownTargets(linksUnder(root), '/dir'), (e: Error & { data?: { reason?: string } }) =>
      e.message.includes('cannot extract 1 symbolic link(s) whose target 7-Zip does not give: /dir/sub/up') && e.data?.reason === 'link-target-unknown');
    refuseUnknownTargets(linksUnder(tree()), '/');
  });
});

describe('browse: ISO 9660 with Rock Ridge and Joliet', () => {
  const iso = (rockRidge: boolean, joliet: boolean): BlockReader => {
    const b = Buffer.alloc(40 * 2048);
    const desc = (n: number, type: number) => { b[n * 2048] = type; b.write('CD001', n * 2048 + 1, 'latin1'); b[n * 2048 + 6] = 1; };
    desc(16, 1); b.writeUInt32LE(20, 16 * 2048 + 156 + 2);
    if (joliet) { desc(17, 2); b.write('%/E', 17 * 2048 + 88, 'latin1'); }
    desc(joliet ? 18 : 17, 255);
    const dot = 20 * 2048; b[dot] = rockRidge ? 48 : 34; b[dot + 32] = 1;
    if (rockRidge) Buffer.from([0x53, 0x50, 7, 1, 0xbe, 0xef, 0]).copy(b, dot + 34);
    return { size: b.length, sectorSize: 2048, read: async (dst, off) => b.copy(dst, 0, off, off + dst.length), close: async () => undefined };
  };
  it('masks the Joliet escape sequence only when the primary volume has Rock Ridge', async () => {
    const v = { offset: 0, size: 40 * 2048 };
    const p = await rockRidgeOverJoliet(iso(true, true), v);
    assert.deepStrictEqual(p.map((x) => [x.at, x.bytes.length]), [[17 * 2048 + 88, 32]]);
    assert.deepStrictEqual(await rockRidgeOverJoliet(iso(false, true), v), []);
    assert.deepStrictEqual(await rockRidgeOverJoliet(iso(true, false), v), []);
  });
});
