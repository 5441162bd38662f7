import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { createImage } from '../../../src/formats/manage/create';
import { inspectImage } from '../../../src/formats';
import { vhdGeometry } from '../../../src/formats/vhd/writer';
import { parseSize } from '../../../src/common/sizes';
import { createArgs } from '../../../src/cli/manage-args';
import { sharedImage } from '../../support/shared-images';
import { qemuInfo, readAt, run, tempDir, vhdiInfo, withVhdimount } from '../formats/helpers';

const MiB = 2 ** 20, GiB = 2 ** 30;

describe('manage: create', function () {
  const dir = tempDir(this, 'vdisk-create-');
  const at = (n: string) => path.join(dir(), n);

  it('parses sizes in bytes and with K, M, G, T suffixes (powers of 1024)', function () {
    assert.strictEqual(parseSize('4096'), 4096);
    assert.strictEqual(parseSize('64K'), 65536);
    assert.strictEqual(parseSize('1.5G'), 1.5 * GiB);
    assert.strictEqual(parseSize('2T'), 2 * 2 ** 40);
    assert.strictEqual(parseSize('10MiB'), 10 * MiB);
    assert.throws(() => parseSize('10X'), /not a size/);
    assert.throws(() => parseSize('0.3K'), /whole number/);
  });

  it('turns CLI flags into a request, refusing bad values', function () {
    const flags = (m: Record<string, string>) => (f: string) => m[f];
    assert.deepStrictEqual(createArgs('/x.vhdx', flags({ '--size': '1G', '--format': 'vhdx', '--type': 'fixed', '--block-size': '1M', '--logical-sector': '4096' })),
      { path: '/x.vhdx', size: GiB, format: 'vhdx', type: 'fixed', blockSize: MiB, logicalSectorSize: 4096, physicalSectorSize: undefined });
    assert.throws(() => createArgs('/x', flags({ '--size': '1G', '--format': 'qcow2', '--type': 'fixed' })), /--format is vhd or vhdx/);
    assert.throws(() => createArgs('/x', flags({ '--format': 'vhd', '--type': 'fixed' })), /needs --size/);
    assert.throws(() => createArgs('/x', flags({ '--size': '1G', '--format': 'vhd', '--type': 'fixed', '--physical-sector': '1024' })), /512 or 4096/);
  });

  for (const type of ['dynamic', 'fixed'] as const) {
    it(`creates a ${type} VHD that qemu and libvhdi read with Windows' size and CHS geometry`, async function () {
      const f = at(`${type}.vhd`);
      const size = 100 * MiB + 512;
      const r = await createImage({ path: f, format: 'vhd', type, size });
      assert.strictEqual(r.size, size);
      const q = qemuInfo(f, 'vpc');
      assert.strictEqual(q['virtual-size'], size, 'qemu honours the current size (creator "win ")');
      const v = vhdiInfo(f);
      assert.strictEqual(v.mediaSize, size);
      assert.match(v.diskType, type === 'fixed' ? /Fixed/ : /Dynamic/);
      const i = await inspectImage(f);
      assert.deepStrictEqual(i.problems, []);
      assert.strictEqual(i.subtype, type);
      assert.strictEqual(i.id, v.identifier);
      assert.deepStrictEqual(i.details!.geometry, vhdGeometry(size)); // 1003/12/17: the specification's CHS, rounded down
      if (type === 'fixed') assert.strictEqual(fs.statSync(f).size, size + 512);
      else assert.ok(fs.statSync(f).size < MiB, 'a dynamic VHD starts empty');
      // data written through qemu reads back through libvhdi
      run('qemu-io', ['-f', 'vpc', '-c', 'write -P 0x5a 4M 1M', f]);
      await withVhdimount(f, (raw) => { assert.ok(readAt(raw, 4 * MiB, MiB).equals(Buffer.alloc(MiB, 0x5a))); });
    });
  }

  for (const type of ['fixed', 'dynamic'] as const) {
    it(`writes the same ${type} VHD structures as Windows 10 for the same size (all but time, id and checksums)`, async function () {
      const win = sharedImage(this, `vhd/${type === 'fixed' ? 'nodevhd-win-fixed' : 'dissect-win10-dynamic'}.vhd.gz`);
      const f = at(`win-${type}.vhd`);
      await createImage({ path: f, format: 'vhd', type, size: 10 * MiB });
      const mask = (b: Buffer) => { b.fill(0, 24, 28); b.fill(0, 64, 84); return b; };
      const tail = (p: string) => mask(readAt(p, fs.statSync(p).size - 512, 512));
      assert.deepStrictEqual(tail(f), tail(win));
      if (type === 'dynamic') {
        const hdr = (p: string) => readAt(p, 512, 1024).fill(0, 36, 40);
        assert.deepStrictEqual(hdr(f), hdr(win));
        assert.deepStrictEqual(readAt(f, 1536 + 20, 492), readAt(win, 1536 + 20, 492), 'BAT: 5 entries, then 0xff padding');
      }
    });
  }

  const vhdx: [string, { type: 'fixed' | 'dynamic'; size: number; blockSize?: number; logicalSectorSize?: number; physicalSectorSize?: number }][] = [
    ['dynamic, defaults', { type: 'dynamic', size: 2 * GiB }],
    ['fixed, 1 MiB blocks, 512/512', { type: 'fixed', size: 40 * MiB + 4096, blockSize: MiB, physicalSectorSize: 512 }],
    ['dynamic, 4K native', { type: 'dynamic', size: 64 * MiB, logicalSectorSize: 4096 }],
  ];
  for (const [name, s] of vhdx) {
    it(`creates a VHDX (${name}) with the metadata items Windows writes, accepted by qemu-img check and libvhdi`, async function () {
      const f = at(`${name.replace(/\W+/g, '-')}.vhdx`);
      await createImage({ path: f, format: 'vhdx', ...s });
      const i = await inspectImage(f);
      assert.deepStrictEqual(i.problems, []);
      assert.strictEqual(i.subtype, s.type);
      assert.strictEqual(i.virtualSize, s.size);
      assert.strictEqual(i.blockSize, s.blockSize ?? 32 * MiB);
      assert.strictEqual(i.logicalSectorSize, s.logicalSectorSize ?? 512);
      assert.strictEqual(i.physicalSectorSize, s.physicalSectorSize ?? 4096);
      const items = i.details!.metadataItems as { guid: string; isVirtualDisk: boolean; isRequired: boolean }[];
      assert.deepStrictEqual(items.map((x) => [x.isVirtualDisk, x.isRequired]), [[false, true], [true, true], [true, true], [true, true], [true, true]]);
      const v = vhdiInfo(f);
      assert.strictEqual(v.mediaSize, s.size);
      assert.strictEqual(v.identifier, i.id);
      if (s.logicalSectorSize === 4096) return; // qemu reads only 512-byte logical sectors (it refuses 4K native VHDX)
      assert.strictEqual(qemuInfo(f)['virtual-size'], s.size);
      assert.match(run('qemu-img', ['check', f]), /No errors were found/);
      run('qemu-io', ['-f', 'vhdx', '-c', 'write -P 0xa5 1M 64K', f]);
      assert.match(run('qemu-img', ['check', f]), /No errors were found/);
      await withVhdimount(f, (raw) => { assert.ok(readAt(raw, MiB, 65536).equals(Buffer.alloc(65536, 0xa5))); });
    });
  }

  it('refuses what Windows refuses, and never overwrites or leaves a partial file', async function () {
    const f = at('refused.vhd');
    await assert.rejects(createImage({ path: f, format: 'vhd', type: 'dynamic', size: 2041 * GiB }), /at most 2040 GiB/);
    await assert.rejects(createImage({ path: f, format: 'vhd', type: 'dynamic', size: 10 * MiB, logicalSectorSize: 4096 }), /512-byte logical/);
    await assert.rejects(createImage({ path: f, format: 'vhdx', type: 'dynamic', size: 10 * MiB, blockSize: 3 * MiB }), /power of two/);
    await assert.rejects(createImage({ path: f, format: 'vhdx', type: 'dynamic', size: 10 * MiB + 100 }), /multiple of the 512-byte/);
    fs.writeFileSync(f, 'keep');
    await assert.rejects(createImage({ path: f, format: 'vhd', type: 'fixed', size: 10 * MiB }), /will not be overwritten/);
    assert.strictEqual(fs.readFileSync(f, 'utf8'), 'keep');
    let calls = 0;
    const g = at('cancelled.vhdx');
    await assert.rejects(createImage({ path: g, format: 'vhdx', type: 'fixed', size: 64 * MiB, blockSize: MiB },
      { progress: { cancelled: () => ++calls > 3 } }), /cancelled/);
    assert.ok(!fs.existsSync(g));
    assert.deepStrictEqual(fs.readdirSync(dir()).filter((n) => n.endsWith('.tmp')), [], 'no temporary file is left');
  });
});
