// Merge: a child's sectors (sector-bitmap exact) into its parent or an ancestor, checked against libvhdi's view of the
// chain before the merge; dependents refused; kill -9 after every durable step leaves the old chain or the merged parent.
import * as assert from 'assert';
import * as cp from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { createDifferencingDisk, inspectImage } from '../../../src/formats';
import { createImage } from '../../../src/formats/manage/create';
import { mergeImage } from '../../../src/formats/manage/merge';
import { openVhdLayer } from '../../../src/formats/vhd/layer';
import { openVhdxLayer } from '../../../src/formats/vhdx/layer';
import { replayLog } from '../../../src/formats/vhdx/log';
import { cli } from '../../support/worker';
import { run, tempDir } from '../formats/helpers';

const MiB = 2 ** 20;
const QF = { vhd: 'vpc', vhdx: 'vhdx' } as const;

/** The disk libvhdi reads for `image` (the top of its chain: vhdimount names it last). */
function libvhdiView(image: string): Buffer {
  const mnt = fs.mkdtempSync(path.join(os.tmpdir(), 'vdisk-merge-mnt-'));
  run('vhdimount', [image, mnt]);
  try {
    const top = fs.readdirSync(mnt).sort((a, b) => a.length - b.length || a.localeCompare(b)).pop()!;
    return fs.readFileSync(path.join(mnt, top));
  } finally {
    try { run('fusermount', ['-u', mnt]); } catch { cp.spawnSync('fusermount', ['-uz', mnt]); }
    fs.rmSync(mnt, { recursive: true, force: true });
  }
}

async function writeInto(file: string, fmt: 'vhd' | 'vhdx', writes: [number, number, number][]): Promise<void> {
  const l = fmt === 'vhd' ? openVhdLayer(file, true) : await openVhdxLayer(file, true);
  try { for (const [off, len, byte] of writes) await l.write(off, Buffer.alloc(len, byte)); await l.commit(); } finally { await l.close(); }
}

/** base (qemu-written) <- mid <- child, each with data of its own, some of it partly over the layer below. */
async function chainOf(dir: string, fmt: 'vhd' | 'vhdx'): Promise<{ base: string; mid: string; child: string }> {
  fs.mkdirSync(dir, { recursive: true });
  const base = path.join(dir, `base.${fmt}`), mid = path.join(dir, `mid.${fmt === 'vhd' ? 'vhd' : 'avhdx'}`), child = path.join(dir, `child.${fmt === 'vhd' ? 'vhd' : 'avhdx'}`);
  await createImage({ path: base, format: fmt, type: 'dynamic', size: 16 * MiB, ...(fmt === 'vhdx' ? { blockSize: MiB } : {}) });
  run('qemu-io', ['-f', QF[fmt], '-c', 'write -P 0x11 0 6M', base]);
  await createDifferencingDisk(base, mid);
  await writeInto(mid, fmt, [[2 * MiB, 8192, 0x22], [12 * MiB, MiB, 0x23]]);
  await createDifferencingDisk(mid, child);
  // 4 KiB-aligned runs: libvhdi 20210425 misreads VHD bitmap bytes that are only partly set
  await writeInto(child, fmt, [[MiB, 4096, 0x31], [5 * MiB - 4096, 8192, 0x32], [12 * MiB + 4096, 4096, 0x33], [14 * MiB, 3 * MiB / 2, 0x34]]);
  return { base, mid, child };
}

function sameAsQemu(image: string, fmt: 'vhd' | 'vhdx', expected: Buffer, dir: string): void {
  const raw = path.join(dir, 'expected.raw');
  fs.writeFileSync(raw, expected);
  assert.match(run('qemu-img', ['compare', '-f', 'raw', '-F', QF[fmt], raw, image]), /Images are identical/);
  if (fmt === 'vhdx') assert.match(run('qemu-img', ['check', image]), /No errors were found/);
}

describe('manage: merge', function () {
  const dir = tempDir(this, 'vdisk-merge-');

  for (const fmt of ['vhd', 'vhdx'] as const) {
    it(`${fmt}: merges a child into its parent, then the parent reads as the chain did (libvhdi before, qemu and libvhdi after)`, async function () {
      const d = path.join(dir(), `one-${fmt}`);
      const { mid, child } = await chainOf(d, fmt);
      const before = libvhdiView(child);
      const r = await mergeImage({ child });
      assert.deepStrictEqual([r.target, r.merged, r.removed], [mid, [child], [child]]);
      assert.ok(!fs.existsSync(child));
      assert.ok(libvhdiView(mid).equals(before), 'the parent (over its own parent) reads what the child read');
      assert.deepStrictEqual((await inspectImage(mid)).problems, []);
    });

    it(`${fmt}: --into the base merges every layer in order; the base alone is the disk`, async function () {
      const d = path.join(dir(), `into-${fmt}`);
      const { base, mid, child } = await chainOf(d, fmt);
      const before = libvhdiView(child);
      const r = await mergeImage({ child, into: base });
      assert.deepStrictEqual(r.merged, [child, mid]);
      assert.ok(!fs.existsSync(mid) && !fs.existsSync(child));
      sameAsQemu(base, fmt, before, d);
      assert.ok(libvhdiView(base).equals(before));
    });

    it(`${fmt}: refuses when another image uses the parent, unless forced; --keep-child keeps it`, async function () {
      const d = path.join(dir(), `deps-${fmt}`);
      const { mid, child } = await chainOf(d, fmt);
      const sibling = path.join(d, `sibling.${fmt === 'vhd' ? 'vhd' : 'avhdx'}`);
      await createDifferencingDisk(mid, sibling);
      const before = fs.readFileSync(mid);
      await assert.rejects(mergeImage({ child }), /sibling\.(vhd|avhdx) also uses mid/);
      assert.ok(fs.readFileSync(mid).equals(before), 'a refusal writes nothing');
      const r = await mergeImage({ child, force: true, keepChild: true });
      assert.deepStrictEqual(r.removed, []);
      assert.ok(fs.existsSync(child));
    });
  }

  // kill -9 after each durable step: the old chain reads as before, or the parent alone is the merged disk
  for (const fmt of ['vhd', 'vhdx'] as const) {
    for (const step of fmt === 'vhd' ? [1, 2, 10] : [1, 2, 3, 4, 5, 6, 10]) {
      it(`${fmt}: SIGKILL after merge step ${step} leaves the old chain whole or the merged parent`, async function () {
        const d = path.join(dir(), `crash-${fmt}-${step}`);
        const { mid, child } = await chainOf(d, fmt);
        const before = libvhdiView(child);
        const r = cli(['merge', child], { VDISK_TEST_CRASH_AFTER: `merge:${step}` });
        assert.strictEqual(r.code, 2, r.stderr);
        assert.match(r.stderr, /SIGKILL/);
        if (fmt === 'vhdx' && (await inspectImage(mid)).needsLogReplay) {
          const fd = fs.openSync(mid, 'r+');
          try { replayLog(fd); } finally { fs.closeSync(fd); }
        }
        const committed = fmt === 'vhd' ? step >= 2 : step >= 5;
        if (fs.existsSync(child) && (fmt === 'vhd' || step < 6)) assert.ok(libvhdiView(child).equals(before), 'the old chain reads as before');
        if (committed) assert.ok(libvhdiView(mid).equals(before), 'the parent alone is the merged disk');
        assert.strictEqual(fs.existsSync(child), step < 10);
        // running it again finishes the job
        if (fs.existsSync(child) && (fmt === 'vhd' || step < 6)) {
          assert.strictEqual(cli(['merge', child]).code, 0);
          assert.ok(libvhdiView(mid).equals(before));
        }
      });
    }
  }
});
