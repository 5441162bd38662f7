import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { inspectImage, detectFormat } from '../../../src/formats';
import { sharedImage } from '../../support/shared-images';
import { codes, tempDir, run, which } from './helpers';

/** The label and type blkid (util-linux, an independent prober) sees, or null when blkid is absent. */
function blkid(file: string): { LABEL?: string; BLOCK_SIZE?: string } | null {
  if (!which('blkid')) return null;
  const value = (tag: string) => run('blkid', ['-p', '-o', 'value', '-s', tag, file]).replace(/\n$/, '') || undefined;
  return { LABEL: value('LABEL'), BLOCK_SIZE: value('BLOCK_SIZE') };
}

const ISO_SHARED = [
  'iso/dfvfs-genisoimage-level3.iso.gz', 'iso/discutils-handedited-rr.iso.gz', 'iso/utillinux-iso.img.gz',
  'iso/utillinux-iso-joliet.img.gz', 'iso/utillinux-iso-rr-joliet.img.gz', 'iso/utillinux-iso-different-iso-joliet-label.img.gz',
  'iso/utillinux-iso-unicode-long-label.img.gz', 'iso/utillinux-iso-multi-0-174-348-genisoimage.img.gz',
];
const UDF_SHARED = [
  'udf/utillinux-udf.img.gz', 'udf/utillinux-udf-bdr-2.60-nero.img.gz', 'udf/utillinux-udf-cd-mkudfiso-20100208.img.gz',
  'udf/utillinux-udf-cd-nero-6.img.gz', 'udf/utillinux-udf-hdd-mkudffs-1.3-4.img.xz', 'udf/utillinux-udf-hdd-mkudffs-1.3-8.img.xz',
  'udf/utillinux-udf-hdd-mkudffs-2.2.img.xz', 'udf/utillinux-udf-hdd-udfclient-0.7.7.img.xz',
  'udf/utillinux-udf-multi-0-320-640-mkudffs.img.gz', 'udf/utillinux-udf-multi-0-417-834-genisoimage.img.gz',
];

describe('formats: ISO 9660 and UDF', function () {
  const dir = tempDir(this);

  it('dfvfs level-3 ISO: 179 blocks, label CDROM, plain byte range', async function () {
    const p = sharedImage(this, 'iso/dfvfs-genisoimage-level3.iso.gz');
    const i = await inspectImage(p);
    assert.strictEqual(i.format, 'iso');
    assert.strictEqual(i.details!.blocks, 179);
    assert.strictEqual(i.details!.label, 'CDROM');
    assert.strictEqual(i.details!.dataOffset, 0);
    assert.strictEqual(i.details!.dataSize, i.fileSize);
    assert.deepStrictEqual(i.problems, []);
  });

  for (const rel of ISO_SHARED) {
    it(`${rel}: ISO with the label blkid reports`, async function () {
      const p = sharedImage(this, rel);
      const i = await inspectImage(p);
      assert.strictEqual(i.format, 'iso');
      const b = blkid(p);
      if (b) assert.strictEqual(i.details!.label, b.LABEL ?? null);
      assert.strictEqual(i.virtualSize, i.fileSize);
    });
  }

  it('notices Joliet with its own label', async function () {
    const i = await inspectImage(sharedImage(this, 'iso/utillinux-iso-different-iso-joliet-label.img.gz'));
    assert.strictEqual(i.details!.joliet, true);
    assert.strictEqual(i.details!.isoLabel, 'ISO_LABEL');
    assert.strictEqual(i.details!.jolietLabel, 'Joliet Label');
  });

  for (const rel of UDF_SHARED) {
    it(`${rel}: UDF with blkid's label and block size`, async function () {
      const p = sharedImage(this, rel);
      const i = await inspectImage(p);
      assert.strictEqual(i.format, 'udf');
      const b = blkid(p);
      if (b) {
        assert.strictEqual(i.details!.label, b.LABEL ?? null);
        assert.strictEqual(String(i.blockSize), b.BLOCK_SIZE);
      }
    });
  }

  it('xorriso ISO with El Torito and Joliet', async function () {
    const src = path.join(dir(), 'tree');
    fs.mkdirSync(src, { recursive: true });
    fs.writeFileSync(path.join(src, 'boot.img'), Buffer.alloc(2048 * 4, 0x90));
    fs.writeFileSync(path.join(src, 'readme.txt'), 'hello');
    const iso = path.join(dir(), 'boot.iso');
    run('xorriso', ['-as', 'mkisofs', '-quiet', '-J', '-V', 'VDISK_BOOT', '-b', 'boot.img', '-no-emul-boot', '-o', iso, src]);
    const i = await inspectImage(iso);
    assert.strictEqual(i.format, 'iso');
    assert.strictEqual(i.details!.elTorito, true);
    assert.strictEqual(i.details!.joliet, true);
    assert.strictEqual(i.details!.isoLabel, 'VDISK_BOOT');
    assert.strictEqual((i.details!.blocks as number) * 2048, i.fileSize);
    assert.deepStrictEqual(i.problems, []);
  });

  it('genisoimage ISO without El Torito', async function () {
    const src = path.join(dir(), 'tree2');
    fs.mkdirSync(src, { recursive: true });
    fs.writeFileSync(path.join(src, 'a.txt'), 'a');
    const iso = path.join(dir(), 'plain.iso');
    run('genisoimage', ['-quiet', '-V', 'PLAIN', '-o', iso, src]);
    const i = await inspectImage(iso);
    assert.strictEqual(i.details!.elTorito, false);
    assert.strictEqual(i.details!.label, 'PLAIN');
  });

  for (const bs of [512, 1024, 2048, 4096]) {
    it(`mkudffs with ${bs}-byte blocks`, async function () {
      const p = path.join(dir(), `udf-${bs}.img`);
      fs.writeFileSync(p, '');
      fs.truncateSync(p, 8 * 1024 * 1024);
      run('mkudffs', [`--blocksize=${bs}`, '--media-type=hd', `--label=L${bs}`, p]);
      assert.strictEqual(await detectFormat(p), 'udf');
      const i = await inspectImage(p);
      assert.strictEqual(i.blockSize, bs);
      assert.strictEqual(i.details!.label, `L${bs}`);
      assert.strictEqual(i.details!.blocks, (8 * 1024 * 1024) / bs);
      assert.deepStrictEqual(i.problems, []);
    });
  }

  it('applies the Windows rules: size not a multiple of 2048, too small, no volume descriptor', async function () {
    const src = path.join(dir(), 'tree3');
    fs.mkdirSync(src, { recursive: true });
    const iso = path.join(dir(), 'odd.iso');
    run('xorriso', ['-as', 'mkisofs', '-quiet', '-o', iso, src]);
    fs.appendFileSync(iso, Buffer.alloc(100));
    assert.ok(codes(await inspectImage(iso)).includes('iso-size-not-multiple-of-2048'));

    const small = path.join(dir(), 'small.iso');
    fs.writeFileSync(small, Buffer.concat([Buffer.alloc(32768), Buffer.from('\x01CD001\x01'), Buffer.alloc(1024)]));
    const s = await inspectImage(small);
    assert.strictEqual(s.format, 'iso');
    assert.ok(codes(s).includes('iso-too-small'));

    // CD001 present but only a terminator: no primary descriptor
    const term = path.join(dir(), 'term.iso');
    fs.writeFileSync(term, Buffer.concat([Buffer.alloc(32768), Buffer.from('\xffCD001\x01', 'latin1'), Buffer.alloc(2048 * 10 - 7)]));
    const t = await inspectImage(term);
    assert.strictEqual(t.format, 'iso');
    assert.ok(codes(t).includes('iso-no-volume-descriptor'));

    // content decides the format: a .iso file with no ISO content is raw, and told why Windows would refuse it
    const fake = path.join(dir(), 'fake.iso');
    fs.writeFileSync(fake, Buffer.alloc(40960, 0x41));
    const f = await inspectImage(fake);
    assert.strictEqual(f.format, 'raw');
    assert.ok(codes(f).includes('iso-no-volume-descriptor'));
  });
});
