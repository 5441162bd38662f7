// The unprivileged path through udisks2. The full round trip (attach, list, mount, unmount, detach, session end) needs
// systemd-udevd, which is machine-wide: it runs only with VDISK_TEST_UDISKS=1 (see docs/linux.md). Everything else
// runs on a private D-Bus (own config and socket) with a private udisksd and polkitd, stopped afterwards.
import * as assert from 'assert';
import * as cp from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { CLI, isRoot, makeExt4, tmpDir } from '../support/worker';

import { loopsOn, NOBODY, POLKITD, PrivateBus, running, sleep, UDEVD, UDISKSD, until } from './private-bus';

function asNobody(args: string[], env: NodeJS.ProcessEnv, timeout = 60_000) {
  return cp.spawnSync('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', process.execPath, ...args], { encoding: 'utf8', env, timeout });
}

/** The tests that start systemd-udevd (machine-wide) run on CI, which runs nothing beside them, or when asked. */
const UDISKS_FULL = process.env.VDISK_TEST_UDISKS === '1' || process.env.CI === 'true';

describe('linux: unprivileged attach through udisks2', function () {
  this.timeout(120_000);
  let dir: string;
  let bus: PrivateBus;
  let image: string;

  before(function () {
    if (!isRoot) { console.log('    (skipped: needs root to run the D-Bus, polkit and udisks daemons and a worker as nobody)'); this.skip(); }
    for (const f of [UDISKSD, POLKITD, '/usr/bin/udisksctl', '/usr/bin/dbus-daemon', '/usr/bin/gdbus']) {
      assert.ok(fs.existsSync(f), `${f} is missing: apt-get install --no-install-recommends udisks2 polkitd dbus libglib2.0-bin`);
    }
  });

  beforeEach(async () => {
    dir = tmpDir('vdisk-udisks-');
    fs.chmodSync(dir, 0o755);
    const content = path.join(dir, 'content');
    fs.mkdirSync(content);
    fs.writeFileSync(path.join(content, 'hello.txt'), 'hello from udisks\n');
    image = path.join(dir, 'disk.img');
    makeExt4(image, 16, content);
    fs.chownSync(image, NOBODY, NOBODY);
    fs.mkdirSync(path.join(dir, 'run'), { mode: 0o700 }); // the worker trusts only a private run folder (run-dir.ts)
    fs.chownSync(path.join(dir, 'run'), NOBODY, NOBODY);
    bus = new PrivateBus(dir);
    await bus.startBus();
  });

  afterEach(async () => {
    for (const d of loopsOn(image)) {
      for (const l of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
        const f = l.split(' ');
        if (f[9] === d) cp.spawnSync('umount', [f[4]]);
      }
      cp.spawnSync('losetup', ['-d', d]);
    }
    await bus.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('fails within seconds naming what udisks lacks, and leaves no loop device', async function () {
    if (fs.existsSync('/run/udev/control')) { console.log('    (skipped: systemd-udevd runs on this machine, so udisks cannot lack it; the round trip covers this path)'); this.skip(); }
    await bus.startUdisks();
    // udisks without udevd sets a loop up and then hangs 40 s: the worker must refuse before calling it at all.
    // A udisksctl first on PATH records every call; it must record none.
    const calls = path.join(dir, 'udisksctl-calls');
    const bin = path.join(dir, 'bin');
    fs.mkdirSync(bin, { recursive: true, mode: 0o755 });
    fs.writeFileSync(path.join(bin, 'udisksctl'), `#!/bin/sh\necho "$*" >> '${calls}'\nexec /usr/bin/udisksctl "$@"\n`, { mode: 0o755 });
    fs.writeFileSync(calls, '', { mode: 0o666 });
    fs.chmodSync(calls, 0o666);
    const r = asNobody([CLI, 'attach', '--read-only', image], { ...bus.env, VDISK_RUN_DIR: path.join(dir, 'run'), PATH: `${bin}:${process.env.PATH}` });
    assert.strictEqual(r.status, 2, `${r.stdout}${r.stderr}`);
    assert.match(r.stderr, /Not running as root \(uid 65534\).*\/dev\/loop-control.*systemd-udevd is not running/);
    assert.strictEqual(fs.readFileSync(calls, 'utf8'), '', 'udisksctl was never called');
    assert.deepStrictEqual(loopsOn(image), []);
  });

  it('a udisks call that never answers times out within the limit and names the loop it left (VDISK_TEST_UDISKS=1)', async function () {
    if (!UDISKS_FULL) { console.log('    (skipped: creates /run/udev/control, machine-wide; runs on CI or with VDISK_TEST_UDISKS=1)'); this.skip(); }
    if (fs.existsSync('/run/udev')) { console.log('    (skipped: this machine has real udev state in /run/udev; not faking it)'); this.skip(); }
    // udisks waits for a udev event that never comes when udevd does not run; a stand-in control file makes the
    // worker believe udevd runs, so the call really goes out and hangs
    fs.mkdirSync('/run/udev');
    try {
      fs.writeFileSync('/run/udev/control', '');
      await bus.startUdisks();
      const r = asNobody([CLI, 'attach', '--read-only', image], { ...bus.env, VDISK_RUN_DIR: path.join(dir, 'run'), VDISK_UDISKS_TIMEOUT_MS: '2000' });
      assert.strictEqual(r.status, 2, `${r.stdout}${r.stderr}`);
      // the worker's own limit ended the call, not udisks' 40 s wait for udev
      assert.match(r.stderr, /udisks could not attach .*no answer within 2000 ms/);
      // udisks cannot delete a loop udev never announced, and the user cannot: it must be named, for root to remove
      const left = loopsOn(image);
      for (const d of left) assert.match(r.stderr, new RegExp(`left .*${d}\\b.* attached .*losetup -d .*${d}\\b`));
      if (!left.length) assert.doesNotMatch(r.stderr, /left \/dev\/loop/);
      console.log(`      udisks without udevd: ${r.stderr.trim()}`);
    } finally {
      fs.rmSync('/run/udev', { recursive: true, force: true });
    }
  });

  it('attaches, lists, mounts, unmounts and detaches an ext4 image as nobody (VDISK_TEST_UDISKS=1)', async function () {
    if (!UDISKS_FULL) {
      console.log('    (skipped: starts systemd-udevd, which is machine-wide; runs on CI or with VDISK_TEST_UDISKS=1, see docs/linux.md)');
      this.skip();
    }
    const ownUdevd = !fs.existsSync('/run/udev/control');
    const hadUdevDir = fs.existsSync('/run/udev');
    const hadMediaNobody = fs.existsSync('/media/nobody');
    let udevd: cp.ChildProcess | undefined;
    if (ownUdevd) {
      assert.deepStrictEqual(running('systemd-udevd'), [], 'a systemd-udevd runs without /run/udev/control: not touching it');
      udevd = cp.spawn(UDEVD, [], { stdio: 'ignore' });
      assert.ok(await until(() => fs.existsSync('/run/udev/control'), 5000), 'systemd-udevd did not start');
    }
    try {
      await bus.startUdisks();
      const r = asNobody([path.join(__dirname, 'linux-udisks-driver.js'), image, 'hello.txt'], { ...bus.env, VDISK_RUN_DIR: path.join(dir, 'run') });
      const out = JSON.parse(r.stdout || '{}') as Record<string, any>;
      const info = JSON.stringify(out, null, 1) + r.stderr;
      assert.ok(out.attach?.device?.startsWith('/dev/loop'), info);
      assert.strictEqual(out.attach.lifetime, 'permanent', info);
      const listed = (out.list as any[]).find((d) => d.device === out.attach.device);
      assert.ok(listed?.ours, info);
      assert.strictEqual(out.fileContent, 'hello from udisks\n', info);
      assert.ok(String(out.mount.find((v: any) => v.mountPoint)?.mountPoint).startsWith('/media/nobody/'), info);
      assert.ok(out.unmount.every((v: any) => v.mountPoint === null), info);
      assert.strictEqual(out.detach?.device, out.attach.device, info);
      assert.strictEqual(out.attachSession?.lifetime, 'session', info);
      assert.strictEqual(out.sessionFileContent, 'hello from udisks\n', info);
      assert.strictEqual(out.sessionWrite, 'EROFS', info);
      assert.strictEqual(out.stop, 'stopped', info);
      assert.ok(String(out.killedMountPoint).startsWith('/media/nobody/'), info);
      assert.strictEqual(out.killedLoopGone, true, `kill -9: the reaper did not delete the udisks loop\n${info}`);
      assert.ok(!fs.readFileSync('/proc/self/mountinfo', 'utf8').includes('/media/nobody/'), 'a udisks mount outlived the worker');
      assert.deepStrictEqual(loopsOn(image), [], 'the session disk outlived the worker');
      console.log(`      udisks as nobody: attach ${out.attachMs} ms, mount ${out.mountMs} ms, unmount ${out.unmountMs} ms, detach ${out.detachMs} ms, session attach ${out.attachSessionMs} ms; `
        + `the user's open() of the loop device: ${out.openDevice} (${out.deviceMode})`);
    } finally {
      await bus.stop();
      if (udevd) {
        const exited = new Promise((res) => udevd!.once('exit', res));
        udevd.kill('SIGTERM');
        await Promise.race([exited, sleep(3000)]);
        if (udevd.exitCode === null && udevd.signalCode === null) udevd.kill('SIGKILL');
      }
      if (ownUdevd && !hadUdevDir) fs.rmSync('/run/udev', { recursive: true, force: true });
      if (!hadMediaNobody) { try { fs.rmdirSync('/media/nobody'); } catch { /* not made */ } }
    }
  });
});
