// File-system-aware compact of NTFS: a GPT disk whose NTFS volume (mkntfs, populated through ntfs-3g's FUSE mount)
// holds a deleted 40 MiB file. After compact the image holds exactly the blocks ntfs-3g's own $Bitmap says are not
// free (or not zero), ntfsfix -n is clean, every file reads back identical, qemu-img check is clean. A dirty volume,
// an unclean $LogFile and a hibernated Windows are refused and the image is left byte-identical. The Windows-made
// NTFS images in ../shared/images are compacted as copies and read the same in every allocated cluster.
import * as assert from 'assert';
import * as cp from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { compactImage } from '../../src/formats/manage/compact';
import { cli } from '../support/worker';
import { run, tempDir } from '../unit/formats/helpers';
import { sharedImage } from '../support/shared-images';
import { expectedReleasable, extract, gptDiskWith, patch, rawOf, sameAllocatedClusters, volumeFlagsOffset, withNtfsMount } from '../support/ntfs';

const MiB = 2 ** 20;
const QF = { vhd: 'vpc', vhdx: 'vhdx' } as const;

describe('manage: compact of NTFS (ntfs-3g)', function () {
  this.timeout(120_000);
  const dir = tempDir(this, 'vdisk-compact-ntfs-');
  const at = (n: string) => path.join(dir(), n);
  const files: Record<string, Buffer> = {
    'keep.bin': crypto.randomBytes(300 * 1024), 'sub/small.txt': Buffer.from('hello ntfs\n'), 'sub/mid.bin': crypto.randomBytes(3 * MiB + 123),
  };
  let disk = '', part = { start: 0, size: 0 };

  before(function () {
    const p = at('part.img');
    fs.writeFileSync(p, '');
    fs.truncateSync(p, 88 * MiB);
    run('mkntfs', ['-q', '-F', '-Q', '-s', '512', '-p', String(MiB / 512), '-H', '0', '-S', '0', p]);
    withNtfsMount(p, (mnt) => {
      fs.writeFileSync(path.join(mnt, 'big.bin'), crypto.randomBytes(40 * MiB));
      fs.mkdirSync(path.join(mnt, 'sub'));
      for (const [n, data] of Object.entries(files)) fs.writeFileSync(path.join(mnt, n), data);
      fs.rmSync(path.join(mnt, 'big.bin')); // 40 MiB of random bytes left in clusters NTFS now marks free
    });
    run('ntfsfix', ['-n', p]);
    disk = at('disk.raw');
    part = gptDiskWith(p, disk, 96 * MiB);
  });

  function image(fmt: 'vhd' | 'vhdx', name: string, src = disk): string {
    const out = at(`${name}.${fmt}`);
    run('qemu-img', ['convert', '-f', 'raw', '-O', QF[fmt], '-o', fmt === 'vhdx' ? 'block_size=1M' : 'subformat=dynamic', src, out]);
    return out;
  }

  /** Blocks holding data per qemu-img map (the vpc driver reports them; its vhdx driver reports everything as data). */
  function vhdDataBlocks(img: string, blockSize: number): number[] {
    const map = JSON.parse(run('qemu-img', ['map', '--output=json', '-f', 'vpc', img])) as { start: number; length: number; data: boolean }[];
    const out: number[] = [];
    for (const m of map) if (m.data) for (let b = m.start; b < m.start + m.length; b += blockSize) out.push(Math.floor(b / blockSize));
    return out;
  }

  for (const fmt of ['vhdx', 'vhd'] as const) {
    it(`${fmt}: releases every block ntfs-3g's $Bitmap marks free; ntfsfix -n clean, files identical, qemu-img check clean`, async function () {
      const img = image(fmt, `c-${fmt}`);
      const blockSize = fmt === 'vhdx' ? MiB : 2 * MiB;
      const rawBefore = rawOf(img, fmt, dir(), '-before');
      const partBefore = extract(rawBefore, part.start, part.size, at(`before-${fmt}.part`));
      const size = fs.statSync(rawBefore).size, free = expectedReleasable(rawBefore, part.start, partBefore, blockSize);
      const want = [...Array(Math.ceil(size / blockSize)).keys()].filter((b) => !free.has(b));
      const r = await compactImage(img);
      assert.deepStrictEqual(r.fileSystems.map((f) => [f.type, f.offset]), [['ntfs', part.start]]);
      assert.ok(r.before - r.after >= 40 * MiB - 2 * blockSize, `${r.before} -> ${r.after}: the deleted 40 MiB are reclaimed (but for the two blocks at its ends)`);
      assert.strictEqual(r.dataBytes, want.reduce((n, b) => n + Math.min(blockSize, size - b * blockSize), 0), 'exactly the blocks with in-use clusters or other data are kept');
      if (fmt === 'vhd') assert.deepStrictEqual(vhdDataBlocks(img, blockSize), want, 'qemu-img maps data exactly where NTFS has some');
      if (fmt === 'vhdx') assert.match(run('qemu-img', ['check', img]), /No errors were found/);
      const raw = rawOf(img, fmt, dir());
      const p = extract(raw, part.start, part.size, at(`after-${fmt}.part`));
      run('ntfsfix', ['-n', p]);
      assert.ok(sameAllocatedClusters(rawBefore, raw, part.start, partBefore) > 0);
      for (const [n, data] of Object.entries(files)) assert.ok(cp.execFileSync('ntfscat', [p, n], { maxBuffer: 64 * MiB }).equals(data), `${n} reads back identical`);
      withNtfsMount(p, (mnt) => assert.ok(fs.readFileSync(path.join(mnt, 'sub/mid.bin')).equals(files['sub/mid.bin'])));
      for (const f of [raw, rawBefore, p, partBefore]) fs.rmSync(f);
    });
  }

  it('an NTFS volume written on the whole disk (no partition table; its boot sector looks like an empty MBR)', async function () {
    const img = image('vhdx', 'whole', at('part.img'));
    const r = await compactImage(img);
    assert.deepStrictEqual(r.fileSystems.map((f) => [f.type, f.offset]), [['ntfs', 0]]);
    assert.ok(r.before - r.after >= 38 * MiB, `${r.before} -> ${r.after}`);
    const raw = rawOf(img, 'vhdx', dir());
    run('ntfsfix', ['-n', raw]);
    for (const [n, data] of Object.entries(files)) assert.ok(cp.execFileSync('ntfscat', [raw, n], { maxBuffer: 64 * MiB }).equals(data), n);
    fs.rmSync(raw);
  });

  it('refuses a dirty NTFS volume (chkdsk / ntfsfix -d) and leaves the image byte-identical; --zero-only still works', async function () {
    const dirtyRaw = at('dirty.raw');
    fs.copyFileSync(disk, dirtyRaw);
    for (const off of volumeFlagsOffset(at('part.img'))) { // $MFT and $MFTMirr, as Windows sets it
      const flags = part.start + off, b = fs.readFileSync(dirtyRaw).subarray(flags, flags + 2);
      patch(dirtyRaw, flags, Buffer.from([b[0] | 1, b[1]]));
    }
    const p = extract(dirtyRaw, part.start, part.size, at('dirty.part'));
    assert.match(cp.spawnSync('ntfsinfo', ['-m', p], { encoding: 'utf8' }).stderr, /Volume is scheduled for check/, 'ntfs-3g sees the volume dirty');
    const img = image('vhdx', 'dirty', dirtyRaw);
    const before = fs.readFileSync(img);
    await assert.rejects(compactImage(img), /marked dirty.*chkdsk \/f.*ntfsfix -d/);
    assert.ok(fs.readFileSync(img).equals(before), 'a refusal changes nothing');
    const c = cli(['compact', img, '--json']);
    assert.notStrictEqual(c.code, 0);
    assert.match(c.stderr, /marked dirty/);
    assert.ok(fs.readFileSync(img).equals(before));
    const z = cli(['compact', img, '--zero-only', '--json']);
    assert.strictEqual(z.code, 0, z.stderr);
  });

  it('refuses a volume Windows hibernated (hiberfil.sys starting "hibr"), not one whose hiberfil.sys is zeroed', async function () {
    for (const [magic, refused] of [['hibr', true], ['\0\0\0\0', false]] as const) {
      const p = at(`hib-${refused}.part`);
      fs.copyFileSync(at('part.img'), p);
      withNtfsMount(p, (mnt) => fs.writeFileSync(path.join(mnt, 'hiberfil.sys'), Buffer.concat([Buffer.from(magic, 'latin1'), Buffer.alloc(8188, 1)])));
      const raw = at(`hib-${refused}.raw`);
      gptDiskWith(p, raw, 96 * MiB);
      const img = image('vhdx', `hib-${refused}`, raw);
      const before = fs.readFileSync(img);
      if (refused) {
        await assert.rejects(compactImage(img), /hibernated/);
        assert.ok(fs.readFileSync(img).equals(before));
      } else {
        assert.ok((await compactImage(img)).after < before.length);
      }
    }
  });

  describe('Windows-made NTFS images in ../shared/images, compacted as copies', function () {
    it('a $LogFile whose restart area is not clean (Fast Startup, a crash) is refused; the copy is left byte-identical', async function () {
      const raw = rawOf(sharedImage(this, 'vhdx/dissect-win10-dynamic.vhdx.gz', true), 'vhdx', dir(), '-log');
      const bytes = fs.readFileSync(raw);
      let pages = 0;
      for (let o = 0; o + 4096 <= bytes.length; o += 4096) {
        if (bytes.toString('latin1', o, o + 4) !== 'RSTR') continue;
        const ra = o + bytes.readUInt16LE(o + 24);
        assert.deepStrictEqual([bytes.readUInt16LE(ra + 12), bytes.readUInt16LE(ra + 14) & 2], [0, 2], 'Windows left client 0 in use and the volume clean');
        patch(raw, ra + 14, Buffer.from([bytes[ra + 14] & ~2, bytes[ra + 15]])); // RESTART_VOLUME_IS_CLEAN off
        pages++;
      }
      assert.strictEqual(pages, 2, 'both restart pages found');
      const img = image('vhdx', 'unclean-log', raw);
      const before = fs.readFileSync(img);
      await assert.rejects(compactImage(img), /did not close the NTFS volume cleanly.*\$LogFile/);
      assert.ok(fs.readFileSync(img).equals(before));
    });

    for (const [rel, fmt] of [['vhd/dissect-win10-dynamic.vhd.gz', 'vhd'], ['vhdx/dissect-win10-dynamic.vhdx.gz', 'vhdx']] as const) {
      it(`${rel}: the copy (and a 1 MiB-block copy) reads the same in every allocated cluster; ntfsfix -n clean`, async function () {
        const orig = sharedImage(this, rel, true); // a fresh copy in a temp folder: the original is never touched
        const origRaw = rawOf(orig, fmt, dir());
        const start = Number(/start=\s*(\d+)/.exec(run('sfdisk', ['-d', origRaw]))![1]) * 512;
        const size = Number(/size=\s*(\d+)/.exec(run('sfdisk', ['-d', origRaw]))![1]) * 512;
        const origPart = extract(origRaw, start, size, at(`orig-${fmt}.part`));
        const small = at(`small-${fmt}.vhdx`);
        run('qemu-img', ['convert', '-f', QF[fmt], '-O', 'vhdx', '-o', 'block_size=1M', orig, small]);
        for (const [img, f] of [[orig, fmt], [small, 'vhdx']] as const) {
          const r = await compactImage(img);
          assert.deepStrictEqual(r.fileSystems.map((x) => x.type), ['ntfs']);
          console.log(`      ${path.basename(img)}: ${r.before} -> ${r.after} bytes, ${r.freedByFileSystem} block(s) NTFS marks free released`);
          const raw = rawOf(img, f, dir());
          assert.ok(sameAllocatedClusters(origRaw, raw, start, origPart) > 0);
          run('ntfsfix', ['-n', extract(raw, start, size, at(`after-${path.basename(img)}.part`))]);
          if (f === 'vhdx') assert.match(run('qemu-img', ['check', img]), /No errors were found/);
        }
      });
    }
  });
});
