import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { inspectImage, detectFormat } from '../../../src/formats';
import { parseDynamicHeader, parseFooter, vhdChecksum, decodeLocator } from '../../../src/formats/vhd/inspect';
import { sharedImage, SHARED_IMAGES } from '../../support/shared-images';
import { codes, qemuCreate, qemuInfo, tempDir, vhdiInfo, run, patch, readAt } from './helpers';

describe('formats: VHD', function () {
  const dir = tempDir(this);

  it('reads the Windows fixed VHD: current size wins over CHS, MBR data range', async function () {
    const p = sharedImage(this, 'vhd/dissect-win10-fixed.vhd.gz');
    const i = await inspectImage(p);
    assert.strictEqual(i.format, 'vhd');
    assert.strictEqual(i.subtype, 'fixed');
    assert.strictEqual(i.virtualSize, 10485760);
    assert.strictEqual(i.fileSize, 10486272);
    assert.strictEqual(i.creator, 'win');
    assert.deepStrictEqual(i.problems, []);
    assert.strictEqual(i.details!.dataOffset, 0);
    assert.strictEqual(i.details!.dataSize, 10486272 - 512);
    assert.deepStrictEqual(i.details!.geometry, { cylinders: 301, heads: 4, sectors: 17 });
    const t = i.details!.partitionTable as { scheme: string; partitions: { start: number; size: number }[] };
    assert.strictEqual(t.scheme, 'mbr');
    assert.ok(t.partitions.length >= 1 && t.partitions.every((x) => x.start + x.size <= 10485760), JSON.stringify(t));
    const v = vhdiInfo(p);
    assert.strictEqual(i.id, v.identifier);
    assert.strictEqual(i.virtualSize, v.mediaSize);
  });

  it('reads the Windows dynamic VHD: 2 MiB blocks, 5 BAT entries, 3 allocated', async function () {
    const p = sharedImage(this, 'vhd/dissect-win10-dynamic.vhd.gz');
    const i = await inspectImage(p);
    assert.strictEqual(i.subtype, 'dynamic');
    assert.strictEqual(i.blockSize, 2 * 1024 * 1024);
    assert.strictEqual(i.details!.batEntries, 5);
    assert.strictEqual(i.details!.allocatedBlocks, 3);
    assert.deepStrictEqual(i.problems, []);
    assert.strictEqual(i.id, vhdiInfo(p).identifier);
    assert.strictEqual(i.virtualSize, qemuInfo(p)['virtual-size']);
  });

  it('reads the node-vhd Windows fixed VHD', async function () {
    const i = await inspectImage(sharedImage(this, 'vhd/nodevhd-win-fixed.vhd.gz'));
    assert.strictEqual(i.subtype, 'fixed');
    assert.strictEqual(i.virtualSize, 10 * 1024 * 1024);
  });

  it('uses the CHS product for creator qemu (dfvfs ext2 image), as qemu-img does', async function () {
    const p = sharedImage(this, 'vhd/dfvfs-qemu-ext2-dynamic.vhd.gz');
    const i = await inspectImage(p);
    assert.strictEqual(i.creator, 'qemu');
    assert.strictEqual(i.virtualSize, 4212736);
    assert.strictEqual(i.virtualSize, qemuInfo(p)['virtual-size']);
  });

  it('reports the hand-edited parent footer checksum', async function () {
    const i = await inspectImage(sharedImage(this, 'vhd/dfvfs-edited-image-parent.vhd.gz'));
    assert.strictEqual(i.id, 'd49c5c80-350a-4a89-898a-5ad6d10f6578');
    assert.ok(codes(i).includes('footer-checksum'), JSON.stringify(i.problems));
  });

  it('reads the hand-edited differencing VHD: parent name and id, no locators, parent missing', async function () {
    const i = await inspectImage(sharedImage(this, 'vhd/dfvfs-edited-image-differential.vhd.gz'));
    assert.strictEqual(i.subtype, 'differencing');
    assert.strictEqual(i.parent!.name, 'image.vhd');
    assert.strictEqual(i.parent!.id, 'd49c5c80-350a-4a89-898a-5ad6d10f6578');
    assert.deepStrictEqual(i.parent!.locators, {});
    assert.strictEqual(i.parent!.resolvedPath, null);
    assert.ok(codes(i).includes('parent-missing'));
    assert.ok(codes(i).includes('header-checksum'));
    assert.strictEqual(i.chain.length, 1);
  });

  it('parses the libvhdi fragments: differencing footer and all locator codes by length and offset', function () {
    const frag = path.join(SHARED_IMAGES, 'fragments');
    if (!fs.existsSync(frag)) { console.log(`    (skipped: ${frag} is absent)`); this.skip(); }
    const f = parseFooter(fs.readFileSync(path.join(frag, 'libvhdi-file_footer.1.bin')));
    assert.strictEqual(f.diskType, 4);
    assert.ok(f.checksumOk);
    const h = parseDynamicHeader(fs.readFileSync(path.join(frag, 'libvhdi-dynamic_disk_header.1.bin')));
    assert.ok(h.checksumOk);
    const got = h.locators.map((l) => l.code).sort();
    for (const c of ['W2ku', 'W2ru', 'Wi2k', 'Wi2r']) assert.ok(got.includes(c), `locator ${c} in ${got}`);
    for (const l of h.locators) assert.ok(l.dataLength > 0 && l.offset > 0, JSON.stringify(l));
    const nf = parseFooter(fs.readFileSync(path.join(frag, 'nodevhd-footer.bin')));
    assert.ok(nf.checksumOk);
    assert.strictEqual(nf.diskType, 2);
  });

  for (const sub of ['dynamic', 'fixed']) {
    it(`agrees with qemu-img and vhdiinfo on a qemu-made ${sub} VHD`, async function () {
      const p = qemuCreate('vpc', path.join(dir(), `q-${sub}.vhd`), '100M', ['-o', `subformat=${sub}`]);
      assert.strictEqual(await detectFormat(p), 'vhd');
      const i = await inspectImage(p);
      assert.strictEqual(i.subtype, sub);
      assert.strictEqual(i.virtualSize, qemuInfo(p, 'vpc')['virtual-size']);
      const v = vhdiInfo(p);
      assert.strictEqual(i.id, v.identifier);
      assert.strictEqual(i.virtualSize, v.mediaSize);
      assert.deepStrictEqual(i.problems, []);
      if (sub === 'dynamic') assert.strictEqual(i.details!.allocatedBlocks, 0);
    });
  }

  it('counts allocated blocks after qemu-io writes', async function () {
    const p = qemuCreate('vpc', path.join(dir(), 'w.vhd'), '64M');
    run('qemu-io', ['-f', 'vpc', '-c', 'write -P 0x11 0 4k', '-c', 'write -P 0x22 33M 4k', p]);
    const i = await inspectImage(p);
    assert.strictEqual(i.details!.allocatedBlocks, 2);
  });

  it('falls back to the footer copy at 0 when the end footer is gone (footer-missing)', async function () {
    const p = qemuCreate('vpc', path.join(dir(), 'nofooter.vhd'), '16M');
    const size = fs.statSync(p).size;
    fs.truncateSync(p, size - 512);
    assert.strictEqual(await detectFormat(p), 'vhd');
    const i = await inspectImage(p);
    assert.ok(codes(i).includes('footer-missing'));
    assert.strictEqual(i.subtype, 'dynamic');
  });

  it('reports a damaged dynamic header cookie as bad-header and its checksum as header-checksum', async function () {
    const p = qemuCreate('vpc', path.join(dir(), 'badhdr.vhd'), '16M');
    const h = readAt(p, 512, 1024);
    h.writeUInt32BE(h.readUInt32BE(32) ^ 0x10, 32); // block size changed without fixing the checksum
    patch(p, 512, h);
    assert.ok(codes(await inspectImage(p)).includes('header-checksum'));
    patch(p, 512, Buffer.from('xxsparse'));
    assert.ok(codes(await inspectImage(p)).includes('bad-header'));
  });

  it('reports BAT entries beyond the end of the file (bat-out-of-range) and a short fixed VHD (truncated)', async function () {
    const p = qemuCreate('vpc', path.join(dir(), 'bat.vhd'), '16M');
    const bat = Buffer.alloc(4);
    bat.writeUInt32BE(0x00100000);
    patch(p, 1536, bat);
    assert.ok(codes(await inspectImage(p)).includes('bat-out-of-range'));

    const f = qemuCreate('vpc', path.join(dir(), 'short.vhd'), '8M', ['-o', 'subformat=fixed']);
    const footer = readAt(f, fs.statSync(f).size - 512, 512);
    fs.truncateSync(f, 4 * 1024 * 1024);
    fs.appendFileSync(f, footer);
    assert.ok(codes(await inspectImage(f)).includes('truncated'));
  });

  it('decodes every locator encoding', function () {
    assert.strictEqual(decodeLocator('W2ru', Buffer.from('.\\p.vhd\0', 'utf16le')), '.\\p.vhd');
    assert.strictEqual(decodeLocator('Wi2k', Buffer.from('C:\\vm\\p.vhd\0\0', 'latin1')), 'C:\\vm\\p.vhd');
    assert.strictEqual(decodeLocator('MacX', Buffer.from('file://localhost/Users/me/My%20Disk.vhd')), '/Users/me/My Disk.vhd');
  });

  it('footer checksum is the one\'s complement byte sum', function () {
    const b = Buffer.alloc(512);
    b.write('conectix');
    const c = vhdChecksum(b, 64);
    let sum = 0;
    for (const x of Buffer.from('conectix')) sum += x;
    assert.strictEqual(c, ~sum >>> 0);
  });
});
