// What the block layer refuses, and that each refusal is a FormatError naming the feature and the layer:
// encrypted and zstd-compressed qcow2, a VHDX whose log needs replay, differencing VDI, ESX-only VMDK extents,
// damaged structures (reserved BAT states, misaligned tables, truncated fixed disks).
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { openDisk } from '../../../src/formats/open-disk';
import { inspectImage } from '../../../src/formats/inspect';
import { crc32cWithZeroField } from '../../../src/formats/crc32c';
import { REGION_BAT } from '../../../src/formats/vhdx/inspect';
import { patch, readAt, run, tempDir } from '../formats/helpers';

async function refused(file: string, code: string, re: RegExp, read = false): Promise<void> {
  const attempt = async () => {
    const d = await openDisk(file);
    try {
      if (read) await d.read(Buffer.alloc(d.size), 0);
    } finally { await d.close(); }
  };
  await assert.rejects(attempt(), (e: Error & { code?: string }) => {
    assert.strictEqual(e.name, 'FormatError', `${e.name}: ${e.message}`);
    assert.strictEqual(e.code, code, e.message);
    assert.match(e.message, re);
    assert.ok(e.message.includes(path.basename(file)), `names the layer: ${e.message}`);
    return true;
  });
}

describe('block layer: refusals name the feature and the layer', function () {
  this.timeout(30000);
  const dir = tempDir(this, 'vdisk-block-refuse-');
  const f = (n: string) => path.join(dir(), n);

  it('qcow2 with zstd compression', async function () {
    run('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', 'compression_type=zstd', f('z.qcow2'), '1M']);
    await refused(f('z.qcow2'), 'unsupported', /compression type zstd/);
  });

  it('encrypted qcow2 (AES, LUKS)', async function () {
    // creating a real LUKS image spends ~10 s deriving its key: the header's crypt method is what the reader checks
    for (const [method, name] of [[1, 'AES'], [2, 'LUKS']] as const) {
      run('qemu-img', ['create', '-q', '-f', 'qcow2', f(`e${method}.qcow2`), '1M']);
      const b = Buffer.alloc(4);
      b.writeUInt32BE(method);
      patch(f(`e${method}.qcow2`), 32, b);
      await refused(f(`e${method}.qcow2`), 'unsupported', new RegExp(`encrypted \\(${name}\\)`));
    }
  });

  it('a qcow2 whose L2 table offset is not cluster-aligned fails its read as corrupt', async function () {
    run('qemu-img', ['create', '-q', '-f', 'qcow2', f('l2.qcow2'), '1M']);
    run('qemu-io', ['-f', 'qcow2', '-c', 'write -P 1 0 4k', f('l2.qcow2')]);
    const l1 = Number(readAt(f('l2.qcow2'), 40, 8).readBigUInt64BE(0));
    const e = readAt(f('l2.qcow2'), l1, 8);
    e.writeBigUInt64BE(e.readBigUInt64BE(0) + 512n);
    patch(f('l2.qcow2'), l1, e);
    await refused(f('l2.qcow2'), 'corrupt', /L2 table offset .* not cluster-aligned/, true);
  });

  it('a VHDX whose log needs replay is refused rather than read stale', async function () {
    run('qemu-img', ['create', '-q', '-f', 'vhdx', f('log.vhdx'), '4M']);
    // the current header (the higher sequence) gets a non-zero LogGuid, re-sealed with its CRC-32C
    const hs = [64 * 1024, 128 * 1024].map((o) => [o, readAt(f('log.vhdx'), o, 4096)] as const);
    const [at, h] = hs.reduce((a, b) => (b[1].readBigUInt64LE(8) > a[1].readBigUInt64LE(8) ? b : a));
    h.fill(0x5a, 48, 64);
    h.writeUInt32LE(crc32cWithZeroField(h, 4), 4);
    patch(f('log.vhdx'), at, h);
    await refused(f('log.vhdx'), 'unsupported', /log must be replayed/);
  });

  it('a VHDX BAT entry in a reserved state fails the read as corrupt', async function () {
    run('qemu-img', ['create', '-q', '-f', 'vhdx', '-o', 'block_size=1M', f('bat.vhdx'), '4M']);
    run('qemu-io', ['-f', 'vhdx', '-c', 'write -P 2 0 1M', f('bat.vhdx')]);
    const info = await inspectImage(f('bat.vhdx'));
    const bat = (info.details!.regions as { guid: string; offset: number }[]).find((r) => r.guid === REGION_BAT)!;
    const e = readAt(f('bat.vhdx'), bat.offset, 8);
    e[0] = (e[0] & ~7) | 5;
    patch(f('bat.vhdx'), bat.offset, e);
    await refused(f('bat.vhdx'), 'corrupt', /reserved BAT state 5/, true);
  });

  it('a differencing VDI (its parent is known only to VirtualBox\'s registry)', async function () {
    run('qemu-img', ['create', '-q', '-f', 'vdi', f('d.vdi'), '4M']);
    const b = Buffer.alloc(4);
    b.writeUInt32LE(4);
    patch(f('d.vdi'), 0x4c, b);
    patch(f('d.vdi'), 0x1a8, Buffer.alloc(16, 0x42));
    await refused(f('d.vdi'), 'unsupported', /differencing VDI names its parent only by UUID/);
  });

  it('ESX-only VMDK extents (VMFSSPARSE, SESPARSE)', async function () {
    fs.writeFileSync(f('x.bin'), Buffer.alloc(4096));
    for (const t of ['VMFSSPARSE', 'SESPARSE']) {
      fs.writeFileSync(f(`${t}.vmdk`), `# Disk DescriptorFile\nversion=1\nCID=1\nparentCID=ffffffff\ncreateType="vmfsSparse"\n\n# Extent description\nRW 8 ${t} "x.bin"\n`);
      await refused(f(`${t}.vmdk`), 'unsupported', new RegExp(`extent type ${t}`));
    }
  });

  it('a fixed VHD cut short is refused as truncated', async function () {
    run('qemu-img', ['create', '-q', '-f', 'vpc', '-o', 'subformat=fixed', f('cut.vhd'), '2M']);
    const size = fs.statSync(f('cut.vhd')).size;
    const footer = readAt(f('cut.vhd'), size - 512, 512);
    fs.truncateSync(f('cut.vhd'), size - 512 - 65536);
    patch(f('cut.vhd'), size - 512 - 65536, footer);
    await refused(f('cut.vhd'), 'corrupt', /declared/);
  });
});
