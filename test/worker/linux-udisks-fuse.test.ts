// Issue 11.3: a user who is not root and does not elevate attaches the formats an engine serves through udisks2: the
// user's own qemu-storage-daemon or vhdimount exports the disk with allow_other in the user's private folder, and
// udisks' LoopSetup gets the export's fd. Works only when /etc/fuse.conf has user_allow_other (the loop driver reads
// the export as root); without it the capability report and the refusal say so. Starts systemd-udevd and edits
// /etc/fuse.conf (both machine-wide, restored afterwards): runs on CI or with VDISK_TEST_UDISKS=1.
import * as assert from 'assert';
import * as cp from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { createDifferencingDisk } from '../../src/formats';
import { CLI, isRoot, tmpDir } from '../support/worker';
import { daemonsMentioning, mountsUnder } from './linux-support';
import { NOBODY, PrivateBus, UDISKS_FULL, until, withUdevd } from './private-bus';

const FUSE_CONF = '/etc/fuse.conf';

function asNobody(args: string[], env: NodeJS.ProcessEnv, timeout = 120_000) {
  return cp.spawnSync('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', process.execPath, ...args], { encoding: 'utf8', env, timeout });
}

/** Loop devices whose backing file is under `dir` (the worker's run folder: its engines' exports). */
function loopsUnderDir(dir: string): string[] {
  return fs.readdirSync('/sys/block').filter((n) => /^loop\d+$/.test(n)).filter((n) => {
    try { return fs.readFileSync(`/sys/block/${n}/loop/backing_file`, 'utf8').trim().startsWith(`${dir}/`); } catch { return false; }
  }).map((n) => `/dev/${n}`);
}

describe('linux: unprivileged attach of FUSE-served formats through udisks2 (no root, no elevation)', function () {
  this.timeout(240_000);
  let dir: string;
  let run: string;
  let bus: PrivateBus;
  let images: Record<'qcow2' | 'vhdx' | 'chain' | 'vmdk', string>;
  let fuseConf: string | null = null;
  const setUserAllowOther = (on: boolean) => {
    const kept = (fuseConf ?? '').split('\n').filter((l) => !/^\s*user_allow_other\s*$/.test(l)).join('\n').replace(/\n*$/, '\n');
    fs.writeFileSync(FUSE_CONF, on ? `${kept}user_allow_other\n` : kept);
  };
  const scratch = () => { try { return fs.readdirSync(path.join(run, 'engines')); } catch { return []; } };
  const leftovers = () => ({ loops: loopsUnderDir(run), daemons: daemonsMentioning(run), mounts: mountsUnder(run, '/media/nobody'), scratch: scratch() });
  const NONE = { loops: [], daemons: [], mounts: [], scratch: [] };

  before(async function () {
    if (!isRoot) { console.log('    (skipped: needs root to run the D-Bus, polkit and udisks daemons and a worker as nobody)'); this.skip(); }
    if (!UDISKS_FULL) { console.log('    (skipped: starts systemd-udevd and edits /etc/fuse.conf, machine-wide; runs on CI or with VDISK_TEST_UDISKS=1)'); this.skip(); }
    for (const t of ['udisksctl', 'dbus-daemon', 'gdbus', 'qemu-img', 'qemu-storage-daemon', 'vhdimount', 'fusermount3', 'debugfs']) {
      if (cp.spawnSync('which', [t]).status !== 0) assert.fail(`${t} is missing: apt-get install udisks2 dbus-daemon libglib2.0-bin qemu-utils qemu-system-common libvhdi-utils fuse3 e2fsprogs`);
    }
    fuseConf = fs.existsSync(FUSE_CONF) ? fs.readFileSync(FUSE_CONF, 'utf8') : null;
    dir = tmpDir('vdisk-udisks-fuse-');
    fs.chmodSync(dir, 0o755);
    const content = path.join(dir, 'content');
    fs.mkdirSync(content);
    fs.writeFileSync(path.join(content, 'hello.txt'), 'hello through FUSE and udisks\n');
    const raw = path.join(dir, 'raw.img');
    cp.execFileSync('truncate', ['-s', '16M', raw]);
    // the file system's root is nobody's: the read-write attach can be written by nobody through the mount
    cp.execFileSync('mkfs.ext4', ['-q', '-F', '-E', `root_owner=${NOBODY}:${NOBODY}`, '-d', content, raw]);
    images = { qcow2: path.join(dir, 'disk.qcow2'), vhdx: path.join(dir, 'dyn.vhdx'), chain: path.join(dir, 'child.vhd'), vmdk: path.join(dir, 'flat.vmdk') };
    // root attaches this one as a loop on its extent file; without root it goes through qemu's vmdk driver
    cp.execFileSync('qemu-img', ['convert', '-O', 'vmdk', '-o', 'subformat=monolithicFlat', raw, images.vmdk]);
    cp.execFileSync('qemu-img', ['convert', '-O', 'qcow2', raw, images.qcow2]);
    cp.execFileSync('qemu-img', ['convert', '-O', 'vhdx', '-o', 'subformat=dynamic', raw, images.vhdx]);
    cp.execFileSync('qemu-img', ['convert', '-O', 'vpc', '-o', 'subformat=dynamic', raw, path.join(dir, 'base.vhd')]);
    await createDifferencingDisk(path.join(dir, 'base.vhd'), images.chain);
    for (const f of fs.readdirSync(dir)) fs.chownSync(path.join(dir, f), NOBODY, NOBODY);
    run = path.join(dir, 'run');
    fs.mkdirSync(run, { mode: 0o700 });
    fs.chownSync(run, NOBODY, NOBODY);
  });

  beforeEach(async () => {
    fs.rmSync(path.join(dir, 'bus.sock'), { force: true });
    bus = new PrivateBus(dir);
    await bus.startBus();
  });

  after(async () => {
    if (fuseConf !== null) fs.writeFileSync(FUSE_CONF, fuseConf);
    if (!dir) return;
    await bus?.stop();
    const left = leftovers();
    for (const m of left.mounts.reverse()) cp.spawnSync('umount', ['-l', m]);
    for (const l of left.loops) cp.spawnSync('losetup', ['-d', l]);
    for (const p of left.daemons) { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('without user_allow_other: the report and the refusal name /etc/fuse.conf, Retry as Root and Browse; nothing is left', async () => {
    setUserAllowOther(false);
    await withUdevd(async () => {
      await bus.startUdisks();
      const env = { ...bus.env, VDISK_RUN_DIR: run };
      const c = asNobody([CLI, 'capabilities', '--json'], env);
      assert.strictEqual(c.status, 0, c.stderr);
      const caps = JSON.parse(c.stdout) as { kinds: { kind: string; readOnly: string; readOnlyWhy?: string }[]; unprivilegedRoute: { available: boolean; detail: string } };
      const kind = (k: string) => caps.kinds.find((x) => x.kind === k)!;
      assert.strictEqual(kind('raw').readOnly, 'yes', 'raw images still go through udisks');
      for (const k of ['qcow2', 'vhdx', 'vhd-dynamic', 'vhd-differencing']) {
        assert.notStrictEqual(kind(k).readOnly, 'yes', k);
        assert.match(kind(k).readOnlyWhy ?? '', /only if \/etc\/fuse\.conf has the line user_allow_other .*Retry as Root, or Browse Instead/, k);
      }
      assert.ok(caps.unprivilegedRoute.available, caps.unprivilegedRoute.detail);
      assert.match(caps.unprivilegedRoute.detail, /not the formats served through FUSE \(they need the line user_allow_other in \/etc\/fuse\.conf/);
      const a = asNobody([CLI, 'attach', '--read-only', images.qcow2], env);
      assert.strictEqual(a.status, 2, a.stdout + a.stderr);
      assert.match(a.stderr, /vdisk needs root to attach a qcow2 image here\. .*user_allow_other/);
      assert.deepStrictEqual(leftovers(), NONE);
    }).finally(() => bus.stop());
  });

  it('with user_allow_other: qcow2 read-write, dynamic VHDX, a differencing VHD chain and a flat VMDK read-only, as nobody; kill -9 leaves nothing', async () => {
    setUserAllowOther(true);
    await withUdevd(async () => {
      await bus.startUdisks();
      const r = asNobody([path.join(__dirname, 'linux-udisks-fuse-driver.js'), JSON.stringify(images), 'hello.txt'], { ...bus.env, VDISK_RUN_DIR: run });
      const out = JSON.parse(r.stdout || '{}') as Record<string, any>;
      const info = JSON.stringify(out, null, 1) + r.stderr;
      assert.ok(!out.error, info);
      for (const k of ['qcow2', 'vhdx', 'vhd-dynamic', 'vmdk', 'vdi']) assert.deepStrictEqual(out.caps[k], ['yes', 'yes'], `${k}\n${info}`);
      assert.deepStrictEqual(out.caps['vhd-differencing'], ['yes', 'no'], info);
      assert.match(out.route.detail, /through your own qemu-storage-daemon or vhdimount FUSE export/, info);
      for (const [name, engine, ro, life] of [['qcow2', 'qemu', false, 'permanent'], ['vhdx', 'qemu', true, 'session'], ['chain', 'vhdimount', true, 'permanent'], ['vmdk', 'qemu', true, 'session']] as const) {
        const s = out[name];
        assert.deepStrictEqual([s.engine, s.readOnly, s.lifetime], [engine, ro, life], `${name}\n${info}`);
        assert.ok(s.backing.startsWith(`${run}/engines/`), `${name}: the loop device sits on the user's own export\n${info}`);
        assert.strictEqual(s.scratchMode, `${NOBODY} 700`, `${name}: the allow_other export is reachable only through nobody's 0700 folder\n${info}`);
        assert.ok(String(s.mountPoint).startsWith('/media/nobody/'), `${name}\n${info}`);
        assert.strictEqual(s.content, 'hello through FUSE and udisks\n', `${name}\n${info}`);
        assert.strictEqual(s.write, ro ? 'EROFS' : 'ok', `${name}\n${info}`);
        assert.ok(s.unmounted && s.detached === s.device, `${name}\n${info}`);
      }
      // the read-write attach wrote the qcow2 itself (through qemu, the loop device and ext4)
      const check = path.join(dir, 'check.raw');
      cp.execFileSync('qemu-img', ['convert', '-O', 'raw', images.qcow2, check]);
      assert.strictEqual(cp.execFileSync('debugfs', ['-R', 'cat /new.txt', check], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }), 'written by nobody through qcow2\n');
      assert.ok(out.killed?.backing?.startsWith(`${run}/engines/`), info);
      // the reaper (nobody's) asks udisks to unmount and delete the loop, stops the daemon, unmounts its export, removes its folder
      const gone = await until(() => JSON.stringify(leftovers()) === JSON.stringify(NONE), 30_000);
      assert.ok(gone, `kill -9 of the worker left ${JSON.stringify(leftovers())}\n${info}`);
      console.log(`      nobody through udisks2 + own FUSE export: qcow2 rw (${out.qcow2.device}), vhdx ro session, VHD chain ro via vhdimount, flat VMDK ro via qemu; kill -9 cleaned up`);
    }).finally(() => bus.stop());
  });
});
