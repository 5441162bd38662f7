// The unprivileged path through udisks2. The full round trip (attach, list, mount, unmount, detach, session end) needs
// systemd-udevd, which is machine-wide: it runs only with VDISK_TEST_UDISKS=1 (see docs/linux.md). Everything else
// runs on a private D-Bus (own config and socket) with a private udisksd and polkitd, stopped afterwards.
import * as assert from 'assert';
import * as cp from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { CLI, isRoot, makeExt4, tmpDir } from '../support/worker';

const NOBODY = 65534;
const UDISKSD = '/usr/libexec/udisks2/udisksd';
const POLKITD = '/usr/lib/polkit-1/polkitd';
const UDEVD = '/lib/systemd/systemd-udevd';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function busConfig(socket: string): string {
  return `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN" "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><type>system</type><listen>unix:path=${socket}</listen><auth>EXTERNAL</auth>
<policy context="default"><allow user="*"/><deny own="*"/><deny send_type="method_call"/><allow send_type="signal"/>
<allow send_requested_reply="true" send_type="method_return"/><allow send_requested_reply="true" send_type="error"/>
<allow receive_type="method_call"/><allow receive_type="method_return"/><allow receive_type="error"/><allow receive_type="signal"/>
<allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
<allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
<allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Properties"/></policy>
<policy user="root"><allow own="*"/></policy><includedir>/usr/share/dbus-1/system.d</includedir></busconfig>`;
}

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond()) { if (Date.now() > end) return false; await sleep(50); }
  return true;
}

function running(comm: string): number[] {
  return fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n)).filter((n) => {
    try {
      const st = fs.readFileSync(`/proc/${n}/stat`, 'utf8');
      return st.slice(st.indexOf('(') + 1, st.lastIndexOf(')')) === comm && !st.slice(st.lastIndexOf(')') + 2).startsWith('Z');
    } catch { return false; }
  }).map(Number);
}

const loopsOn = (file: string) => fs.readdirSync('/sys/block').filter((n) => /^loop\d+$/.test(n)).filter((n) => {
  try { return fs.readFileSync(`/sys/block/${n}/loop/backing_file`, 'utf8').trim() === file; } catch { return false; }
}).map((n) => `/dev/${n}`);

/** A private system bus with udisksd (and polkitd with a rule that lets `nobody` use udisks) on it. */
class PrivateBus {
  readonly socket: string;
  readonly procs: cp.ChildProcess[] = [];
  readonly rule = `/etc/polkit-1/rules.d/49-vdisk-test-${process.pid}.rules`;
  constructor(readonly dir: string) { this.socket = path.join(dir, 'bus.sock'); }
  get address(): string { return `unix:path=${this.socket}`; }
  get env(): NodeJS.ProcessEnv { return { ...process.env, DBUS_SYSTEM_BUS_ADDRESS: this.address }; }

  private spawn(file: string, args: string[]): cp.ChildProcess {
    const p = cp.spawn(file, args, { env: this.env, stdio: ['ignore', 'ignore', 'pipe'] });
    p.stderr!.on('data', () => undefined);
    this.procs.push(p);
    return p;
  }

  async startBus(): Promise<void> {
    fs.writeFileSync(path.join(this.dir, 'bus.conf'), busConfig(this.socket));
    this.spawn('dbus-daemon', [`--config-file=${path.join(this.dir, 'bus.conf')}`, '--nofork', '--nopidfile']);
    assert.ok(await until(() => fs.existsSync(this.socket), 5000), 'private dbus-daemon did not start');
  }

  hasName(name: string): boolean {
    const r = cp.spawnSync('gdbus', ['call', '--system', '--timeout', '2', '--dest', 'org.freedesktop.DBus', '--object-path', '/org/freedesktop/DBus',
      '--method', 'org.freedesktop.DBus.NameHasOwner', name], { env: this.env, encoding: 'utf8' });
    return r.stdout.includes('true');
  }

  async startUdisks(): Promise<void> {
    fs.mkdirSync(path.dirname(this.rule), { recursive: true });
    fs.writeFileSync(this.rule, `polkit.addRule(function(action, subject) {
  if (action.id.indexOf("org.freedesktop.udisks2.") === 0 && subject.user === "nobody") return polkit.Result.YES;
});\n`);
    this.spawn(POLKITD, ['--no-debug']);
    assert.ok(await until(() => this.hasName('org.freedesktop.PolicyKit1'), 8000), 'private polkitd did not start');
    this.spawn(UDISKSD, []);
    assert.ok(await until(() => this.hasName('org.freedesktop.UDisks2'), 10_000), 'private udisksd did not start');
  }

  async stop(): Promise<void> {
    for (const p of [...this.procs].reverse()) {
      if (p.exitCode !== null || p.signalCode !== null) continue;
      const exited = new Promise((r) => p.once('exit', r));
      p.kill('SIGTERM');
      await Promise.race([exited, sleep(3000)]);
      if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    }
    fs.rmSync(this.rule, { force: true });
  }
}

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
