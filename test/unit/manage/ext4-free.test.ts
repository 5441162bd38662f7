// The ext4 reader of compact against dumpe2fs: for 1 KiB and 4 KiB blocks, every block it marks free is one
// dumpe2fs lists free in an initialised group, and the reverse (BLOCK_UNINIT groups count as used, never a guess).
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { ext4Free } from '../../../src/formats/manage/ext4-free';
import { isUsed, FreeMap } from '../../../src/formats/manage/free-map';
import { run, tempDir } from '../formats/helpers';

describe('manage: ext4 free blocks (compact)', function () {
  this.timeout(60_000);
  const dir = tempDir(this, 'vdisk-ext4-free-');

  for (const bs of [1024, 4096]) {
    it(`${bs}-byte blocks: exactly the free blocks dumpe2fs lists in initialised groups`, async function () {
      const img = path.join(dir(), `fs-${bs}.img`);
      fs.writeFileSync(img, '');
      fs.truncateSync(img, 160 << 20);
      run('mkfs.ext4', ['-q', '-F', '-b', String(bs), img]);
      const src = path.join(dir(), 'data');
      fs.writeFileSync(src, Buffer.alloc(9 << 20, 0x41));
      for (const n of ['a', 'b', 'c']) run('debugfs', ['-w', '-R', `write ${src} ${n}`, img]);
      run('debugfs', ['-w', '-R', 'rm b', img]);
      const expected = new Set<number>();
      for (const g of run('dumpe2fs', [img]).split(/^(?=Group \d+:)/m).slice(1)) {
        if (/BLOCK_UNINIT/.test(g.split('\n')[0])) continue;
        const list = /^\s+Free blocks: (.*)$/m.exec(g)![1].trim();
        for (const r of list ? list.split(', ') : []) {
          const [a, b = a] = r.split('-').map(Number);
          for (let x = a; x <= b; x++) expected.add(x);
        }
      }
      const fd = fs.openSync(img, 'r');
      const read = async (off: number, len: number) => { const b = Buffer.alloc(len); fs.readSync(fd, b, 0, len, off); return b; };
      const m = (await ext4Free(read, 0, fs.fstatSync(fd).size)) as FreeMap;
      fs.closeSync(fd);
      assert.ok(m && !('refused' in m), JSON.stringify(m));
      assert.strictEqual(m.unit, bs);
      const got = [...Array(m.units).keys()].filter((u) => !isUsed(m, u));
      assert.strictEqual(got.length, expected.size);
      assert.ok(got.every((u) => expected.has(u)), 'every block marked free is free per dumpe2fs');
      assert.strictEqual(m.freeBytes, expected.size * bs);
      assert.ok(expected.size * bs > 9 << 20, 'the deleted file\'s blocks are among them');
    });
  }
});
