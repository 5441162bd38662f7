// The qemu-storage-daemon engine (and, for differencing chains, vdisk's own FUSE server) through a real worker: every format read-only and read-write, data written through the device and checked in the image
// with qemu-img, read-only attaches leave the file's sha256 unchanged, and differencing disks made by the format
// layer read their parents' data (more in linux-vdisk-fuse.test.ts).
import * as assert from 'assert';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import * as P from '../../src/common/protocol';
import { createDifferencingDisk, inspectImage } from '../../src/formats';
import { applyOverlays, writeVhdChildBlock, writeVhdxChildBlock } from '../support/diff-writer';
import { WorkerClient } from '../../src/host/worker-client';
import { newClient, sha256 } from '../support/worker';
import { deviceSuite, qemuImg, qemuWrite, rawOf, readDevice, rejectsWith, writeDevice } from './linux-support';

const MiB = 1 << 20;
const FORMATS: { name: string; fmt: string; opts: string[]; ext: string }[] = [
  { name: 'dynamic VHDX', fmt: 'vhdx', opts: [], ext: 'vhdx' },
  // qemu-img's fixed VHDX marks its blocks ZERO (block_state_zero=on): not one data run, so qemu serves it (the
  // FULLY_PRESENT layout Windows writes goes onto a plain loop device: flat-layouts.test.ts)
  { name: 'fixed VHDX', fmt: 'vhdx', opts: ['-o', 'subformat=fixed'], ext: 'vhdx' },
  { name: 'dynamic VHD', fmt: 'vpc', opts: ['-o', 'force_size=on'], ext: 'vhd' },
  { name: 'qcow2', fmt: 'qcow2', opts: [], ext: 'qcow2' },
  { name: 'VMDK', fmt: 'vmdk', opts: [], ext: 'vmdk' },
  { name: 'VDI', fmt: 'vdi', opts: [], ext: 'vdi' },
];

describe('Linux engines: qemu-storage-daemon and vdisk-fuse (real devices)', function () {
  this.timeout(60_000);
  let dir: string;
  let client: WorkerClient;

  deviceSuite('vdisk-eng-', (d, c) => { dir = d; client = c; }, () => client);

  function make(f: typeof FORMATS[number], name = `disk.${f.ext}`): string {
    const img = path.join(dir, name);
    qemuImg(['create', '-q', '-f', f.fmt, ...f.opts, img, '32M']);
    qemuWrite(img, f.fmt, 0x5a, MiB, 64 << 10);
    return img;
  }

  for (const f of FORMATS) {
    it(`${f.name}: read-write, data written through the device lands in the image`, async () => {
      const img = make(f);
      const disk = await client.request(P.Attach, { path: img, readOnly: false, lifetime: 'session' });
      assert.strictEqual(disk.engine, 'qemu');
      assert.strictEqual(disk.readOnly, false);
      assert.strictEqual(disk.sizeBytes, 32 * MiB);
      assert.ok(readDevice(disk.device, MiB, 64 << 10).every((b) => b === 0x5a), 'existing data reads through');
      const data = crypto.randomBytes(256 << 10);
      writeDevice(disk.device, 5 * MiB + 4096, data);
      await client.request(P.Detach, { target: disk.device });
      const raw = rawOf(img, f.fmt, dir);
      assert.ok(raw.subarray(5 * MiB + 4096, 5 * MiB + 4096 + data.length).equals(data), 'written data is in the image');
      assert.ok(raw.subarray(MiB, MiB + (64 << 10)).every((b) => b === 0x5a));
    });

    it(`${f.name}: read-only attach refuses writes and leaves the file's sha256 unchanged`, async () => {
      const img = make(f);
      const before = sha256(img);
      const disk = await client.request(P.Attach, { path: img, readOnly: true, lifetime: 'session' });
      assert.strictEqual(disk.readOnly, true);
      // read-only VHD/VHDX go to vdisk's own FUSE server (plan.ts, issue 15.2); the other formats to qemu
      assert.strictEqual(disk.engine, f.fmt === 'vhdx' || f.fmt === 'vpc' ? 'vdisk-fuse' : 'qemu');
      assert.ok(readDevice(disk.device, MiB, 64 << 10).every((b) => b === 0x5a));
      assert.throws(() => writeDevice(disk.device, 0, Buffer.alloc(4096, 1)), /EPERM|EROFS|EACCES/);
      await client.request(P.Detach, { target: img });
      assert.strictEqual(sha256(img), before);
    });
  }

  for (const ext of ['vhd', 'vhdx'] as ('vhd' | 'vhdx')[]) {
    it(`differencing ${ext.toUpperCase()} made by the format layer reads its parent's data through vdisk-fuse (chain over 3 folders)`, async () => {
      for (const d of ['base', 'mid', 'top']) fs.mkdirSync(path.join(dir, d));
      const base = path.join(dir, 'base', `base.${ext}`);
      const fmt = ext === 'vhd' ? 'vpc' : 'vhdx';
      qemuImg(['create', '-q', '-f', fmt, ...(ext === 'vhd' ? ['-o', 'force_size=on'] : []), base, '32M']);
      qemuWrite(base, fmt, 0xcd, 2 * MiB, MiB);
      const mid = path.join(dir, 'mid', `mid.${ext === 'vhdx' ? 'avhdx' : 'vhd'}`);
      const top = path.join(dir, 'top', `top 'child' $(x).${ext === 'vhdx' ? 'avhdx' : 'vhd'}`);
      await createDifferencingDisk(base, mid);
      await createDifferencingDisk(mid, top);
      const sums = [base, mid, top].map(sha256);
      const disk = await client.request(P.Attach, { path: top, readOnly: true, lifetime: 'session' });
      assert.strictEqual(disk.engine, 'vdisk-fuse');
      assert.deepStrictEqual(disk.chain?.map((c) => c.path), [top, mid, base]);
      assert.ok(readDevice(disk.device, 2 * MiB, MiB).every((b) => b === 0xcd), 'parent data reads through the child');
      assert.ok(readDevice(disk.device, 0, MiB).every((b) => b === 0));
      const deps = await client.request(P.Deps, { target: disk.device });
      assert.deepStrictEqual(deps.map((d) => [d.ancestorLevel, d.dependentVolumeRelativePath.split('/').pop(), d.flags.includes('parent')]),
        [[1, path.basename(top), false], [2, path.basename(mid), true], [3, path.basename(base), true]]);
      await client.request(P.Detach, { target: disk.device });
      assert.deepStrictEqual([base, mid, top].map(sha256), sums);
      await assert.rejects(client.request(P.Attach, { path: top, readOnly: false, lifetime: 'session' }),
        rejectsWith(P.ErrorCode.UnsupportedImage, /read-only/, 'differencing-read-write'));
    });
  }

  for (const ext of ['vhd', 'vhdx'] as ('vhd' | 'vhdx')[]) {
    it(`differencing ${ext.toUpperCase()} through vdisk-fuse shows the child's own data over its parents' (not the base's)`, async () => {
      const base = path.join(dir, `base.${ext}`);
      const fmt = ext === 'vhd' ? 'vpc' : 'vhdx';
      qemuImg(['create', '-q', '-f', fmt, ...(ext === 'vhd' ? ['-o', 'force_size=on'] : []), base, '32M']);
      qemuWrite(base, fmt, 0x11, 0, 32 * MiB);
      const mid = path.join(dir, `mid.${ext === 'vhdx' ? 'avhdx' : 'vhd'}`);
      const top = path.join(dir, `top.${ext === 'vhdx' ? 'avhdx' : 'vhd'}`);
      await createDifferencingDisk(base, mid);
      await createDifferencingDisk(mid, top);
      // the mid layer owns block 1, the child block 0 (first sectors only): each must win over what is below it
      const info = await inspectImage(top);
      const block = info.blockSize!;
      const midOverlay = ext === 'vhd' ? writeVhdChildBlock(mid, 1, [[0, 8]], 7) : await writeVhdxChildBlock(mid, 1, 'full', [[0, block / 512]], 7);
      const topOverlay = ext === 'vhd' ? writeVhdChildBlock(top, 0, [[0, 8]], 9) : await writeVhdxChildBlock(top, 0, 'partial', [[0, 8]], 9);
      const expected = applyOverlays(Buffer.alloc(2 * block, 0x11), midOverlay, topOverlay);
      const disk = await client.request(P.Attach, { path: top, readOnly: true, lifetime: 'session' });
      assert.strictEqual(disk.engine, 'vdisk-fuse');
      assert.ok(readDevice(disk.device, 0, 2 * block).equals(expected), 'the device shows the child over the mid layer over the base');
      await client.request(P.Detach, { target: disk.device });
    });
  }

  it('permanent qemu attach outlives the worker, is found again as ours and detaches with its daemon', async () => {
    const img = make(FORMATS.find((f) => f.fmt === 'qcow2')!); // read-only VHD/VHDX would go to vdisk's server
    const disk = await client.request(P.Attach, { path: img, readOnly: true, lifetime: 'permanent' });
    await client.stop();
    client = newClient();
    const listed = (await client.request(P.List)).find((d) => d.device === disk.device);
    assert.deepStrictEqual([listed?.image, listed?.engine, listed?.ours, listed?.lifetime], [img, 'qemu', true, 'permanent']);
    assert.ok(readDevice(disk.device, MiB, 4096).every((b) => b === 0x5a));
    const r = await client.request(P.Detach, { target: img });
    assert.strictEqual(r.device, disk.device);
  });

  it('attaches images with hostile names through qemu', async () => {
    const names = ['with space, comma.vhdx', "quote'and\"dq.vhdx", '$(touch pwned).vhdx', 'new\nline.vhdx', '-leading-dash.vhdx',
      'ünïcødé ☃.vhdx', `${'long'.repeat(58)}.vhdx`];
    for (const name of names) {
      const img = make(FORMATS[0], name);
      const disk = await client.request(P.Attach, { path: img, readOnly: true, lifetime: 'session' });
      assert.strictEqual(disk.image, img, JSON.stringify(name));
      assert.ok(readDevice(disk.device, MiB, 4096).every((b) => b === 0x5a), JSON.stringify(name));
      await client.request(P.Detach, { target: img });
    }
    assert.ok(!fs.existsSync(path.join(dir, 'pwned')) && !fs.existsSync('pwned'));
  });
});
