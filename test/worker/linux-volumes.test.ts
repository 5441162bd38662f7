// Volumes of attached disks: partitions found without kernel partition parsers (one loop per partition),
// file systems probed, mounted under the mount root (kernel ext4, FUSE for ISO 9660), unmounted before detach,
// and the storage dependency information for devices, mount points and nested images.
import * as assert from 'assert';
import * as cp from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as P from '../../src/common/protocol';
import { WorkerClient } from '../../src/host/worker-client';
import { isRoot, newClient, tmpDir } from '../support/worker';
import { forceCleanup, mountsUnder, need, NO_LEAKS, qemuImg, rejectsWith, settle } from './linux-support';

/** An ext4 file system with `files` in it, placed as partition 2 of an MBR disk image written into `dev`. */
function writeMbrExt4(target: string, dir: string, files: Record<string, string>, sizeMiB = 24): void {
  const content = path.join(dir, 'content'); fs.mkdirSync(content, { recursive: true });
  for (const [n, t] of Object.entries(files)) fs.writeFileSync(path.join(content, n), t);
  const part = path.join(dir, 'part.ext4');
  cp.execFileSync('truncate', ['-s', `${sizeMiB - 5}M`, part]);
  cp.execFileSync('mkfs.ext4', ['-q', '-F', '-L', 'INSIDE', '-d', content, part]);
  cp.execFileSync('sfdisk', ['-q', target], { input: 'label: dos\n,4M,83\n,,83\n' });
  cp.execFileSync('dd', [`if=${part}`, `of=${target}`, 'bs=1M', 'seek=5', 'conv=notrunc,fsync', 'status=none']);
  fs.rmSync(part); fs.rmSync(content, { recursive: true });
}

describe('Linux volumes, mounts and dependency information (real devices)', function () {
  this.timeout(60_000);
  let dir: string;
  let mountRoot: string;
  let client: WorkerClient;

  before(function () {
    if (!isRoot) { console.log('    (these tests need root for loop devices; CI runs as root)'); this.skip(); }
  });
  beforeEach(() => {
    dir = tmpDir('vdisk-vol-');
    mountRoot = path.join(dir, 'mounts');
    client = newClient({ env: { ...process.env, VDISK_MOUNT_ROOT: mountRoot } });
  });
  afterEach(async () => {
    await client.stop();
    const left = await settle(dir, mountRoot);
    forceCleanup(dir, mountRoot);
    fs.rmSync(dir, { recursive: true, force: true });
    assert.deepStrictEqual(left, NO_LEAKS, 'a test left something behind');
  });

  it('mounts the ext4 partition of an MBR raw image read-only under the mount root, and detach unmounts it', async () => {
    const img = path.join(dir, 'mbr.img'); cp.execFileSync('truncate', ['-s', '24M', img]);
    writeMbrExt4(img, dir, { 'hello.txt': 'hello from partition 2' });
    const disk = await client.request(P.Attach, { path: img, readOnly: true, lifetime: 'session' });
    assert.deepStrictEqual(disk.volumes?.map((v) => [v.offset, v.size, v.fsType, v.label, v.readOnly]),
      [[1 << 20, 4 << 20, null, null, true], [5 << 20, 19 << 20, 'ext4', 'INSIDE', true]]);
    const vols = await client.request(P.Mount, { device: disk.device });
    const mp = vols[1].mountPoint!;
    assert.strictEqual(path.dirname(path.dirname(mp)), mountRoot);
    assert.strictEqual(fs.readFileSync(path.join(mp, 'hello.txt'), 'utf8'), 'hello from partition 2');
    assert.throws(() => fs.writeFileSync(path.join(mp, 'new.txt'), 'x'), /EROFS/);
    const listed = (await client.request(P.List)).find((d) => d.device === disk.device)!;
    assert.strictEqual(listed.volumes?.[1].mountPoint, mp);
    assert.ok(!(await client.request(P.List)).some((d) => d.device === vols[1].device), 'partition loops are volumes, not disks');
    await client.request(P.Detach, { target: disk.device });
    assert.deepStrictEqual(mountsUnder(mountRoot), []);
  });

  it('mounts ext4 inside a dynamic VHDX read-write; the file written there is in the image after re-attach', async () => {
    const img = path.join(dir, 'vol.vhdx'); qemuImg(['create', '-q', '-f', 'vhdx', img, '24M']);
    let disk = await client.request(P.Attach, { path: img, readOnly: false, lifetime: 'session' });
    writeMbrExt4(disk.device, dir, { 'a.txt': 'first' });
    let vols = await client.request(P.Mount, { device: disk.device });
    assert.strictEqual(vols.length, 2, 'partitions are found after they were written (the mount looks again)');
    const mp = vols[1].mountPoint!;
    assert.strictEqual(fs.readFileSync(path.join(mp, 'a.txt'), 'utf8'), 'first');
    fs.writeFileSync(path.join(mp, 'b.txt'), 'written through the VHDX');
    vols = await client.request(P.Unmount, { device: disk.device });
    assert.ok(vols.every((v) => v.mountPoint === null));
    await client.request(P.Detach, { target: disk.device });
    disk = await client.request(P.Attach, { path: img, readOnly: true, lifetime: 'session' });
    vols = await client.request(P.Mount, { device: disk.device });
    assert.strictEqual(fs.readFileSync(path.join(vols[1].mountPoint!, 'b.txt'), 'utf8'), 'written through the VHDX');
    await client.request(P.Detach, { target: disk.device });
  });

  it('refuses to detach when a mount vdisk did not make holds a volume', async () => {
    const img = path.join(dir, 'mbr.img'); cp.execFileSync('truncate', ['-s', '24M', img]);
    writeMbrExt4(img, dir, { 'x.txt': 'x' });
    const disk = await client.request(P.Attach, { path: img, readOnly: true, lifetime: 'session' });
    const mnt = path.join(dir, 'foreign'); fs.mkdirSync(mnt);
    cp.execFileSync('mount', ['-o', 'ro', disk.volumes![1].device, mnt]);
    try {
      await assert.rejects(client.request(P.Detach, { target: disk.device }), rejectsWith(P.ErrorCode.Busy, /mounted at .*foreign/, 'mounted'));
    } finally { cp.execFileSync('umount', [mnt]); }
    await client.request(P.Detach, { target: disk.device });
  });

  it('mounts an ISO 9660 image with fuseiso when the kernel has no iso9660', async function () {
    if (fs.readFileSync('/proc/filesystems', 'utf8').includes('iso9660')) { console.log('    (kernel has iso9660: the FUSE path is not taken here)'); this.skip(); }
    need('fuseiso', 'fuseiso');
    const src = path.join(dir, 'isosrc'); fs.mkdirSync(src); fs.writeFileSync(path.join(src, 'readme.txt'), 'iso content');
    const iso = path.join(dir, 'x.iso');
    cp.execFileSync(need('xorriso', 'xorriso'), ['-as', 'mkisofs', '-quiet', '-R', '-J', '-V', 'VDISKISO', '-o', iso, src], { stdio: 'ignore' });
    const disk = await client.request(P.Attach, { path: iso, readOnly: true, lifetime: 'session' });
    assert.deepStrictEqual(disk.volumes?.map((v) => [v.fsType, v.label]), [['iso9660', 'VDISKISO']]);
    const vols = await client.request(P.Mount, { device: disk.device });
    assert.strictEqual(fs.readFileSync(path.join(vols[0].mountPoint!, 'readme.txt'), 'utf8'), 'iso content');
    await client.request(P.Detach, { target: disk.device });
  });

  it('FAT without kernel vfat: fusefat mounts it read-write, and the file is there after re-attach', async function () {
    if (fs.readFileSync('/proc/filesystems', 'utf8').includes('vfat')) { console.log('    (kernel has vfat: the FUSE path is not taken here)'); this.skip(); }
    need('fusefat', 'fusefat');
    const img = path.join(dir, 'fat.img'); cp.execFileSync('truncate', ['-s', '16M', img]);
    cp.execFileSync(need('mkfs.vfat', 'dosfstools'), ['-n', 'VDISKFAT', img], { stdio: 'ignore' });
    let disk = await client.request(P.Attach, { path: img, readOnly: false, lifetime: 'session' });
    assert.deepStrictEqual(disk.volumes?.map((v) => [v.fsType, v.label]), [['vfat', 'VDISKFAT']]);
    let vols = await client.request(P.Mount, { device: disk.device });
    fs.writeFileSync(path.join(vols[0].mountPoint!, 'NOTE.TXT'), 'via fusefat');
    await client.request(P.Detach, { target: disk.device });
    disk = await client.request(P.Attach, { path: img, readOnly: true, lifetime: 'session' });
    vols = await client.request(P.Mount, { device: disk.device });
    assert.strictEqual(fs.readFileSync(path.join(vols[0].mountPoint!, 'NOTE.TXT'), 'utf8'), 'via fusefat');
    await client.request(P.Detach, { target: disk.device });
  });

  it('a file system neither the kernel nor a FUSE tool can mount (UDF here) gives MissingDependency naming the module', async function () {
    if (fs.readFileSync('/proc/filesystems', 'utf8').includes('udf')) { console.log('    (kernel has udf: nothing is missing here)'); this.skip(); }
    const img = path.join(dir, 'u.udf'); cp.execFileSync('truncate', ['-s', '8M', img]);
    cp.execFileSync(need('mkudffs', 'udftools'), ['--media-type=hd', '--label=VDISKUDF', img], { stdio: 'ignore' });
    const disk = await client.request(P.Attach, { path: img, readOnly: true, lifetime: 'session' });
    assert.deepStrictEqual(disk.volumes?.map((v) => v.fsType), ['udf']);
    await assert.rejects(client.request(P.Mount, { device: disk.device }), (e: unknown) => {
      const err = e as { code: number; message: string; data: P.ErrorData };
      assert.strictEqual(err.code, P.ErrorCode.MissingDependency, err.message);
      assert.match(err.message, /kernel cannot mount udf/);
      assert.strictEqual(err.data.missing, 'kernel:udf');
      return true;
    });
    assert.deepStrictEqual(mountsUnder(mountRoot), []);
    await client.request(P.Detach, { target: disk.device });
  });

  it('deps: one entry per layer for a device and for its mount point; the host volume lists nested images', async () => {
    const outer = path.join(dir, 'outer.vhdx'); qemuImg(['create', '-q', '-f', 'vhdx', outer, '24M']);
    const disk = await client.request(P.Attach, { path: outer, readOnly: false, lifetime: 'permanent' });
    try {
      writeMbrExt4(disk.device, dir, {});
      await client.request(P.Detach, { target: disk.device });
      const again = await client.request(P.Attach, { path: outer, readOnly: false, lifetime: 'session' });
      const vols = await client.request(P.Mount, { device: again.device });
      const mp = vols[1].mountPoint!;
      const inner = path.join(mp, 'inner.img'); fs.writeFileSync(inner, Buffer.alloc(1 << 20));
      const nested = await client.request(P.Attach, { path: inner, readOnly: true, lifetime: 'session' });
      const own = await client.request(P.Deps, { target: mp });
      assert.strictEqual(own.length, 1);
      assert.deepStrictEqual([own[0].dependencyDevice, own[0].dependentVolume, own[0].ancestorLevel, own[0].storageType.device, own[0].flags],
        [again.device, vols[1].device, 1, 'vhdx', []]);
      assert.strictEqual(path.join(own[0].hostVolume!, own[0].dependentVolumeRelativePath), fs.realpathSync(outer));
      const hosted = await client.request(P.Deps, { target: dir });
      const devices = hosted.map((d) => d.dependencyDevice);
      assert.ok(devices.includes(again.device) && devices.includes(nested.device), JSON.stringify(hosted));
      const n = hosted.find((d) => d.dependencyDevice === nested.device)!;
      assert.deepStrictEqual([n.hostVolume, n.dependentVolumeRelativePath, n.flags], [mp, 'inner.img', ['read-only', 'fully-allocated']]);
      await client.request(P.Detach, { target: nested.device });
      await client.request(P.Detach, { target: again.device });
    } finally {
      await client.request(P.Detach, { target: outer }).catch(() => undefined);
    }
  });
});
