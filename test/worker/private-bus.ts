// A private system D-Bus with polkitd and udisksd on it, and systemd-udevd (machine-wide) for the udisks round trips:
// shared by the udisks2, udisks-over-FUSE and pkexec tests. Every daemon is stopped, every rule removed, afterwards.
import * as assert from 'assert';
import * as cp from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

export const NOBODY = 65534;
export const UDISKSD = '/usr/libexec/udisks2/udisksd';
export const POLKITD = '/usr/lib/polkit-1/polkitd';
export const UDEVD = '/lib/systemd/systemd-udevd';
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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

export async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond()) { if (Date.now() > end) return false; await sleep(50); }
  return true;
}

export function running(comm: string): number[] {
  return fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n)).filter((n) => {
    try {
      const st = fs.readFileSync(`/proc/${n}/stat`, 'utf8');
      return st.slice(st.indexOf('(') + 1, st.lastIndexOf(')')) === comm && !st.slice(st.lastIndexOf(')') + 2).startsWith('Z');
    } catch { return false; }
  }).map(Number);
}

export const loopsOn = (file: string) => fs.readdirSync('/sys/block').filter((n) => /^loop\d+$/.test(n)).filter((n) => {
  try { return fs.readFileSync(`/sys/block/${n}/loop/backing_file`, 'utf8').trim() === file; } catch { return false; }
}).map((n) => `/dev/${n}`);

/** A private system bus with udisksd (and polkitd with a rule that lets `nobody` use udisks) on it. */
export class PrivateBus {
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

  /** polkitd with this suite's rule file (JavaScript rule bodies, written before it starts: no reload to wait for). */
  async startPolkit(rules: string[]): Promise<void> {
    fs.mkdirSync(path.dirname(this.rule), { recursive: true });
    fs.writeFileSync(this.rule, rules.map((r) => `polkit.addRule(function(action, subject) {\n  ${r}\n});\n`).join(''));
    this.spawn(POLKITD, ['--no-debug']);
    assert.ok(await until(() => this.hasName('org.freedesktop.PolicyKit1'), 8000), 'private polkitd did not start');
  }

  async startUdisks(): Promise<void> {
    await this.startPolkit(['if (action.id.indexOf("org.freedesktop.udisks2.") === 0 && subject.user === "nobody") return polkit.Result.YES;']);
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


/**
 * systemd-udevd for the duration of `f` (udisks waits for its events), unless one runs already. Machine-wide: only
 * tests guarded by CI=true or VDISK_TEST_UDISKS=1 call this.
 */
export async function withUdevd<T>(f: () => Promise<T>): Promise<T> {
  const own = !fs.existsSync('/run/udev/control');
  const hadUdevDir = fs.existsSync('/run/udev');
  let udevd: cp.ChildProcess | undefined;
  if (own) {
    assert.deepStrictEqual(running('systemd-udevd'), [], 'a systemd-udevd runs without /run/udev/control: not touching it');
    udevd = cp.spawn(UDEVD, [], { stdio: 'ignore' });
    assert.ok(await until(() => fs.existsSync('/run/udev/control'), 5000), 'systemd-udevd did not start');
  }
  try {
    return await f();
  } finally {
    if (udevd) {
      const exited = new Promise((res) => udevd!.once('exit', res));
      udevd.kill('SIGTERM');
      await Promise.race([exited, sleep(3000)]);
      if (udevd.exitCode === null && udevd.signalCode === null) udevd.kill('SIGKILL');
    }
    if (own && !hadUdevDir) fs.rmSync('/run/udev', { recursive: true, force: true });
  }
}

/** The tests that start systemd-udevd or change /etc/fuse.conf (machine-wide) run on CI, which runs nothing beside them, or when asked. */
export const UDISKS_FULL = process.env.VDISK_TEST_UDISKS === '1' || process.env.CI === 'true';
