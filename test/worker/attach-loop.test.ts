// The loop engine on real loop devices through a real worker: raw, ISO, fixed VHD; lifetimes; errors; no leaks.
import * as assert from 'assert';
import * as cp from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as P from '../../src/common/protocol';
import { WorkerClient } from '../../src/host/worker-client';
import { loopsUnder, makeExt4, newClient, sha256 } from '../support/worker';
import { deviceSuite, readDevice, rejectsWith, RUN_DIR } from './linux-support';


function gone(device: string): boolean {
  return !fs.existsSync(`/sys/block/${path.basename(device)}/loop/backing_file`);
}

async function waitGone(device: string): Promise<void> {
  for (let i = 0; i < 100 && !gone(device); i++) await new Promise((r) => setTimeout(r, 20));
  assert.ok(gone(device), `${device} is still attached`);
}

describe('loop engine (real devices)', function () {
  this.timeout(60_000);
  let dir: string;
  let client: WorkerClient;

  deviceSuite('vdisk-test-', (d, c) => { dir = d; client = c; }, () => client);

  it('attaches a raw image read-only: the device shows its bytes, refuses writes, and the file is unchanged', async () => {
    const img = path.join(dir, 'disk.img');
    makeExt4(img);
    const before = sha256(img);
    const disk = await client.request(P.Attach, { path: img, readOnly: true, lifetime: 'session' });
    assert.match(disk.device, /^\/dev\/loop\d+$/);
    assert.deepStrictEqual({ image: disk.image, readOnly: disk.readOnly, engine: disk.engine, lifetime: disk.lifetime, ours: disk.ours },
      { image: img, readOnly: true, engine: 'loop', lifetime: 'session', ours: true });
    assert.strictEqual(disk.sizeBytes, 16 << 20);
    assert.ok(readDevice(disk.device, 1024, 1024).equals(Buffer.from(fs.readFileSync(img).subarray(1024, 2048))));
    const wfd = fs.openSync(disk.device, 'r+'); // root may open it; the kernel refuses the write
    try { assert.throws(() => fs.writeSync(wfd, Buffer.alloc(512, 1), 0, 512, 0), /EPERM|EROFS|EACCES/); } finally { fs.closeSync(wfd); }
    // a read-only mount through the kernel works and changes nothing
    const mnt = path.join(dir, 'mnt'); fs.mkdirSync(mnt);
    cp.execFileSync('mount', ['-o', 'ro,noload', disk.device, mnt]);
    cp.execFileSync('umount', [mnt]);
    await client.request(P.Detach, { target: disk.device });
    assert.strictEqual(sha256(img), before);
  });

  it('attaches read-write: data written through the device lands in the file', async () => {
    const img = path.join(dir, 'rw.img');
    fs.writeFileSync(img, Buffer.alloc(4 << 20));
    const disk = await client.request(P.Attach, { path: img, readOnly: false, lifetime: 'session' });
    assert.strictEqual(disk.readOnly, false);
    const fd = fs.openSync(disk.device, 'r+');
    fs.writeSync(fd, Buffer.from('written through the loop device'), 0, undefined, 3 << 20);
    fs.fsyncSync(fd); fs.closeSync(fd);
    await client.request(P.Detach, { target: img });
    assert.strictEqual(fs.readFileSync(img).subarray(3 << 20, (3 << 20) + 31).toString(), 'written through the loop device');
  });

  it('attaches a fixed VHD without its footer, and a read-write attach leaves the footer intact', async () => {
    const img = path.join(dir, 'fixed.vhd');
    cp.execFileSync('qemu-img', ['create', '-q', '-f', 'vpc', '-o', 'subformat=fixed,force_size=on', img, '8M']);
    const footer = fs.readFileSync(img).subarray(-512);
    const disk = await client.request(P.Attach, { path: img, readOnly: false, lifetime: 'session' });
    assert.strictEqual(disk.sizeBytes, 8 << 20, 'size limit = file size - 512');
    const fd = fs.openSync(disk.device, 'r+');
    try {
      fs.writeSync(fd, Buffer.alloc(4096, 0xab), 0, 4096, (8 << 20) - 4096);
      assert.throws(() => fs.writeSync(fd, Buffer.alloc(512, 1), 0, 512, 8 << 20), /ENOSPC|EINVAL|EIO/);
    } finally { fs.closeSync(fd); }
    await client.request(P.Detach, { target: disk.device });
    assert.ok(fs.readFileSync(img).subarray(-512).equals(footer), 'footer unchanged');
    const expected = path.join(dir, 'expected.raw');
    const want = Buffer.alloc(8 << 20); want.fill(0xab, (8 << 20) - 4096);
    fs.writeFileSync(expected, want);
    const cmp = cp.spawnSync('qemu-img', ['compare', '-f', 'vpc', '-F', 'raw', img, expected], { encoding: 'utf8' });
    assert.strictEqual(cmp.status, 0, cmp.stdout + cmp.stderr);
  });

  it('attaches an ISO read-only and refuses it read-write with the reason', async () => {
    const src = path.join(dir, 'src'); fs.mkdirSync(src); fs.writeFileSync(path.join(src, 'hello.txt'), 'hello');
    const iso = path.join(dir, 'cd.iso');
    cp.execFileSync('xorriso', ['-as', 'mkisofs', '-quiet', '-V', 'VDISKTEST', '-o', iso, src], { stdio: 'ignore' });
    await assert.rejects(client.request(P.Attach, { path: iso, readOnly: false, lifetime: 'session' }),
      rejectsWith(P.ErrorCode.UnsupportedImage, /only be attached read-only/, 'iso-read-write'));
    assert.deepStrictEqual(loopsUnder(dir), [], 'a refused attach leaves no device');
    const disk = await client.request(P.Attach, { path: iso, readOnly: true, lifetime: 'session' });
    assert.strictEqual(readDevice(disk.device, 32768 + 1, 5).toString(), 'CD001');
    await client.request(P.Detach, { target: disk.device });
  });

  it('session lifetime: the disk goes away when the worker is killed -9', async () => {
    const img = path.join(dir, 's.img'); fs.writeFileSync(img, Buffer.alloc(1 << 20));
    const disk = await client.request(P.Attach, { path: img, readOnly: true, lifetime: 'session' });
    assert.ok(!gone(disk.device));
    process.kill(client.pid!, 'SIGKILL');
    await waitGone(disk.device);
  });

  it('permanent lifetime: survives the worker, is found again as ours, and detaches by image path', async () => {
    const img = path.join(dir, 'p.img'); fs.writeFileSync(img, Buffer.alloc(1 << 20));
    const disk = await client.request(P.Attach, { path: img, readOnly: true, lifetime: 'permanent' });
    await client.stop();
    assert.ok(!gone(disk.device), 'still attached after the worker stopped');
    client = newClient();
    const listed = (await client.request(P.List)).find((d) => d.device === disk.device);
    assert.ok(listed);
    assert.deepStrictEqual({ image: listed.image, lifetime: listed.lifetime, ours: listed.ours, readOnly: listed.readOnly },
      { image: img, lifetime: 'permanent', ours: true, readOnly: true });
    const r = await client.request(P.Detach, { target: img });
    assert.deepStrictEqual(r, { device: disk.device, image: img });
    await waitGone(disk.device);
  });

  it('lists loop devices attached by other tools as not ours', async () => {
    const img = path.join(dir, 'other.img'); fs.writeFileSync(img, Buffer.alloc(1 << 20));
    const dev = cp.execFileSync('losetup', ['-f', '--show', '-r', img], { encoding: 'utf8' }).trim();
    const listed = (await client.request(P.List)).find((d) => d.device === dev);
    assert.ok(listed, `${dev} is not listed`);
    assert.deepStrictEqual({ image: listed.image, ours: listed.ours, lifetime: listed.lifetime, readOnly: listed.readOnly, engine: listed.engine },
      { image: img, ours: false, lifetime: 'permanent', readOnly: true, engine: 'loop' });
    await client.request(P.Detach, { target: dev });
    await waitGone(dev);
  });

  it('reports clear errors and attaches nothing on bad input', async () => {
    await assert.rejects(client.request(P.Attach, { path: path.join(dir, 'missing.img'), readOnly: true, lifetime: 'session' }),
      rejectsWith(P.ErrorCode.NotFound, /missing\.img does not exist/));
    await assert.rejects(client.request(P.Attach, { path: dir, readOnly: true, lifetime: 'session' }),
      rejectsWith(P.ErrorCode.UnsupportedImage, /is not a regular file/, 'not-a-file'));
    await assert.rejects(client.request(P.Attach, { path: path.join(dir, 'x'), readOnly: true, lifetime: 'forever' as P.Lifetime }),
      rejectsWith(P.ErrorCode.InvalidParams, /lifetime must be/));
    await assert.rejects(client.request(P.Detach, { target: path.join(dir, 'never-attached.img') }),
      rejectsWith(P.ErrorCode.NotAttached, /is not attached/));
    await assert.rejects(client.request(P.Detach, { target: '/dev/loop250' }), rejectsWith(P.ErrorCode.NotAttached, /not attached/));
    const empty = path.join(dir, 'empty.img'); fs.writeFileSync(empty, '');
    await assert.rejects(client.request(P.Attach, { path: empty, readOnly: true, lifetime: 'session' }),
      rejectsWith(P.ErrorCode.UnsupportedImage, /empty\.img is empty/, 'empty'));
    assert.deepStrictEqual(loopsUnder(dir), []);
  });

  it('refuses to detach a mounted disk and says where it is mounted', async () => {
    const img = path.join(dir, 'm.img'); makeExt4(img);
    const disk = await client.request(P.Attach, { path: img, readOnly: true, lifetime: 'session' });
    const mnt = path.join(dir, 'mnt'); fs.mkdirSync(mnt);
    cp.execFileSync('mount', ['-o', 'ro,noload', disk.device, mnt]);
    try {
      await assert.rejects(client.request(P.Detach, { target: disk.device }), rejectsWith(P.ErrorCode.Busy, /is mounted at .*mnt\b.*unmount it first/, "mounted"));
    } finally { cp.execFileSync('umount', [mnt]); }
    await client.request(P.Detach, { target: disk.device });
  });

  it('asks for the device when an image is attached twice', async () => {
    const img = path.join(dir, 'twice.img'); fs.writeFileSync(img, Buffer.alloc(1 << 20));
    const a = await client.request(P.Attach, { path: img, readOnly: true, lifetime: 'session' });
    const b = await client.request(P.Attach, { path: img, readOnly: true, lifetime: 'session' });
    await assert.rejects(client.request(P.Detach, { target: img }), rejectsWith(P.ErrorCode.InvalidParams, /attached 2 times .*name the device/));
    await client.request(P.Detach, { target: a.device });
    await client.request(P.Detach, { target: img });
    await waitGone(b.device);
  });

  it('attaches files with hostile names', async () => {
    const names = ['with space.img', "quote'and\"dq.img", '$(touch pwned).img', 'new\nline.img', '-leading-dash.img', 'ünïcødé ☃.img', `${'long'.repeat(60)}.img`];
    for (const name of names) {
      const img = path.join(dir, name); fs.writeFileSync(img, Buffer.alloc(1 << 20));
      const disk = await client.request(P.Attach, { path: img, readOnly: true, lifetime: 'session' });
      assert.strictEqual(disk.image, img, JSON.stringify(name));
      const listed = (await client.request(P.List)).find((d) => d.device === disk.device);
      assert.strictEqual(listed?.image, img, JSON.stringify(name));
      await client.request(P.Detach, { target: img });
    }
    assert.ok(!fs.existsSync(path.join(dir, 'pwned')) && !fs.existsSync('pwned'));
  });

  it('notifies the client when disks change', async () => {
    const img = path.join(dir, 'n.img'); fs.writeFileSync(img, Buffer.alloc(1 << 20));
    const seen: string[] = [];
    client.on('disksChanged', (p: P.DisksChangedParams) => seen.push(p.reason));
    const disk = await client.request(P.Attach, { path: img, readOnly: true, lifetime: 'session' });
    await client.request(P.Detach, { target: disk.device });
    await new Promise((r) => setTimeout(r, 50));
    assert.deepStrictEqual(seen, ['attach', 'detach']);
  });

  it('records a session disk once the worker is idle; one detached at once goes without a record', async () => {
    const recordOf = (device: string) => path.join(RUN_DIR, 'disks', `${path.basename(device)}.json`);
    const kept = path.join(dir, 'kept.img'); fs.writeFileSync(kept, Buffer.alloc(1 << 20));
    const a = await client.request(P.Attach, { path: kept, readOnly: true, lifetime: 'session' });
    for (let i = 0; i < 250 && !fs.existsSync(recordOf(a.device)); i++) await new Promise((r) => setTimeout(r, 20));
    assert.strictEqual(JSON.parse(fs.readFileSync(recordOf(a.device), 'utf8')).image, kept, 'written without any further request');
    // through a symbolic link: both replies name the file as the kernel does (the link resolved), the size is the file's
    const real = path.join(dir, 'quick.img'); fs.writeFileSync(real, Buffer.alloc(3 << 20));
    const link = path.join(dir, 'quick-link.img'); fs.symlinkSync(real, link);
    const b = await client.request(P.Attach, { path: link, readOnly: true, lifetime: 'session' });
    assert.deepStrictEqual({ image: b.image, sizeBytes: b.sizeBytes, ours: b.ours }, { image: real, sizeBytes: 3 << 20, ours: true });
    const detached = await client.request(P.Detach, { target: b.device });
    assert.deepStrictEqual(detached, { device: b.device, image: real });
    assert.ok(gone(b.device), 'the device is gone when the detach answers');
    const listed = await client.request(P.List); // every record still waiting is written before a listing
    assert.ok(!listed.some((d) => d.device === b.device && d.image === real));
    assert.ok(listed.some((d) => d.device === a.device && d.image === kept && d.ours));
    assert.ok(!fs.existsSync(recordOf(b.device)) || JSON.parse(fs.readFileSync(recordOf(b.device), 'utf8')).image !== real, 'no record of the detached disk');
    await client.request(P.Detach, { target: a.device });
    assert.ok(!fs.existsSync(recordOf(a.device)) || JSON.parse(fs.readFileSync(recordOf(a.device), 'utf8')).image !== kept);
  });

  it('notices a disk attached by another tool when watching', async () => {
    await client.stop();
    client = newClient({ watch: true });
    await client.request(P.List);
    const img = path.join(dir, 'ext.img'); fs.writeFileSync(img, Buffer.alloc(1 << 20));
    const changed = new Promise<P.DisksChangedParams>((resolve) => client.once('disksChanged', resolve));
    await new Promise((r) => setTimeout(r, 100));
    const dev = cp.execFileSync('losetup', ['-f', '--show', '-r', img], { encoding: 'utf8' }).trim();
    try {
      assert.deepStrictEqual(await changed, { reason: 'external' });
    } finally { cp.execFileSync('losetup', ['-d', dev]); }
  });

  it('handles 32 concurrent attach and detach requests without leaking', async () => {
    const imgs = Array.from({ length: 32 }, (_, i) => { const p = path.join(dir, `c${i}.img`); fs.writeFileSync(p, Buffer.alloc(256 << 10)); return p; });
    const disks = await Promise.all(imgs.map((p) => client.request(P.Attach, { path: p, readOnly: true, lifetime: 'session' })));
    assert.strictEqual(new Set(disks.map((d) => d.device)).size, 32);
    await Promise.all(disks.map((d) => client.request(P.Detach, { target: d.device })));
    for (const d of disks) await waitGone(d.device);
  });
});
