import * as assert from 'assert';
import * as path from 'path';
import { inspectImage, detectFormat } from '../../../src/formats';
import * as fs from 'fs';
import { crc32c } from '../../../src/formats/crc32c';
import { guidLE, randomGuid } from '../../../src/formats/guid';
import { buildVhdxChild } from '../../../src/formats/vhdx/writer';
import { parseVhdxHeader, PARENT_LOCATOR_TYPE, META_FILE_PARAMETERS } from '../../../src/formats/vhdx/inspect';
import { sharedImage, SHARED_IMAGES } from '../../support/shared-images';
import { codes, qemuCreate, qemuInfo, tempDir, vhdiInfo, patch, readAt, run } from './helpers';

const MiB = 1024 * 1024;

describe('formats: VHDX', function () {
  const dir = tempDir(this);

  it('CRC-32C matches the standard check value', function () {
    assert.strictEqual(crc32c(Buffer.from('123456789')), 0xe3069283);
  });

  it('parses the libvhdi fragments: image header (CRC-32C), parent locator type, metadata entry', function () {
    const frag = path.join(SHARED_IMAGES, 'fragments');
    if (!fs.existsSync(frag)) { console.log(`    (skipped: ${frag} is absent)`); this.skip(); }
    const h = parseVhdxHeader(fs.readFileSync(path.join(frag, 'libvhdi-image_header.1.bin')), 1);
    assert.ok(h.valid, 'CRC-32C of the real header verifies');
    assert.strictEqual(h.sequence, 6n);
    assert.strictEqual(h.logGuid, '00000000-0000-0000-0000-000000000000');
    assert.strictEqual(h.logOffset, 1024 * 1024);
    const plh = fs.readFileSync(path.join(frag, 'libvhdi-parent_locator_header.1.bin'));
    assert.strictEqual(guidLE(plh, 0), PARENT_LOCATOR_TYPE);
    assert.strictEqual(plh.readUInt16LE(18), 5);
    const me = fs.readFileSync(path.join(frag, 'libvhdi-metadata_table_entry.1.bin'));
    assert.strictEqual(guidLE(me, 0), META_FILE_PARAMETERS);
  });

  it('reads the Windows fixed VHDX: current header is the copy at 128 KiB (sequence 7)', async function () {
    const p = sharedImage(this, 'vhdx/dissect-win10-fixed.vhdx.gz');
    const i = await inspectImage(p);
    assert.strictEqual(i.format, 'vhdx');
    assert.strictEqual(i.subtype, 'fixed');
    assert.strictEqual(i.virtualSize, 10485760);
    assert.strictEqual(i.blockSize, 2 * MiB);
    assert.strictEqual(i.logicalSectorSize, 512);
    assert.strictEqual(i.physicalSectorSize, 4096);
    assert.deepStrictEqual(i.details!.headerSequence, ['6', '7']);
    assert.strictEqual(i.details!.currentHeader, 2);
    assert.match(i.creator!, /Windows 10\.0\.18363/);
    assert.strictEqual(i.needsLogReplay, false);
    assert.deepStrictEqual(i.problems, []);
    assert.strictEqual(i.id, vhdiInfo(p).identifier);
    assert.match(i.virtualDiskId!, /^[0-9a-f-]{36}$/);
  });

  it('does not ask for replay of stale log entries under another GUID (dynamic VHDX)', async function () {
    const p = sharedImage(this, 'vhdx/dissect-win10-dynamic.vhdx.gz');
    const i = await inspectImage(p);
    assert.strictEqual(i.subtype, 'dynamic');
    assert.strictEqual(i.blockSize, 32 * MiB);
    assert.strictEqual(i.needsLogReplay, false);
    assert.strictEqual(i.details!.logEntries, true);
    assert.strictEqual(i.details!.logEntriesStale, true);
    assert.ok(!codes(i).includes('log-replay-required'));
    assert.strictEqual(i.virtualSize, qemuInfo(p)['virtual-size']);
  });

  it('reports log-replay-required when LogGuid is non-zero (DiscUtils dirty log)', async function () {
    const i = await inspectImage(sharedImage(this, 'vhdx/discutils-win10-dirty-log.vhdx.gz'));
    assert.strictEqual(i.needsLogReplay, true);
    assert.ok(codes(i).includes('log-replay-required'));
    assert.strictEqual(i.virtualSize, 1024 * MiB);
    assert.strictEqual(i.blockSize, 32 * MiB);
    assert.match(i.creator!, /10\.0\.15063/);
  });

  it('reads the 10 GiB sparse VHDX', async function () {
    const i = await inspectImage(sharedImage(this, 'vhdx/discutils-win10-swap-10G.vhdx.gz'));
    assert.strictEqual(i.virtualSize, 10 * 1024 * MiB);
    assert.strictEqual(i.blockSize, 32 * MiB);
    assert.strictEqual(i.needsLogReplay, false);
    assert.deepStrictEqual(i.problems, []);
  });

  for (const sub of ['dynamic', 'fixed']) {
    it(`agrees with qemu-img and vhdiinfo on a qemu-made ${sub} VHDX`, async function () {
      const p = qemuCreate('vhdx', path.join(dir(), `q-${sub}.vhdx`), '96M', ['-o', `subformat=${sub}`]);
      assert.strictEqual(await detectFormat(p), 'vhdx');
      const i = await inspectImage(p);
      const q = qemuInfo(p), v = vhdiInfo(p);
      assert.strictEqual(i.subtype, sub);
      assert.strictEqual(i.virtualSize, q['virtual-size']);
      assert.strictEqual(i.blockSize, q['cluster-size']);
      assert.strictEqual(i.virtualSize, v.mediaSize);
      assert.strictEqual(i.id, v.identifier);
      assert.deepStrictEqual(i.problems, []);
    });
  }

  it('counts allocated payload blocks after qemu-io writes', async function () {
    const p = qemuCreate('vhdx', path.join(dir(), 'w.vhdx'), '64M', ['-o', 'block_size=1M']);
    run('qemu-io', ['-f', 'vhdx', '-c', 'write -P 1 0 4k', '-c', 'write -P 2 10M 4k', '-c', 'write -P 3 63M 4k', p]);
    const i = await inspectImage(p);
    assert.strictEqual(i.details!.allocatedBlocks, 3);
    assert.strictEqual(i.details!.dataBlocks, 64);
  });

  it('an all-zero BAT counts nothing allocated, and a single entry in its last data slot is still walked and counted', async function () {
    const p = qemuCreate('vhdx', path.join(dir(), 'z.vhdx'), '64M', ['-o', 'block_size=1M']);
    const empty = await inspectImage(p);
    assert.strictEqual(empty.details!.allocatedBlocks, 0);
    assert.strictEqual(empty.details!.flatData, undefined);
    assert.deepStrictEqual(empty.problems, []);
    run('qemu-io', ['-f', 'vhdx', '-c', 'write -P 3 63M 4k', p]);
    const one = await inspectImage(p);
    assert.strictEqual(one.details!.allocatedBlocks, 1);
    assert.deepStrictEqual(one.problems, []);
    const fixed = qemuCreate('vhdx', path.join(dir(), 'zf.vhdx'), '8M', ['-o', 'subformat=fixed,block_size=1M,block_state_zero=off']);
    assert.ok((await inspectImage(fixed)).details!.flatData, 'a fixed disk is still one linear range');
  });

  it('uses the other header when one is damaged, and reports header-checksum when both are', async function () {
    const p = qemuCreate('vhdx', path.join(dir(), 'hdr.vhdx'), '16M');
    const before = await inspectImage(p);
    patch(p, 64 * 1024 + 100, Buffer.from([0xff, 0xee]));
    const one = await inspectImage(p);
    assert.deepStrictEqual(one.problems, []);
    assert.strictEqual(one.id, before.id);
    assert.match(String(one.details!.headerWarning), /damaged/);
    patch(p, 128 * 1024 + 100, Buffer.from([0xff, 0xee]));
    assert.ok(codes(await inspectImage(p)).includes('header-checksum'));
  });

  it('reports region-table-invalid and metadata-invalid', async function () {
    const a = qemuCreate('vhdx', path.join(dir(), 'rt.vhdx'), '16M');
    patch(a, 192 * 1024 + 40, Buffer.from([1, 2, 3]));
    patch(a, 256 * 1024 + 40, Buffer.from([1, 2, 3]));
    assert.ok(codes(await inspectImage(a)).includes('region-table-invalid'));

    const b = qemuCreate('vhdx', path.join(dir(), 'md.vhdx'), '16M');
    const i = await inspectImage(b);
    const meta = (i.details!.regions as { guid: string; offset: number }[]).find((r) => r.guid.startsWith('8b7ca206'))!;
    patch(b, meta.offset, Buffer.from('garbage!'));
    assert.ok(codes(await inspectImage(b)).includes('metadata-invalid'));
  });

  it('a differencing VHDX without parent_linkage is metadata-invalid; its locators are still listed', async function () {
    const built = buildVhdxChild({ virtualSize: 8 * MiB, blockSize: 2 * MiB, logicalSectorSize: 512, physicalSectorSize: 4096,
      virtualDiskId: randomGuid(), fileWriteGuid: randomGuid(), dataWriteGuid: randomGuid(),
      locator: { relative_path: '.\\nowhere.vhdx', volume_path: '\\\\?\\Volume{26a21bda-a627-11d7-9931-806e6f6e6963}\\nowhere.vhdx' }, creator: 'test' });
    const f = path.join(dir(), 'nolink.avhdx');
    const fd = fs.openSync(f, 'w');
    fs.ftruncateSync(fd, built.size);
    for (const [o, b] of built.pieces) fs.writeSync(fd, b, 0, b.length, o);
    fs.closeSync(fd);
    const i = await inspectImage(f);
    assert.strictEqual(i.subtype, 'differencing');
    assert.strictEqual(i.physicalSectorSize, 4096);
    assert.ok(codes(i).includes('metadata-invalid'));
    assert.ok(codes(i).includes('parent-missing'));
    assert.deepStrictEqual(i.parent!.locators, { relative: '.\\nowhere.vhdx', volume: '\\\\?\\Volume{26a21bda-a627-11d7-9931-806e6f6e6963}\\nowhere.vhdx' });
    assert.strictEqual(i.parent!.id, null);
    assert.strictEqual(vhdiInfo(f).diskType, 'Differential');
  });

  it('reports a file cut inside the BAT region as truncated', async function () {
    const p = qemuCreate('vhdx', path.join(dir(), 'cut.vhdx'), '16M');
    const i = await inspectImage(p);
    const bat = (i.details!.regions as { guid: string; offset: number }[]).find((r) => r.guid.startsWith('2dc27766'))!;
    const keep = readAt(p, 0, bat.offset + 4096);
    fs.writeFileSync(p, keep);
    assert.ok(codes(await inspectImage(p)).includes('truncated'));
  });
});
