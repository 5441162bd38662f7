// vdisk's own FUSE server (src/worker/linux/fuse, engine engines/vdisk-fuse.ts) through a real worker: read-only
// attach of differencing VHDX/AVHDX and VHD chains and of a dynamic VHDX, the device byte-identical to the block
// layer's openDisk (and to qemu-img convert where qemu reads the format); detach, a killed server and a worker that
// goes away leave no mount, process or loop device; read-write of a differencing disk stays refused.
import * as assert from 'assert';
import * as cp from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as P from '../../src/common/protocol';
import { createDifferencingDisk, inspectImage } from '../../src/formats';
import { applyOverlays, writeVhdChildBlock, writeVhdxChildBlock } from '../support/diff-writer';
import { WorkerClient } from '../../src/host/worker-client';
import { newClient } from '../support/worker';
import { daemonOf, deviceSha, deviceSuite, exited, openDiskBytes, qemuImg, qemuWrite, rawOf, rejectsWith, serverLog, sha } from './linux-support';

const MiB = 1 << 20;


describe('Linux engine: vdisk\'s own FUSE server (real devices)', function () {
  this.timeout(90_000);
  let dir: string;
  let client: WorkerClient;
  deviceSuite('vdisk-vfuse-', (d, c) => { dir = d; client = c; }, () => client);

  /** base (qemu) <- mid <- top (our writer), over three folders; mid owns block 1 whole, top a few sectors of block 0. */
  async function chain(ext: 'vhd' | 'vhdx'): Promise<{ top: string; layers: string[]; expected: Buffer }> {
    for (const d of ['base', 'mid', 'top']) fs.mkdirSync(path.join(dir, d));
    const fmt = ext === 'vhd' ? 'vpc' : 'vhdx';
    const base = path.join(dir, 'base', `base.${ext}`);
    qemuImg(['create', '-q', '-f', fmt, ...(ext === 'vhd' ? ['-o', 'force_size=on'] : []), base, '32M']);
    qemuWrite(base, fmt, 0x11, 0, 8 * MiB);
    qemuWrite(base, fmt, 0xcd, 20 * MiB, MiB);
    const child = ext === 'vhdx' ? 'avhdx' : 'vhd';
    const mid = path.join(dir, 'mid', `mid.${child}`);
    const top = path.join(dir, 'top', `top 'child' $(x).${child}`);
    await createDifferencingDisk(base, mid);
    await createDifferencingDisk(mid, top);
    const block = (await inspectImage(top)).blockSize!;
    const midOverlay = ext === 'vhd' ? writeVhdChildBlock(mid, 1, [[0, 8]], 7) : await writeVhdxChildBlock(mid, 1, 'full', [[0, block / 512]], 7);
    const topOverlay = ext === 'vhd' ? writeVhdChildBlock(top, 0, [[0, 8], [100, 3]], 9) : await writeVhdxChildBlock(top, 0, 'partial', [[0, 8], [100, 3]], 9);
    const baseBytes = rawOf(base, fmt, dir);
    return { top, layers: [top, mid, base], expected: applyOverlays(baseBytes, midOverlay, topOverlay) };
  }

  for (const ext of ['vhdx', 'vhd'] as const) {
    it(`differencing ${ext.toUpperCase()} chain over 3 folders: read-only through vdisk-fuse, byte-identical to openDisk; read-write refused`, async () => {
      const { top, layers, expected } = await chain(ext);
      const sums = layers.map((l) => sha(fs.readFileSync(l)));
      const disk = await client.request(P.Attach, { path: top, readOnly: true, lifetime: 'session' });
      assert.strictEqual(disk.engine, 'vdisk-fuse');
      assert.deepStrictEqual(disk.chain?.filter((c) => c.role !== 'extent').map((c) => c.path), layers);
      const mine = await openDiskBytes(top);
      assert.ok(mine.equals(expected), 'openDisk shows the child over the mid layer over the base');
      assert.strictEqual(deviceSha(disk.device), sha(expected), 'the device reads what openDisk reads');
      const pid = daemonOf(disk.device);
      assert.match(fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8'), /fuse-server\.js/);
      await client.request(P.Detach, { target: disk.device });
      await exited(pid);
      assert.deepStrictEqual(layers.map((l) => sha(fs.readFileSync(l))), sums, 'read-only changed no layer');
      await assert.rejects(client.request(P.Attach, { path: top, readOnly: false, lifetime: 'session' }),
        rejectsWith(P.ErrorCode.UnsupportedImage, /cannot be attached read-write here.*read-only/, 'differencing-read-write'));
    });
  }

  it('the capability report offers differencing VHDX read-only (vdisk-fuse), never read-write', async () => {
    const caps = await client.request(P.GetCapabilities);
    const k = caps.kinds.find((x) => x.kind === 'vhdx-differencing')!;
    assert.deepStrictEqual([k.readOnly, k.readWrite, k.engine], ['yes', 'no', 'vdisk-fuse']);
    assert.match(k.readWriteWhy!, /read-only on Linux/);
  });

  it('dynamic VHDX: read-only through vdisk-fuse by default, byte-identical to qemu-img convert; VDISK_FUSE_DYNAMIC=0 and read-write: qemu', async () => {
    const img = path.join(dir, 'dyn.vhdx');
    qemuImg(['create', '-q', '-f', 'vhdx', img, '48M']);
    qemuWrite(img, 'vhdx', 0x5a, MiB, 3 * MiB);
    qemuWrite(img, 'vhdx', 0x33, 40 * MiB, 5 * MiB + 512);
    const raw = rawOf(img, 'vhdx', dir);
    await client.stop();
    client = newClient({ env: { VDISK_FUSE_DYNAMIC: '0' } });
    const plain = await client.request(P.Attach, { path: img, readOnly: true, lifetime: 'session' });
    assert.strictEqual(plain.engine, 'qemu', 'VDISK_FUSE_DYNAMIC=0 keeps qemu-storage-daemon');
    assert.strictEqual(deviceSha(plain.device), sha(raw));
    await client.request(P.Detach, { target: plain.device });
    await client.stop();
    client = newClient();
    const disk = await client.request(P.Attach, { path: img, readOnly: true, lifetime: 'session' });
    assert.deepStrictEqual([disk.engine, disk.sizeBytes], ['vdisk-fuse', 48 * MiB]);
    assert.strictEqual(deviceSha(disk.device), sha(raw));
    // 1020 KiB reads where a pipe holds 1 MiB (no CAP_SYS_RESOURCE), 1024 KiB where it may grow
    assert.match(serverLog(disk.device), /(1020|1024) KiB reads, spliced$/m, 'replies are spliced from the image file');
    await client.request(P.Detach, { target: disk.device });
    await client.stop();
    client = newClient({ env: { VDISK_FUSE_SPLICE: '0' } });
    const copied = await client.request(P.Attach, { path: img, readOnly: true, lifetime: 'session' });
    assert.strictEqual(deviceSha(copied.device), sha(raw), 'the copying path reads the same');
    assert.match(serverLog(copied.device), /1024 KiB reads$/m, 'replies copied: full 1 MiB reads');
    await client.request(P.Detach, { target: copied.device });
    const rw = await client.request(P.Attach, { path: img, readOnly: false, lifetime: 'session' });
    assert.strictEqual(rw.engine, 'qemu', 'read-write never goes to vdisk-fuse');
    await client.request(P.Detach, { target: rw.device });
  });

  it('kill -9 of the server under an attached chain: reads fail, the worker answers, detach leaves nothing', async () => {
    const { top } = await chain('vhdx');
    const disk = await client.request(P.Attach, { path: top, readOnly: true, lifetime: 'session' });
    const pid = daemonOf(disk.device);
    process.kill(pid, 'SIGKILL');
    await exited(pid);
    const r = cp.spawnSync('dd', [`if=${disk.device}`, 'of=/dev/null', 'bs=64k', 'count=16', 'skip=64', 'iflag=direct', 'status=none'], { encoding: 'utf8', timeout: 20_000 });
    assert.notStrictEqual(r.status, 0, 'a dead server gives I/O errors, not data');
    assert.match(r.stderr, /Input\/output error/);
    assert.ok((await client.request(P.List)).some((d) => d.device === disk.device), 'the worker still answers');
    await client.request(P.Detach, { target: disk.device });
    // the suite's leak check: no loop device, FUSE mount, server process or scratch folder
  });

  it('a permanent attach outlives the worker, is found again as ours and detaches with its server', async () => {
    const { top, expected } = await chain('vhd');
    const disk = await client.request(P.Attach, { path: top, readOnly: true, lifetime: 'permanent' });
    await client.stop();
    client = newClient();
    const listed = (await client.request(P.List)).find((d) => d.device === disk.device);
    assert.deepStrictEqual([listed?.image, listed?.engine, listed?.ours, listed?.lifetime], [top, 'vdisk-fuse', true, 'permanent']);
    assert.strictEqual(deviceSha(disk.device), sha(expected));
    const pid = daemonOf(disk.device);
    await client.request(P.Detach, { target: top });
    await exited(pid);
  });

  it('kill -9 of the worker with a session chain attached: the reaper takes down the loop, the mount and the server', async () => {
    const { top } = await chain('vhdx');
    const disk = await client.request(P.Attach, { path: top, readOnly: true, lifetime: 'session' });
    const pid = daemonOf(disk.device);
    process.kill(client.pid!, 'SIGKILL');
    await exited(pid); // the reaper stops the server (the suite then checks nothing else is left)
  });
});
