// Real third-party images (../shared/images, skipped when absent) through the Linux engines: Windows-made dynamic
// VHD/VHDX with NTFS (mounted with ntfs-3g: the kernel here has no ntfs3), a qemu-made VHD with ext2, and a VHDX
// whose log must be replayed (qemu does it on a read-write attach; the partitions appear afterwards).
import * as assert from 'assert';
import * as fs from 'fs';
import * as P from '../../src/common/protocol';
import { WorkerClient } from '../../src/host/worker-client';
import { requireSharedImages, sharedImage } from '../support/shared-images';
import { deviceSuite } from './linux-support';

describe('Linux engines on real third-party images', function () {
  this.timeout(60_000);
  let dir: string;
  let client: WorkerClient;

  deviceSuite('vdisk-shared-', (d, c) => { dir = d; client = c; }, () => client, { before: (ctx) => { requireSharedImages(ctx); } });

  for (const rel of ['vhd/dissect-win10-dynamic.vhd.gz', 'vhdx/dissect-win10-dynamic.vhdx.gz', 'vhdx/dissect-win10-fixed.vhdx.gz']) {
    // Windows' fixed VHDX maps every block in order: a plain loop device with an offset (flat-layouts.test.ts)
    const engine = rel.includes('fixed') ? 'loop' : 'vdisk-fuse'; // read-only dynamic VHD/VHDX: vdisk's own FUSE server (plan.ts)
    it(`${rel}: ${engine} engine, the NTFS partition is found and mounts read-only`, async function () {
      const img = sharedImage(this, rel);
      const before = fs.readFileSync(img);
      const disk = await client.request(P.Attach, { path: img, readOnly: true, lifetime: 'session' });
      assert.deepStrictEqual([disk.engine, disk.sizeBytes], [engine, 10485760]);
      assert.deepStrictEqual(disk.volumes?.map((v) => v.fsType), ['ntfs']);
      const vols = await client.request(P.Mount, { device: disk.device });
      assert.ok(vols[0].mountPoint && fs.statSync(vols[0].mountPoint).isDirectory());
      await client.request(P.Detach, { target: disk.device });
      assert.ok(fs.readFileSync(img).equals(before), 'read-only attach changed the image');
    });
  }

  it('vhd/dfvfs-qemu-ext2-dynamic.vhd: ext2 on the whole disk, mounted by the kernel', async function () {
    const img = sharedImage(this, 'vhd/dfvfs-qemu-ext2-dynamic.vhd.gz');
    const disk = await client.request(P.Attach, { path: img, readOnly: true, lifetime: 'session' });
    assert.deepStrictEqual(disk.volumes?.map((v) => [v.device, v.fsType]), [[disk.device, 'ext2']]);
    const vols = await client.request(P.Mount, { device: disk.device });
    assert.ok(fs.readdirSync(vols[0].mountPoint!).includes('lost+found'));
    await client.request(P.Detach, { target: disk.device });
  });

  it('vhdx/discutils-win10-dirty-log.vhdx: a read-write attach replays the log, and its two partitions appear', async function () {
    const img = sharedImage(this, 'vhdx/discutils-win10-dirty-log.vhdx.gz', true);
    const disk = await client.request(P.Attach, { path: img, readOnly: false, lifetime: 'session' });
    assert.strictEqual(disk.volumes?.length, 2);
    await client.request(P.Detach, { target: disk.device });
    const info = await client.request(P.Inspect, { path: img });
    assert.strictEqual(info.needsLogReplay, false, 'the log was replayed into the file');
  });
});
