// What the Linux backend leaves behind: nothing after kill -9 of a worker holding session disks (loop devices,
// partition loops, FUSE mounts, daemons, volume mounts), nothing after a failed attach, nothing after 32
// concurrent requests; and what an unprivileged worker says it is missing.
import * as assert from 'assert';
import * as cp from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as P from '../../src/common/protocol';
import { createDifferencingDisk } from '../../src/formats';
import { WorkerClient } from '../../src/host/worker-client';
import { captureLog, CLI, newClient } from '../support/worker';
import { deviceSuite, exited, leaks, NO_LEAKS, qemuImg, qemuWrite, readDevice, rejectsWith, RUN_DIR, settle } from './linux-support';

const MiB = 1 << 20;


function mbrExt4(img: string, dir: string, sizeMiB = 24): void {
  cp.execFileSync('truncate', ['-s', `${sizeMiB}M`, img]);
  cp.execFileSync('sfdisk', ['-q', img], { input: 'label: dos\n,4M,83\n,,83\n' });
  const part = path.join(dir, 'part.ext4');
  cp.execFileSync('truncate', ['-s', `${sizeMiB - 5}M`, part]);
  cp.execFileSync('mkfs.ext4', ['-q', '-F', '-L', 'INSIDE', part]);
  cp.execFileSync('dd', [`if=${part}`, `of=${img}`, 'bs=1M', 'seek=5', 'conv=notrunc', 'status=none']);
  fs.rmSync(part);
}

describe('Linux backend lifecycle: crashes, failures, concurrency (real devices)', function () {
  this.timeout(90_000);
  let dir: string;
  let client: WorkerClient;

  deviceSuite('vdisk-life-', (d, c) => { dir = d; client = c; }, () => client);

  it('kill -9 of the worker with session disks of every engine (one mounted) leaves no loop device, FUSE mount or daemon', async () => {
    const vhdx = path.join(dir, 'd.vhdx'); qemuImg(['create', '-q', '-f', 'vhdx', vhdx, '32M']);
    const raw = path.join(dir, 'mbr.img'); mbrExt4(raw, dir);
    const base = path.join(dir, 'base.vhd'); qemuImg(['create', '-q', '-f', 'vpc', '-o', 'force_size=on', base, '16M']);
    const child = path.join(dir, 'child.vhd'); await createDifferencingDisk(base, child);
    const disks: P.AttachedDisk[] = [];
    // the dynamic VHDX read-write: qemu-storage-daemon (read-only it would go to vdisk's server, like the child)
    for (const p of [vhdx, raw, child]) disks.push(await client.request(P.Attach, { path: p, readOnly: p !== vhdx, lifetime: 'session' }));
    assert.deepStrictEqual(disks.map((d) => d.engine), ['qemu', 'loop', 'vdisk-fuse']);
    const vols = await client.request(P.Mount, { device: disks[1].device });
    assert.ok(vols.some((v) => v.mountPoint), 'the ext4 partition is mounted');
    const before = leaks(dir);
    assert.strictEqual(before.daemons.length, 2, JSON.stringify(before));
    assert.ok(before.mounts.length >= 3, JSON.stringify(before));
    process.kill(client.pid!, 'SIGKILL');
    const left = await settle(dir, undefined, 10_000);
    assert.deepStrictEqual(left, NO_LEAKS);
    assert.deepStrictEqual(fs.readdirSync(path.join(RUN_DIR, 'disks')).filter((n) => disks.some((d) => n === `${path.basename(d.device)}.json`)), []);
  });

  it('a worker killed between answering a session attach and writing its record leaves no loop device and no record', async () => {
    // the record of a session disk on a plain loop device is written after the reply: the kernel's autoclear
    // (our fd dies with us) is what keeps a crash in between from leaving the device behind
    await client.stop();
    client = newClient({ env: { VDISK_TEST_CRASH_AFTER: 'attach:1' } });
    const raw = path.join(dir, 'plain.img'); fs.writeFileSync(raw, Buffer.alloc(8 * MiB));
    await client.request(P.List);
    const pid = client.pid!;
    const disk = await client.request(P.Attach, { path: raw, readOnly: true, lifetime: 'session' });
    assert.strictEqual(disk.engine, 'loop');
    assert.ok(disk.ours, 'the reply describes the disk as ours');
    await exited(pid);
    assert.deepStrictEqual(await settle(dir), NO_LEAKS);
    assert.ok(!fs.existsSync(path.join(RUN_DIR, 'disks', `${path.basename(disk.device)}.json`)), 'no record of it');
    client = newClient();
    assert.ok(!(await client.request(P.List)).some((d) => d.image === raw), 'a new worker lists nothing of it');
  });

  it('a clean worker shutdown releases session disks of every engine, mounts included', async () => {
    const log = captureLog();
    await client.stop();
    client = newClient({ log });
    const vhdx = path.join(dir, 'd.vhdx'); qemuImg(['create', '-q', '-f', 'vhdx', vhdx, '32M']);
    const raw = path.join(dir, 'mbr.img'); mbrExt4(raw, dir);
    const base = path.join(dir, 'base.vhd'); qemuImg(['create', '-q', '-f', 'vpc', base, '16M']);
    const child = path.join(dir, 'child.vhd'); await createDifferencingDisk(base, child);
    for (const p of [vhdx, raw, child]) await client.request(P.Attach, { path: p, readOnly: true, lifetime: 'session' });
    const raw2 = (await client.request(P.List)).find((d) => d.image === raw)!;
    await client.request(P.Mount, { device: raw2.device });
    await client.stop();
    assert.deepStrictEqual(leaks(dir), NO_LEAKS, 'nothing is left right after the worker exits');
    // it exited by itself after answering vdisk/shutdown, instead of being killed at the client's shutdown timeout
    assert.ok(!log.lines.some((l) => /did not exit within/.test(l)), log.lines.join('\n'));
  });

  it('a qemu disk detached by another tool (losetup -d) has its daemon and FUSE export released at the next list', async () => {
    const img = path.join(dir, 'ext.vhdx'); qemuImg(['create', '-q', '-f', 'vhdx', img, '16M']);
    const disk = await client.request(P.Attach, { path: img, readOnly: true, lifetime: 'permanent' });
    assert.strictEqual(leaks(dir).daemons.length, 1);
    cp.execFileSync('losetup', ['-d', disk.device]);
    assert.ok(!(await client.request(P.List)).some((d) => d.image === img));
    assert.deepStrictEqual(leaks(dir), NO_LEAKS);
  });

  it('a failed attach leaves nothing: qemu cannot lock an image attached read-write elsewhere', async () => {
    const img = path.join(dir, 'locked.qcow2'); qemuImg(['create', '-q', '-f', 'qcow2', img, '16M']);
    const a = await client.request(P.Attach, { path: img, readOnly: false, lifetime: 'session' });
    const other = newClient();
    try {
      const snapshot = leaks(dir);
      await assert.rejects(other.request(P.Attach, { path: img, readOnly: false, lifetime: 'session' }), rejectsWith(P.ErrorCode.Busy, /in use|lock/i, 'locked'));
      assert.deepStrictEqual(leaks(dir), snapshot, 'the failed attach left something');
    } finally { await other.stop(); }
    await client.request(P.Detach, { target: a.device });
  });

  it('a failed attach leaves nothing: a damaged qcow2 the daemon refuses', async () => {
    const img = path.join(dir, 'bad.qcow2'); qemuImg(['create', '-q', '-f', 'qcow2', img, '16M']);
    const fd = fs.openSync(img, 'r+');
    fs.writeSync(fd, Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xf0]), 0, 8, 40); // L1 table offset past EOF, unaligned
    fs.closeSync(fd);
    await assert.rejects(client.request(P.Attach, { path: img, readOnly: true, lifetime: 'session' }), (e: unknown) => {
      const err = e as { code: number; message: string };
      assert.ok([P.ErrorCode.ImageProblem, P.ErrorCode.UnsupportedImage].includes(err.code), `${err.code}: ${err.message}`);
      return true;
    });
    assert.deepStrictEqual(leaks(dir), NO_LEAKS);
  });

  it('32 concurrent attach and detach requests over raw, VHDX and differencing images leave nothing', async () => {
    const base = path.join(dir, 'base.vhd'); qemuImg(['create', '-q', '-f', 'vpc', '-o', 'force_size=on', base, '8M']); qemuWrite(base, 'vpc', 0x11, 0, 4096);
    const imgs = Array.from({ length: 32 }, (_, i) => {
      const p = path.join(dir, `c${i}${i % 4 === 0 ? '.img' : i % 4 === 3 ? '-diff.vhd' : '.vhdx'}`);
      if (p.endsWith('.img')) fs.writeFileSync(p, Buffer.alloc(MiB, 0x11));
      else if (p.endsWith('.vhdx')) { qemuImg(['create', '-q', '-f', 'vhdx', p, '8M']); qemuWrite(p, 'vhdx', 0x11, 0, 4096); }
      return p;
    });
    for (const p of imgs.filter((x) => x.endsWith('-diff.vhd'))) await createDifferencingDisk(base, p);
    const disks = await Promise.all(imgs.map((p) => client.request(P.Attach, { path: p, readOnly: true, lifetime: 'session' })));
    assert.strictEqual(new Set(disks.map((d) => d.device)).size, 32);
    for (const d of disks) assert.strictEqual(readDevice(d.device, 0, 1)[0], 0x11, d.image ?? '');
    await Promise.all(disks.map((d) => client.request(P.Detach, { target: d.device })));
    assert.deepStrictEqual(await settle(dir), NO_LEAKS);
  });

  it('an unprivileged worker says exactly what is missing', function () {
    const img = path.join(dir, 'u.img'); fs.writeFileSync(img, Buffer.alloc(MiB));
    fs.chmodSync(dir, 0o755); fs.chmodSync(img, 0o644);
    const r = cp.spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, CLI, 'attach', '--read-only', img],
      { encoding: 'utf8', env: { ...process.env, VDISK_RUN_DIR: '', XDG_RUNTIME_DIR: '', DBUS_SYSTEM_BUS_ADDRESS: `unix:path=${path.join(dir, 'no-bus')}` }, timeout: 30_000 });
    assert.strictEqual(r.status, 2, r.stderr);
    assert.match(r.stderr, /Not running as root \(uid 65534\)/);
    assert.match(r.stderr, /\/dev\/loop-control/);
    assert.match(r.stderr, /no system D-Bus at .*no-bus|udisksctl is not installed/);
  });
});
