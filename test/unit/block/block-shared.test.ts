// Proof of the block layer on the real third-party images in ../shared/images (skipped, saying so, when absent):
// the sha256 of each whole disk equals qemu-img convert -O raw, or libvhdi's vhdimount view where qemu refuses the
// image (the hand-edited dfvfs pair has wrong checksums that qemu rejects and Windows and libvhdi accept).
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { openDisk } from '../../../src/formats/open-disk';
import { SHARED_IMAGES, requireSharedImages, sharedImage } from '../../support/shared-images';
import { run } from '../formats/helpers';
import { diskSha, fileSha, qemuRaw } from './helpers';

const QEMU_FMT: Record<string, string> = { vhd: 'vpc', vhdx: 'vhdx', iso: 'raw', udf: 'raw' };
const BIG = 1 << 30;

function listShared(sub: string): string[] {
  const d = path.join(SHARED_IMAGES, sub);
  return fs.existsSync(d) ? fs.readdirSync(d).filter((n) => /\.(gz|xz)$/.test(n)).sort().map((n) => `${sub}/${n}`) : [];
}

/**
 * Disks above 1 GiB (a 10 GiB sparse VHDX): reading qemu's whole raw conversion back costs minutes here, so the
 * holes of that conversion (qemu-img map of the raw file: SEEK_DATA/SEEK_HOLE) must read as zeros through openDisk,
 * and its data extents must equal ours byte for byte.
 */
async function sameAsQemuSparse(file: string, fmt: string): Promise<void> {
  const raw = qemuRaw(file, path.join(os.tmpdir(), `vdisk-block-${process.pid}-big.raw`), fmt);
  const extents = JSON.parse(run('qemu-img', ['map', '--output=json', '-f', 'raw', raw])) as { start: number; length: number; data: boolean }[];
  const d = await openDisk(file);
  const fd = fs.openSync(raw, 'r');
  const CH = 8 << 20;
  const a = Buffer.alloc(CH), b = Buffer.alloc(CH), zero = Buffer.alloc(CH);
  try {
    assert.strictEqual(d.size, fs.statSync(raw).size);
    assert.strictEqual(extents.reduce((s, e) => s + e.length, 0), d.size);
    for (const e of extents) {
      for (let off = e.start; off < e.start + e.length; off += CH) {
        const n = Math.min(CH, e.start + e.length - off);
        assert.strictEqual(await d.read(a.subarray(0, n), off), n);
        const want = e.data ? b.subarray(0, fs.readSync(fd, b, 0, n, off)) : zero.subarray(0, n);
        if (!a.subarray(0, n).equals(want)) assert.fail(`${n} bytes at ${off} differ (${e.data ? 'data' : 'a hole'} in qemu's conversion)`);
      }
    }
  } finally {
    fs.closeSync(fd);
    fs.rmSync(raw, { force: true });
    await d.close();
  }
}

describe('block layer: the real images in ../shared/images', function () {
  this.timeout(120000);
  before(function () { requireSharedImages(this); });

  const images = [...listShared('vhd'), ...listShared('vhdx'), ...listShared('iso'), ...listShared('udf')];
  if (!images.length) it('(no shared images: ../shared/images is absent)', function () { requireSharedImages(this); });
  for (const rel of images) {
    const fmt = QEMU_FMT[rel.split('/')[0]];
    if (/dirty-log/.test(rel)) {
      it(`${rel}: refused, naming the log replay it needs`, async function () {
        const f = sharedImage(this, rel);
        await assert.rejects(openDisk(f), (e: Error & { code?: string }) => e.code === 'unsupported' && /log must be replayed/.test(e.message) && e.message.includes(f));
      });
      continue;
    }
    if (/dfvfs-edited/.test(rel)) {
      it(`${rel}: sha256 equals vhdimount's view (qemu refuses its checksums)`, async function () {
        const parent = sharedImage(this, 'vhd/dfvfs-edited-image-parent.vhd.gz');
        // the differential names its parent image.vhd, next to it
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vdisk-block-dfvfs-'));
        try {
          fs.copyFileSync(parent, path.join(dir, 'image.vhd'));
          const f = path.join(dir, path.basename(rel).replace(/\.gz$/, ''));
          fs.copyFileSync(sharedImage(this, rel), f);
          const mnt = fs.mkdtempSync(path.join(dir, 'mnt-'));
          run('vhdimount', [f, mnt]);
          let want: string;
          try {
            const views = fs.readdirSync(mnt).sort();
            want = fileSha(path.join(mnt, views[views.length - 1])).sha;
          } finally { run('fusermount', ['-u', mnt]); }
          assert.strictEqual((await diskSha(f)).sha, want);
        } finally { fs.rmSync(dir, { recursive: true, force: true }); }
      });
      continue;
    }
    it(`${rel}: sha256 of the whole disk equals qemu-img convert -O raw (above 1 GiB: its data extents and holes)`, async function () {
      const f = sharedImage(this, rel);
      const d = await openDisk(f);
      const size = d.size;
      await d.close();
      if (size > BIG) return sameAsQemuSparse(f, fmt);
      const raw = qemuRaw(f, path.join(os.tmpdir(), `vdisk-block-${process.pid}-${path.basename(f)}.raw`), fmt);
      try {
        assert.strictEqual((await diskSha(f, 999999)).sha, fileSha(raw).sha);
      } finally { fs.rmSync(raw, { force: true }); }
    });
  }
});
