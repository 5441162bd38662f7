// Compact: zero blocks and blocks a clean ext4 marks free are released; e2fsck -fn clean after, every remaining file
// intact, qemu-img and libvhdi read back the same file system; a dirty file system is refused; identity is kept.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { compactImage } from '../../../src/formats/manage/compact';
import { createImage } from '../../../src/formats/manage/create';
import { createDifferencingDisk, inspectImage } from '../../../src/formats';
import { cli } from '../../support/worker';
import { run, tempDir, vhdiInfo, withVhdimount, readAt } from '../formats/helpers';

const MiB = 2 ** 20;
const QF = { vhd: 'vpc', vhdx: 'vhdx' } as const;

describe('manage: compact', function () {
  const dir = tempDir(this, 'vdisk-compact-');
  const at = (n: string) => path.join(dir(), n);
  let fsImg = '';
  const keep = () => at('keep.bin');

  before(function () {
    fsImg = at('fs.img');
    fs.writeFileSync(fsImg, '');
    fs.truncateSync(fsImg, 64 * MiB);
    run('mkfs.ext4', ['-q', '-F', fsImg]);
    fs.writeFileSync(at('big.bin'), Buffer.alloc(20 * MiB, 0x5a));
    fs.writeFileSync(keep(), Buffer.from(Array.from({ length: 300 * 1024 }, (_, i) => (i * 7) & 0xff)));
    for (const [src, name] of [[at('big.bin'), 'big'], [keep(), 'keep']]) run('debugfs', ['-w', '-R', `write ${src} ${name}`, fsImg]);
    run('debugfs', ['-w', '-R', 'rm big', fsImg]); // 20 MiB of data left in blocks ext4 now marks free
  });

  function checkFs(image: string, fmt: 'vhd' | 'vhdx'): void {
    const raw = at(`check-${fmt}.raw`);
    run('qemu-img', ['convert', '-f', QF[fmt], '-O', 'raw', image, raw]);
    run('e2fsck', ['-fn', raw]); // exits non-zero on any error
    run('debugfs', ['-R', `dump keep ${raw}.keep`, raw]);
    assert.ok(fs.readFileSync(`${raw}.keep`).equals(fs.readFileSync(keep())), 'the remaining file reads back intact');
    fs.rmSync(raw); fs.rmSync(`${raw}.keep`);
  }

  for (const fmt of ['vhdx', 'vhd'] as const) {
    it(`${fmt}: releases the blocks ext4 marks free; e2fsck -fn is clean, files intact, identity kept`, async function () {
      const image = at(`d.${fmt}`);
      run('qemu-img', ['convert', '-f', 'raw', '-O', QF[fmt], ...(fmt === 'vhdx' ? ['-o', 'block_size=1M'] : []), fsImg, image]);
      const child = at(`d-child.${fmt === 'vhd' ? 'vhd' : 'avhdx'}`);
      await createDifferencingDisk(image, child);
      const id = (await inspectImage(image)).id;
      const media = vhdiInfo(image).mediaSize;
      const r = await compactImage(image);
      assert.ok(r.after < r.before - 10 * MiB, `${r.before} -> ${r.after}: most of the deleted file's 20 MiB are reclaimed (whole blocks only)`);
      assert.ok(r.freedByFileSystem > 0);
      assert.strictEqual(r.fileSystems[0].type, 'ext4');
      checkFs(image, fmt);
      const i = await inspectImage(image);
      assert.deepStrictEqual(i.problems, []);
      assert.strictEqual(i.id, id, 'children still match it');
      assert.deepStrictEqual((await inspectImage(child)).problems, []);
      if (fmt === 'vhdx') assert.match(run('qemu-img', ['check', image]), /No errors were found/);
      await withVhdimount(image, (raw) => assert.strictEqual(readAt(raw, 1024 + 56, 2).readUInt16LE(0), 0xef53));
      assert.strictEqual(vhdiInfo(image).mediaSize, media);
    });
  }

  it('releases blocks of zeros with --zero-only, and refuses an ext4 that needs recovery', async function () {
    const image = at('z.vhdx');
    await createImage({ path: image, format: 'vhdx', type: 'dynamic', size: 32 * MiB, blockSize: MiB });
    run('qemu-io', ['-f', 'vhdx', '-c', 'write -P 0 0 8M', '-c', 'write -P 0x61 8M 1M', image]);
    const r = await compactImage(image, { zeroOnly: true });
    assert.strictEqual(r.dataBytes, MiB);
    assert.ok(r.after < r.before);
    const dirty = at('dirty.img');
    fs.copyFileSync(fsImg, dirty);
    const sb = readAt(dirty, 1024, 1024);
    sb.writeUInt32LE(sb.readUInt32LE(0x60) | 0x4, 0x60); // needs_recovery, as after a crash while mounted
    const fd = fs.openSync(dirty, 'r+'); fs.writeSync(fd, sb, 0, 1024, 1024); fs.closeSync(fd);
    const dv = at('dirty.vhdx');
    run('qemu-img', ['convert', '-f', 'raw', '-O', 'vhdx', dirty, dv]);
    const before = fs.readFileSync(dv);
    await assert.rejects(compactImage(dv), /journal needs recovery/);
    assert.ok(fs.readFileSync(dv).equals(before), 'a refusal changes nothing');
    const c = cli(['compact', dv, '--zero-only', '--json']);
    assert.strictEqual(c.code, 0, c.stderr);
  });

  it('refuses what it cannot compact: fixed and differencing disks', async function () {
    const fixed = at('f.vhd');
    await createImage({ path: fixed, format: 'vhd', type: 'fixed', size: 8 * MiB });
    await assert.rejects(compactImage(fixed), /only dynamic VHD and VHDX/);
  });
});
