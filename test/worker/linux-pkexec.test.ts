// Issue 11, "Retry as Root" through the real pkexec: a private system bus with polkitd and a JavaScript rule (added to
// /etc/polkit-1/rules.d and removed by this suite) that lets nobody run org.freedesktop.policykit.exec without
// authentication, denies user daemon, and leaves user bin to the default (an administrator's password, with no agent
// to ask it). pkexec is setuid, so GLib ignores DBUS_SYSTEM_BUS_ADDRESS: each user's driver runs in a private mount
// namespace whose /run/dbus holds the private bus's socket; nothing of the machine's /run/dbus changes.
import * as assert from 'assert';
import * as cp from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { isRoot, loopsUnder, makeExt4, tmpDir } from '../support/worker';
import { daemonsMentioning } from './linux-support';
import { NOBODY, PrivateBus } from './private-bus';

const DAEMON = 1;
const BIN = 2;

interface Step { step: string; [k: string]: any }

describe('linux: Retry as Root through pkexec and polkit (vdisk.linux.elevation = pkexec)', function () {
  this.timeout(180_000);
  let dir: string;
  let bus: PrivateBus;
  let image: string;
  let madeRunDbus = false;

  function userRun(uid: number): string {
    const d = path.join(dir, `run-${uid}`);
    if (!fs.existsSync(d)) { fs.mkdirSync(d, { mode: 0o700 }); fs.chownSync(d, uid, uid); }
    return d;
  }

  /** The driver as `uid`, in a mount namespace whose /run/dbus is the private bus; its JSON lines. */
  function driveAs(uid: number): Step[] {
    const runDbus = path.join(dir, 'run-dbus');
    const r = cp.spawnSync('unshare', ['--mount', '--propagation', 'private', '/bin/sh', '-c', 'mount --bind "$0" /run/dbus && exec "$@"', runDbus,
      'setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--init-groups', process.execPath, path.join(__dirname, 'linux-pkexec-driver.js'), image, 'hello.txt'],
    // VDISK_RUN_DIR names the user's own folder (the unelevated worker's): pkexec must drop it, since the root
    // worker refuses a run folder it does not own
    { encoding: 'utf8', timeout: 120_000, env: { PATH: process.env.PATH, HOME: '/tmp', LANG: 'C', VDISK_RUN_DIR: userRun(uid) } });
    const steps = r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Step);
    assert.ok(steps.length, `driver printed nothing (exit ${r.status}): ${r.stderr}`);
    return steps;
  }

  before(async function () {
    if (!isRoot) { console.log('    (skipped: needs root to run polkitd, add a polkit rule and switch users)'); this.skip(); }
    for (const [t, pkg] of [['pkexec', 'pkexec'], ['unshare', 'util-linux'], ['dbus-daemon', 'dbus-daemon'], ['gdbus', 'libglib2.0-bin'], ['qemu-img', 'qemu-utils'], ['qemu-storage-daemon', 'qemu-system-common']]) {
      if (cp.spawnSync('which', [t]).status !== 0) assert.fail(`${t} is missing: apt-get install ${pkg}`);
    }
    assert.ok(fs.existsSync('/usr/lib/polkit-1/polkitd'), 'polkitd is missing: apt-get install polkitd');
    dir = tmpDir('vdisk-pkexec-');
    fs.chmodSync(dir, 0o755);
    const content = path.join(dir, 'content');
    fs.mkdirSync(content);
    fs.writeFileSync(path.join(content, 'hello.txt'), 'hello through pkexec\n');
    const raw = path.join(dir, 'raw.img');
    makeExt4(raw, 16, content);
    image = path.join(dir, 'dyn.vhdx');
    cp.execFileSync('qemu-img', ['convert', '-O', 'vhdx', '-o', 'subformat=dynamic', raw, image]);
    fs.chmodSync(image, 0o644);
    bus = new PrivateBus(dir);
    await bus.startBus();
    fs.mkdirSync(path.join(dir, 'run-dbus'));
    fs.symlinkSync(bus.socket, path.join(dir, 'run-dbus', 'system_bus_socket'));
    if (!fs.existsSync('/run/dbus')) { fs.mkdirSync('/run/dbus', { recursive: true }); madeRunDbus = true; } // the bind mount's target
    await bus.startPolkit([
      'if (action.id === "org.freedesktop.policykit.exec" && subject.user === "nobody") return polkit.Result.YES;',
      'if (action.id === "org.freedesktop.policykit.exec" && subject.user === "daemon") return polkit.Result.NO;',
    ]);
  });

  after(async () => {
    await bus?.stop(); // removes the rule file too
    if (madeRunDbus) { try { fs.rmdirSync('/run/dbus'); } catch { /* something else uses it now */ } }
    if (!dir) return;
    for (const l of loopsUnder(dir)) cp.spawnSync('losetup', ['-d', l]);
    for (const p of daemonsMentioning(dir)) { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('polkit allows: the real pkexec starts the elevated worker for nobody; a dynamic VHDX attaches, mounts, reads, unmounts, detaches', () => {
    const steps = driveAs(NOBODY);
    const info = JSON.stringify(steps, null, 1);
    // the report doubts pkexec (no agent runs), but the setting names it and the rule needs no password
    const route = steps.find((s) => s.step === 'route');
    assert.deepStrictEqual([route?.pick, route?.pkexecReported?.available], [{ route: 'pkexec' }, false], info);
    const el = steps.find((s) => s.step === 'elevated');
    assert.ok(el, info);
    // pkexec cleared the environment; the worker learnt whom it serves from PKEXEC_UID and everything else from its arguments
    assert.deepStrictEqual([el.elevated, el.capsElevated, el.user], [true, true, { uid: NOBODY, name: 'nobody' }], info);
    const img = steps.find((s) => s.step === 'image');
    assert.ok(img, info);
    assert.strictEqual(img.engine, 'vdisk-fuse', info); // read-only dynamic VHDX: vdisk's own FUSE server (plan.ts)
    assert.strictEqual(img.content, 'hello through pkexec\n', info);
    assert.ok(img.unmounted && img.detached === img.device, info);
    assert.deepStrictEqual(loopsUnder(dir), []);
    assert.deepStrictEqual(daemonsMentioning(dir), []);
  });

  it('polkit denies: the error is PermissionDenied "elevation-refused" and names the ways out', () => {
    const err = driveAs(DAEMON).find((s) => s.step === 'error');
    assert.ok(err, 'elevation should have failed');
    assert.deepStrictEqual([err.code, err.reason], [1004, 'elevation-refused'], JSON.stringify(err));
    assert.match(err.message, /^pkexec refused: polkit does not allow you to run vdisk's worker as root \(org\.freedesktop\.policykit\.exec\)\. Ask an administrator for a polkit rule, or set vdisk\.linux\.elevation to "sudo"/);
  });

  it('polkit wants a password and no agent runs: the error says so and names the ways out', () => {
    const err = driveAs(BIN).find((s) => s.step === 'error');
    assert.ok(err, 'elevation should have failed');
    assert.deepStrictEqual([err.code, err.reason], [1004, 'elevation-refused'], JSON.stringify(err));
    assert.match(err.message, /^pkexec could not ask for your password: no polkit authentication agent runs in this session .*set vdisk\.linux\.elevation to "sudo"/);
  });
});
