import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { inspectImage, detectFormat, FormatError } from '../../../src/formats';
import { tempDir, qemuCreate, qemuInfo, run } from './helpers';

describe('formats: detection and the other formats', function () {
  const dir = tempDir(this);

  it('detects by content, never by extension', async function () {
    const p = qemuCreate('vhdx', path.join(dir(), 'looks-like.iso'), '8M');
    assert.strictEqual(await detectFormat(p), 'vhdx');
    const q = qemuCreate('qcow2', path.join(dir(), 'disk.vhd'), '8M');
    assert.strictEqual(await detectFormat(q), 'qcow2');
  });

  it('qcow2: size and cluster size as qemu-img reports, backing file noted', async function () {
    const base = qemuCreate('qcow2', path.join(dir(), 'base.qcow2'), '100M', ['-o', 'cluster_size=128k']);
    const i = await inspectImage(base);
    assert.strictEqual(i.format, 'qcow2');
    assert.strictEqual(i.virtualSize, qemuInfo(base)['virtual-size']);
    assert.strictEqual(i.blockSize, 128 * 1024);
    const top = qemuCreate('qcow2', path.join(dir(), 'top.qcow2'), '100M', ['-b', 'base.qcow2', '-F', 'qcow2']);
    const t = await inspectImage(top);
    assert.strictEqual(t.details!.backingFile, qemuInfo(top)['backing-filename']);
  });

  it('VMDK: monolithic sparse, stream-optimized and a text descriptor', async function () {
    const s = qemuCreate('vmdk', path.join(dir(), 'sparse.vmdk'), '50M');
    const i = await inspectImage(s);
    assert.strictEqual(i.format, 'vmdk');
    assert.strictEqual(i.subtype, 'dynamic');
    assert.strictEqual(i.virtualSize, qemuInfo(s)['virtual-size']);
    assert.strictEqual(i.details!.createType, 'monolithicSparse');

    const so = qemuCreate('vmdk', path.join(dir(), 'stream.vmdk'), '30M', ['-o', 'subformat=streamOptimized']);
    assert.strictEqual((await inspectImage(so)).virtualSize, qemuInfo(so)['virtual-size']);

    const flat = qemuCreate('vmdk', path.join(dir(), 'flat.vmdk'), '20M', ['-o', 'subformat=monolithicFlat']);
    const f = await inspectImage(flat);
    assert.strictEqual(f.format, 'vmdk');
    assert.strictEqual(f.subtype, 'fixed');
    assert.strictEqual(f.details!.descriptorFile, true);
    assert.strictEqual(f.virtualSize, qemuInfo(flat)['virtual-size']);
  });

  it('VDI: dynamic and fixed', async function () {
    for (const sub of ['dynamic', 'static']) {
      const p = qemuCreate('vdi', path.join(dir(), `d-${sub}.vdi`), '40M', sub === 'static' ? ['-o', 'static=on'] : []);
      const i = await inspectImage(p);
      assert.strictEqual(i.format, 'vdi');
      assert.strictEqual(i.subtype, sub === 'static' ? 'fixed' : 'dynamic');
      assert.strictEqual(i.virtualSize, qemuInfo(p)['virtual-size']);
      assert.strictEqual(i.blockSize, 1024 * 1024);
    }
  });

  it('raw: anything else, with an MBR summary from sfdisk', async function () {
    const p = path.join(dir(), 'mbr.img');
    fs.writeFileSync(p, '');
    fs.truncateSync(p, 64 * 1024 * 1024);
    run('sfdisk', ['-q', p], { input: 'label: dos\nstart=2048, size=20480, type=83, bootable\nstart=22528, size=40960, type=7\n' });
    const i = await inspectImage(p);
    assert.strictEqual(i.format, 'raw');
    assert.strictEqual(i.subtype, null);
    assert.strictEqual(i.virtualSize, 64 * 1024 * 1024);
    assert.strictEqual(i.details!.dataOffset, 0);
    const t = i.details!.partitionTable as { scheme: string; partitions: { type: string; start: number; size: number; bootable?: boolean }[] };
    assert.strictEqual(t.scheme, 'mbr');
    assert.deepStrictEqual(t.partitions.map((x) => [x.type, x.start, x.size]), [['0x83', 2048 * 512, 20480 * 512], ['0x07', 22528 * 512, 40960 * 512]]);
    assert.strictEqual(t.partitions[0].bootable, true);
  });

  it('raw: MBR with logical partitions in an extended one', async function () {
    const p = path.join(dir(), 'ext.img');
    fs.writeFileSync(p, '');
    fs.truncateSync(p, 64 * 1024 * 1024);
    run('sfdisk', ['-q', p], { input: 'label: dos\nstart=2048, size=8192, type=83\nstart=10240, size=100000, type=5\nstart=12288, size=8192, type=83\nstart=22528, size=8192, type=82\n' });
    const t = (await inspectImage(p)).details!.partitionTable as { partitions: { index: number; type: string; start: number }[] };
    assert.deepStrictEqual(t.partitions.map((x) => [x.index, x.type, x.start / 512]), [[1, '0x83', 2048], [2, '0x05', 10240], [5, '0x83', 12288], [6, '0x82', 22528]]);
  });

  it('raw: GPT summary from sfdisk', async function () {
    const p = path.join(dir(), 'gpt.img');
    fs.writeFileSync(p, '');
    fs.truncateSync(p, 64 * 1024 * 1024);
    run('sfdisk', ['-q', p], { input: 'label: gpt\nstart=2048, size=16384, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="EFI system"\nstart=18432, size=32768, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=data\n' });
    const t = (await inspectImage(p)).details!.partitionTable as { scheme: string; partitions: { type: string; name: string; start: number; size: number }[] };
    assert.strictEqual(t.scheme, 'gpt');
    assert.deepStrictEqual(t.partitions.map((x) => [x.type, x.name, x.start, x.size]), [
      ['c12a7328-f81f-11d2-ba4b-00a0c93ec93b', 'EFI system', 2048 * 512, 16384 * 512],
      ['0fc63daf-8483-4772-8e79-3d69d8477de4', 'data', 18432 * 512, 32768 * 512],
    ]);
  });

  it('raw without a partition table; empty file', async function () {
    const p = path.join(dir(), 'zero.img');
    fs.writeFileSync(p, Buffer.alloc(4096));
    const i = await inspectImage(p);
    assert.strictEqual(i.format, 'raw');
    assert.strictEqual(i.details!.partitionTable, null);
    const e = path.join(dir(), 'empty.img');
    fs.writeFileSync(e, '');
    assert.strictEqual((await inspectImage(e)).virtualSize, 0);
  });

  it('throws FormatError only for missing files and directories', async function () {
    await assert.rejects(inspectImage(path.join(dir(), 'nope.vhd')), (e: unknown) => e instanceof FormatError && e.code === 'not-found');
    await assert.rejects(inspectImage(dir()), (e: unknown) => e instanceof FormatError && e.code === 'not-an-image');
    const fifo = path.join(dir(), 'pipe.vhd');
    run('mkfifo', [fifo]);
    await assert.rejects(inspectImage(fifo), (e: unknown) => e instanceof FormatError && e.code === 'not-an-image');
  });

  it('returns an absolute path and every ImageInfo field', async function () {
    const p = qemuCreate('vpc', path.join(dir(), 'fields.vhd'), '8M');
    const rel = path.relative(process.cwd(), p);
    const i = await inspectImage(rel);
    assert.strictEqual(i.path, p);
    for (const k of ['path', 'format', 'subtype', 'virtualSize', 'fileSize', 'blockSize', 'logicalSectorSize', 'physicalSectorSize',
      'id', 'virtualDiskId', 'creator', 'parent', 'chain', 'needsLogReplay', 'problems']) assert.ok(k in i, k);
    assert.deepStrictEqual(i.chain, [{ path: p, format: 'vhd', subtype: 'dynamic', id: i.id, role: 'image', level: 1 }]);
  });
});
