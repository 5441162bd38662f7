// Faults under the engines: the daemon behind an attached disk dies, the worker dies while mounting, the file system
// under a read-write qemu attach fills up. Each time: the worker answers, the disk detaches cleanly, nothing leaks,
// and the image is not corrupted (qemu-img check).
import * as assert from 'assert';
import * as cp from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as P from '../../src/common/protocol';
import { createDifferencingDisk } from '../../src/formats';
import { WorkerClient } from '../../src/host/worker-client';
import { makeExt4 } from '../support/worker';
import { ResponseError } from 'vscode-jsonrpc';
import { daemonOf, deviceSuite, exited, killDuring, qemuImg } from './linux-support';

function check(img: string, fmt: string): void {
  const r = cp.spawnSync('qemu-img', ['check', '-f', fmt, img], { encoding: 'utf8' });
  assert.strictEqual(r.status, 0, `qemu-img check ${img}: ${r.stdout}${r.stderr}`);
}

function readFails(device: string): boolean {
  const r = cp.spawnSync('dd', [`if=${device}`, 'of=/dev/null', 'bs=64k', 'count=16', 'iflag=direct', 'status=none'], { encoding: 'utf8', timeout: 20_000 });
  return r.status !== 0;
}

describe('engine faults (real devices)', function () {
  this.timeout(90_000);
  let dir: string;
  let client: WorkerClient;
  deviceSuite('vdisk-ef-', (d, c) => { dir = d; client = c; }, () => client);

  it('qemu-storage-daemon killed under an attached qcow2: reads fail, the worker answers, detach cleans up, the image is sound', async () => {
    const img = path.join(dir, 'victim.qcow2');
    qemuImg(['create', '-q', '-f', 'qcow2', img, '32M']);
    const disk = await client.request(P.Attach, { path: img, readOnly: false, lifetime: 'session' });
    const pid = daemonOf(disk.device);
    assert.match(fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8'), /qemu-storage-daemon/);
    process.kill(pid, 'SIGKILL');
    await exited(pid);
    assert.ok(readFails(disk.device), 'reading through a dead export fails instead of returning data');
    assert.ok(Array.isArray(await client.request(P.List)), 'the worker still answers');
    await client.request(P.Detach, { target: disk.device });
    check(img, 'qcow2');
  });

  it('vdisk\'s FUSE server killed under an attached differencing disk: detach still cleans up', async () => {
    const parent = path.join(dir, 'p.vhd'); qemuImg(['create', '-q', '-f', 'vpc', '-o', 'force_size=on', parent, '16M']);
    const child = path.join(dir, 'c.vhd'); await createDifferencingDisk(parent, child);
    const disk = await client.request(P.Attach, { path: child, readOnly: true, lifetime: 'session' });
    assert.strictEqual(disk.engine, 'vdisk-fuse');
    const pid = daemonOf(disk.device);
    assert.match(fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8'), /fuse-server\.js/, 'the recorded server serves the chain');
    process.kill(pid, 'SIGKILL');
    await exited(pid);
    assert.ok(readFails(disk.device));
    await client.request(P.Detach, { target: disk.device });
  });

  it('kill -9 of the worker with a mount request pending: nothing stays mounted or attached, and a new worker works', async () => {
    const img = path.join(dir, 'm.img'); makeExt4(img);
    const disk = await client.request(P.Attach, { path: img, readOnly: true, lifetime: 'session' });
    const mounting = killDuring(client, () => client.request(P.Mount, { device: disk.device }));
    await assert.rejects(mounting, (e: unknown) => e instanceof ResponseError && e.code === P.ErrorCode.WorkerDied);
    // the leak check after this test waits for the reaper and fails if a mount or device is left
    assert.ok(Array.isArray(await client.request(P.List)));
  });

  it('a full file system under a read-write qcow2 attach fails the writer and leaves a sound image', async () => {
    const small = path.join(dir, 'small'); fs.mkdirSync(small);
    cp.execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', small]);
    try {
      const img = path.join(small, 'grow.qcow2');
      qemuImg(['create', '-q', '-f', 'qcow2', img, '64M']);
      const disk = await client.request(P.Attach, { path: img, readOnly: false, lifetime: 'session' });
      const w = cp.spawnSync('dd', ['if=/dev/urandom', `of=${disk.device}`, 'bs=1M', 'count=16', 'oflag=direct', 'status=none'], { encoding: 'utf8', timeout: 30_000 });
      assert.notStrictEqual(w.status, 0, 'writing 16 MiB into 3 MiB must fail');
      assert.ok((await client.request(P.List)).some((d) => d.device === disk.device), 'the worker still answers');
      await client.request(P.Detach, { target: disk.device });
      const r = cp.spawnSync('qemu-img', ['check', '-f', 'qcow2', img], { encoding: 'utf8' });
      // leaked clusters (status 3) are allowed after an interrupted write; corruption (status 2) is not
      assert.ok(r.status === 0 || r.status === 3, `qemu-img check: ${r.status} ${r.stdout}${r.stderr}`);
    } finally {
      for (let i = 0; i < 50 && cp.spawnSync('umount', [small]).status !== 0; i++) await new Promise((r) => setTimeout(r, 100));
      cp.spawnSync('umount', ['-l', small]);
    }
  });
});
