// Proof of the block layer against qemu: for an image of every format and subtype qemu-img makes, the sha256 of the
// whole virtual disk read through openDisk equals the sha256 of `qemu-img convert -O raw` of the same image, and
// random reads at odd offsets and lengths equal the same ranges of that raw file.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { openDisk } from '../../../src/formats/open-disk';
import { inspectImage } from '../../../src/formats/inspect';
import { run, tempDir } from '../formats/helpers';
import { compareRandomReads, diskSha, fileSha, makeSource, qemuRaw } from './helpers';

const MiB = 1 << 20;
/** Not a multiple of any block or cluster size: every format ends in a partial block. */
const SIZE = 6 * MiB + 5 * 512;

interface Case { name: string; fmt: string; make: (dir: string, src: string, out: string) => void; qemuFmt?: string; chunk?: number }

const convert = (fmt: string, opts: string[]) => (_dir: string, src: string, out: string) => {
  run('qemu-img', ['convert', '-f', 'raw', '-O', fmt, ...opts, src, out]);
};
/** qemu-img create, then qemu-io writes: partial clusters, zero writes (`write -z`) and discards. */
const createAndWrite = (fmt: string, opts: string[], size = String(SIZE), writes = DEFAULT_WRITES) => (_dir: string, _src: string, out: string) => {
  run('qemu-img', ['create', '-q', '-f', fmt, ...opts, out, size]);
  run('qemu-io', ['-f', fmt, ...writes.flatMap((w) => ['-c', w]), out]);
};
const DEFAULT_WRITES = ['write -P 0xab 1M 64k', 'write -P 0x11 1536 1k', 'write -P 0x22 3M 300k', 'write -z 3200k 64k',
  'write -P 0x33 6M 2560', 'discard 3M 64k'];

const CASES: Case[] = [
  { name: 'VHD dynamic (convert)', fmt: 'vpc', make: convert('vpc', ['-o', 'subformat=dynamic']) },
  { name: 'VHD dynamic (qemu-io writes)', fmt: 'vpc', make: createAndWrite('vpc', ['-o', 'subformat=dynamic']) },
  { name: 'VHD fixed', fmt: 'vpc', make: convert('vpc', ['-o', 'subformat=fixed']) },
  { name: 'VHDX dynamic, 1 MiB blocks', fmt: 'vhdx', make: convert('vhdx', ['-o', 'block_size=1M']) },
  { name: 'VHDX dynamic, 8 MiB blocks, 2 MiB log', fmt: 'vhdx', make: convert('vhdx', ['-o', 'block_size=8M,log_size=2M']) },
  { name: 'VHDX dynamic, 32 MiB blocks (one partial block)', fmt: 'vhdx', make: convert('vhdx', ['-o', 'block_size=32M']) },
  { name: 'VHDX dynamic, no ZERO-state blocks', fmt: 'vhdx', make: createAndWrite('vhdx', ['-o', 'block_size=1M,block_state_zero=off']) },
  { name: 'VHDX dynamic, qemu-io writes and zero writes', fmt: 'vhdx', make: createAndWrite('vhdx', ['-o', 'block_size=1M']) },
  { name: 'VHDX fixed, 8 MiB blocks', fmt: 'vhdx', make: convert('vhdx', ['-o', 'subformat=fixed,block_size=8M']) },
  { name: 'qcow2 v2, 512-byte clusters', fmt: 'qcow2', make: convert('qcow2', ['-o', 'compat=0.10,cluster_size=512']) },
  { name: 'qcow2 v2, 64 KiB clusters, qemu-io writes', fmt: 'qcow2', make: createAndWrite('qcow2', ['-o', 'compat=0.10']) },
  { name: 'qcow2 v3, 4 KiB clusters', fmt: 'qcow2', make: convert('qcow2', ['-o', 'cluster_size=4096']) },
  { name: 'qcow2 v3, 64 KiB clusters, zero clusters and discards', fmt: 'qcow2', make: createAndWrite('qcow2', []) },
  { name: 'qcow2 v3, 2 MiB clusters', fmt: 'qcow2', make: convert('qcow2', ['-o', 'cluster_size=2M']) },
  { name: 'qcow2 v3, compressed, 64 KiB clusters', fmt: 'qcow2', make: convert('qcow2', ['-c']) },
  { name: 'qcow2 v3, compressed, 512-byte clusters', fmt: 'qcow2', make: convert('qcow2', ['-c', '-o', 'cluster_size=512']) },
  { name: 'qcow2 v2, compressed, 2 MiB clusters', fmt: 'qcow2', make: convert('qcow2', ['-c', '-o', 'compat=0.10,cluster_size=2M']) },
  { name: 'qcow2 v3, extended L2 (subclusters), 64 KiB clusters', fmt: 'qcow2', make: createAndWrite('qcow2', ['-o', 'extended_l2=on']) },
  { name: 'qcow2 v3, extended L2, 2 MiB clusters (convert)', fmt: 'qcow2', make: convert('qcow2', ['-o', 'extended_l2=on,cluster_size=2M']) },
  { name: 'VMDK monolithicSparse', fmt: 'vmdk', make: convert('vmdk', ['-o', 'subformat=monolithicSparse']) },
  { name: 'VMDK monolithicSparse, qemu-io writes', fmt: 'vmdk', make: createAndWrite('vmdk', ['-o', 'subformat=monolithicSparse'], String(SIZE), DEFAULT_WRITES.filter((w) => !w.startsWith('discard'))) },
  { name: 'VMDK streamOptimized', fmt: 'vmdk', make: convert('vmdk', ['-o', 'subformat=streamOptimized']) },
  { name: 'VMDK monolithicFlat', fmt: 'vmdk', make: convert('vmdk', ['-o', 'subformat=monolithicFlat']) },
  { name: 'VMDK twoGbMaxExtentSparse', fmt: 'vmdk', make: convert('vmdk', ['-o', 'subformat=twoGbMaxExtentSparse']) },
  { name: 'VMDK twoGbMaxExtentFlat', fmt: 'vmdk', make: convert('vmdk', ['-o', 'subformat=twoGbMaxExtentFlat']) },
  { name: 'VMDK descriptor with FLAT extents at offsets and a SPARSE extent', fmt: 'vmdk', make: (dir, src, out) => {
    fs.copyFileSync(src, path.join(dir, 'x-flat.bin'));
    fs.copyFileSync(src, path.join(dir, 'x-flat2.bin'));
    fs.copyFileSync(src, path.join(dir, 'x-6m.raw'));
    fs.truncateSync(path.join(dir, 'x-6m.raw'), 6 * MiB);
    run('qemu-img', ['convert', '-f', 'raw', '-O', 'vmdk', path.join(dir, 'x-6m.raw'), path.join(dir, 'x-sparse.vmdk')]);
    // grain-aligned (128 sectors): qemu 7.2 reads zeros where one request crosses from a sparse extent's partial
    // last grain into the next extent (its own 512-byte reads there return the data, as vdisk does)
    const sectors = Math.floor(SIZE / 512 / 128) * 128;
    fs.writeFileSync(out, `# Disk DescriptorFile\nversion=1\nCID=12345678\nparentCID=ffffffff\ncreateType="twoGbMaxExtentSparse"\n\n`
      // qemu 7.2 counts the first extent twice unless a comment line precedes it (as its own descriptors have)
      + `# Extent description\nRW 2048 FLAT "x-flat.bin" 4096\nRW ${sectors} SPARSE "x-sparse.vmdk"\nRW 1000 FLAT "x-flat2.bin" 0\n\nddb.virtualHWVersion = "4"\n`);
  } },
  { name: 'VDI dynamic', fmt: 'vdi', make: convert('vdi', []) },
  { name: 'VDI dynamic, qemu-io writes', fmt: 'vdi', make: createAndWrite('vdi', [], String(SIZE), DEFAULT_WRITES.filter((w) => !w.startsWith('discard') && !w.includes('-z'))) },
  { name: 'VDI static', fmt: 'vdi', make: convert('vdi', ['-o', 'static=on']) },
  { name: 'raw', fmt: 'raw', make: (_d, src, out) => fs.copyFileSync(src, out) },
];

describe('block layer: every qemu-made subtype reads as qemu-img convert -O raw', function () {
  this.timeout(60000);
  const dir = tempDir(this, 'vdisk-block-qemu-');
  let src = '';
  before(() => { src = makeSource(path.join(dir(), 'source.raw'), SIZE, 3); });

  CASES.forEach((c, i) => {
    it(`${c.name}: sha256 of the whole disk, and 40 random reads`, async function () {
      const out = path.join(dir(), `case${i}.${c.fmt === 'vpc' ? 'vhd' : c.fmt === 'raw' ? 'img' : c.fmt}`);
      c.make(dir(), src, out);
      const raw = qemuRaw(out, `${out}.raw`, c.fmt);
      const want = fileSha(raw);
      const got = await diskSha(out, 1000 * 1000 + 7);
      assert.strictEqual(got.size, want.size, 'virtual size');
      assert.strictEqual(got.sha, want.sha, 'sha256 of the whole disk');
      const d = await openDisk(out);
      try {
        assert.strictEqual(await compareRandomReads(d, raw, 40, 100 + i), null);
      } finally { await d.close(); }
    });
  });

  it('VHDX with 256 MiB blocks past the first chunk (sector-bitmap entries interleaved in the BAT)', async function () {
    // chunk ratio 2^23 * 512 / 256 MiB = 16: payload block 16 sits after the first sector-bitmap entry
    const out = path.join(dir(), 'interleave.vhdx');
    run('qemu-img', ['create', '-q', '-f', 'vhdx', '-o', 'block_size=256M', out, '5G']);
    run('qemu-io', ['-f', 'vhdx', '-c', 'write -P 0x5a 4095M 2M', '-c', 'write -P 0x6b 4352M 1M', '-c', 'write -P 0x7c 5119M 1M', out]);
    const info = await inspectImage(out);
    assert.strictEqual(info.details?.chunkRatio, 16);
    // qemu agrees on what was written; the rest of the 5 GiB is zeros (a model of the writes, not a 5 GiB convert)
    run('qemu-io', ['-f', 'vhdx', '-c', 'read -P 0x5a 4095M 2M', '-c', 'read -P 0x6b 4352M 1M', '-c', 'read -P 0 4353M 1M', '-c', 'read -P 0x7c 5119M 1M', out]);
    const model = (at: number, len: number) => {
      const b = Buffer.alloc(len);
      for (const [start, n, v] of [[4095 * MiB, 2 * MiB, 0x5a], [4352 * MiB, MiB, 0x6b], [5119 * MiB, MiB, 0x7c]]) {
        const lo = Math.max(start, at), hi = Math.min(start + n, at + len);
        if (hi > lo) b.fill(v, lo - at, hi - at);
      }
      return b;
    };
    const d = await openDisk(out);
    try {
      for (const [at, len] of [[4088 * MiB, 8 * MiB], [4352 * MiB - 3 * MiB + 7, 5 * MiB], [5112 * MiB, 8 * MiB], [4096 * MiB - 511, 4097], [0, MiB]]) {
        const a = Buffer.alloc(len);
        assert.strictEqual(await d.read(a, at), len);
        assert.ok(a.equals(model(at, len)), `${len} bytes at ${at}`);
      }
    } finally { await d.close(); }
  });

  it('VMDK ZERO extents read as zeros between FLAT extents (qemu 7.2 drops ZERO extents, so a model is the oracle)', async function () {
    const out = path.join(dir(), 'zero-extent.vmdk');
    // two files: layers.ts counts one file named by two extents as a loop
    fs.copyFileSync(src, path.join(dir(), 'source2.raw'));
    fs.writeFileSync(out, `# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType="monolithicFlat"\n\n`
      + `RW 8 FLAT "source.raw" 1\nRW 4096 ZERO\nRW 2000 FLAT "source2.raw" 0\n`);
    const s = fs.readFileSync(src);
    const want = Buffer.concat([s.subarray(512, 512 + 4096), Buffer.alloc(4096 * 512), s.subarray(0, 2000 * 512)]);
    const d = await openDisk(out);
    try {
      assert.strictEqual(d.size, want.length);
      const got = Buffer.alloc(want.length + 10);
      assert.strictEqual(await d.read(got, 0), want.length);
      assert.ok(got.subarray(0, want.length).equals(want));
      const mid = Buffer.alloc(5000);
      assert.strictEqual(await d.read(mid, 4096 - 100), 5000);
      assert.ok(mid.equals(want.subarray(3996, 8996)), 'a read across FLAT -> ZERO');
    } finally { await d.close(); }
  });

  it('reads past the end are short, reads at the end return 0, and bad offsets throw', async function () {
    const out = path.join(dir(), 'edge.qcow2');
    run('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', src, out]);
    const d = await openDisk(out);
    try {
      const b = Buffer.alloc(4096);
      assert.strictEqual(await d.read(b, SIZE - 1000), 1000);
      assert.strictEqual(await d.read(b, SIZE), 0);
      assert.strictEqual(await d.read(b, SIZE + 4096), 0);
      await assert.rejects(d.read(b, -1), RangeError);
      await assert.rejects(d.read(b, 0.5), RangeError);
      assert.strictEqual(await d.read(Buffer.alloc(0), 0), 0);
    } finally { await d.close(); }
    await assert.rejects(d.read(Buffer.alloc(1), 0), /after close/);
  });
});
