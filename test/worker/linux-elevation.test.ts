// "Every user can attach" (issue 11): as user nobody with a sudo rule this suite adds and removes, the CLI's --elevate
// and the host's elevated worker attach a dynamic VHDX, a differencing VHD chain and a qcow2, mount, read a file,
// unmount and detach; images nobody cannot read are refused; the elevated worker refuses a socket of another uid;
// kill -9 of the elevated worker leaves nothing attached and the client recovers.
import * as assert from 'assert';
import * as cp from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import * as readline from 'readline';
import { createDifferencingDisk } from '../../src/formats';
import { CLI, isRoot, loopsUnder, makeExt4, tmpDir, WORKER } from '../support/worker';
import { daemonsMentioning, mountsUnder } from './linux-support';

const NOBODY = 65534;
const MNT = `/run/vdisk-mnt/uid-${NOBODY}`;
const RULE = `/etc/sudoers.d/vdisk-test-${process.pid}`;
/** nobody's environment: no root runtime dir or run dir of ours leaks into it. */
const ENV: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: '/tmp', LANG: 'C' };

function asNobody(args: string[], input?: string) {
  return cp.spawnSync('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--init-groups', ...args], { encoding: 'utf8', env: ENV, timeout: 90_000, input });
}
function cliAsNobody(args: string[]) {
  const r = asNobody([process.execPath, CLI, ...args], '');
  return { ...r, json: (() => { try { return JSON.parse(r.stdout); } catch { return undefined; } })() };
}

async function settled(dir: string, ms = 8000): Promise<{ loops: string[]; mounts: string[]; daemons: number[] }> {
  const end = Date.now() + ms;
  for (;;) {
    const l = { loops: loopsUnder(dir), mounts: mountsUnder(MNT, dir), daemons: daemonsMentioning(dir) };
    if ((!l.loops.length && !l.mounts.length && !l.daemons.length) || Date.now() > end) return l;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('linux: elevation for an unprivileged user (sudo)', function () {
  this.timeout(180_000);
  let dir: string;
  let images: Record<string, string>;

  before(async function () {
    if (!isRoot) { console.log('    (skipped: needs root to add a sudo rule and run as nobody)'); this.skip(); }
    for (const t of ['sudo', 'qemu-img', 'qemu-storage-daemon', 'vhdimount', 'setpriv']) {
      if (cp.spawnSync('which', [t]).status !== 0) assert.fail(`${t} is missing: apt-get install sudo qemu-utils qemu-system-common libvhdi-utils util-linux`);
    }
    fs.writeFileSync(RULE, `nobody ALL=(root) NOPASSWD: ALL\n`, { mode: 0o440 });
    dir = tmpDir('vdisk-elevate-test-');
    fs.chmodSync(dir, 0o755);
    const content = path.join(dir, 'content');
    fs.mkdirSync(content);
    fs.writeFileSync(path.join(content, 'hello.txt'), 'hello from root\n');
    const raw = path.join(dir, 'raw.img');
    makeExt4(raw, 16, content);
    images = { vhdx: path.join(dir, 'dyn.vhdx'), chain: path.join(dir, 'child.vhd'), qcow2: path.join(dir, 'disk.qcow2') };
    cp.execFileSync('qemu-img', ['convert', '-O', 'vhdx', '-o', 'subformat=dynamic', raw, images.vhdx]);
    cp.execFileSync('qemu-img', ['convert', '-O', 'vpc', '-o', 'subformat=dynamic', raw, path.join(dir, 'base.vhd')]);
    await createDifferencingDisk(path.join(dir, 'base.vhd'), images.chain);
    cp.execFileSync('qemu-img', ['convert', '-O', 'qcow2', raw, images.qcow2]);
    for (const f of fs.readdirSync(dir)) fs.chownSync(path.join(dir, f), NOBODY, NOBODY);
    // root's own folder: nobody may neither read nor write in it
    fs.mkdirSync(path.join(dir, 'locked'), { mode: 0o700 });
    fs.copyFileSync(path.join(dir, 'base.vhd'), path.join(dir, 'locked', 'base.vhd'));
  });

  after(async () => {
    fs.rmSync(RULE, { force: true });
    if (!dir) return;
    const left = await settled(dir, 2000);
    for (const m of left.mounts.reverse()) cp.spawnSync('umount', ['-l', m]);
    for (const l of left.loops) cp.spawnSync('losetup', ['-d', l]);
    for (const p of left.daemons) { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('CLI --elevate: attach, mount, read as the user, unmount, detach (dynamic VHDX, differencing VHD chain, qcow2)', async () => {
    for (const [name, image] of Object.entries(images)) {
      const a = cliAsNobody(['attach', '--elevate', '--read-only', '--json', image]);
      assert.strictEqual(a.status, 0, `${name}: ${a.stderr}`);
      const device = a.json.device as string;
      assert.strictEqual(a.json.engine, name === 'qcow2' ? 'qemu' : 'vdisk-fuse', name); // read-only VHD/VHDX: vdisk's server
      const m = cliAsNobody(['mount', '--elevate', '--json', device]);
      assert.strictEqual(m.status, 0, `${name}: ${m.stderr}`);
      const mp = (m.json as { mountPoint: string | null }[]).find((v) => v.mountPoint)!.mountPoint!;
      assert.ok(mp.startsWith(`${MNT}/`), mp);
      assert.strictEqual(fs.statSync(path.dirname(mp)).uid, 0, 'the folders above the mount point are root\'s');
      const read = asNobody(['cat', path.join(mp, 'hello.txt')]);
      assert.strictEqual(read.stdout, 'hello from root\n', `${name}: nobody reads the file: ${read.stderr}`);
      const u = cliAsNobody(['unmount', '--elevate', '--json', device]);
      assert.strictEqual(u.status, 0, u.stderr);
      assert.ok((u.json as { mountPoint: string | null }[]).every((v) => !v.mountPoint));
      const d = cliAsNobody(['detach', '--elevate', device]);
      assert.strictEqual(d.status, 0, d.stderr);
    }
    assert.deepStrictEqual(await settled(dir), { loops: [], mounts: [], daemons: [] });
  });

  it('refuses an image, or a parent, the user cannot read, and a read-write attach of a file they cannot write', async () => {
    const secret = path.join(dir, 'secret.vhdx');
    fs.copyFileSync(images.vhdx, secret);
    fs.chmodSync(secret, 0o600); // root's
    let r = cliAsNobody(['attach', '--elevate', '--read-only', secret]);
    assert.strictEqual(r.status, 2, r.stderr);
    assert.match(r.stderr, /nobody cannot read .*secret\.vhdx \(EACCES\)/);
    const parentDir = path.join(dir, 'locked');
    const parent = path.join(parentDir, 'base.vhd');
    const child = path.join(dir, 'locked-child.vhd');
    await createDifferencingDisk(parent, child);
    fs.chownSync(child, NOBODY, NOBODY);
    r = cliAsNobody(['attach', '--elevate', '--read-only', child]);
    assert.strictEqual(r.status, 2, r.stderr);
    assert.match(r.stderr, /locked\/base\.vhd: nobody may not read it \(EACCES\)/); // found by the layer check, never opened
    const lockedBacking = path.join(parentDir, 'base.qcow2');
    cp.execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', lockedBacking, '16M']);
    const over = path.join(dir, 'over.qcow2');
    cp.execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', lockedBacking, '-F', 'qcow2', over]);
    fs.chownSync(over, NOBODY, NOBODY);
    r = cliAsNobody(['attach', '--elevate', '--read-only', over]);
    assert.strictEqual(r.status, 2, r.stderr);
    assert.match(r.stderr, /locked\/base\.qcow2: nobody may not read it \(EACCES\)/);
    const rootRaw = path.join(dir, 'raw.img');
    fs.chownSync(rootRaw, 0, 0);
    r = cliAsNobody(['attach', '--elevate', rootRaw]);
    assert.match(r.stderr, /nobody cannot write .*raw\.img/);
    assert.deepStrictEqual(await settled(dir), { loops: [], mounts: [], daemons: [] });
  });

  it('the elevated worker refuses a socket whose listening end runs as another uid', async () => {
    const sdir = tmpDir('vdisk-peer-');
    const sock = path.join(sdir, 's.sock');
    const secretFile = path.join(sdir, 'secret');
    fs.writeFileSync(secretFile, 'a'.repeat(64), { mode: 0o600 });
    const got: Buffer[] = [];
    const server = net.createServer((s) => s.on('data', (d) => got.push(d)));
    await new Promise<void>((r) => server.listen(sock, r));
    try {
      // root listens; the worker believes it serves nobody (as sudo would have told it)
      const r = cp.spawnSync(process.execPath, [WORKER, '--pipe', sock, '--secret-file', secretFile, '--elevated'],
        { encoding: 'utf8', env: { ...ENV, SUDO_UID: String(NOBODY), SUDO_GID: String(NOBODY) }, timeout: 20_000 });
      assert.notStrictEqual(r.status, 0);
      assert.match(r.stderr, /runs as uid 0, but this elevated worker serves uid 65534 only/);
      assert.strictEqual(Buffer.concat(got).length, 0, 'the secret was sent to the wrong peer');
    } finally { server.close(); fs.rmSync(sdir, { recursive: true, force: true }); }
  });

  it('the host\'s elevated worker (sudo as the terminal runs it): attach, mount, read, unmount, detach; kill -9 leaves nothing; the client recovers', async () => {
    const driver = cp.spawn('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--init-groups', process.execPath,
      path.join(__dirname, 'linux-elevation-driver.js'), JSON.stringify(images), 'hello.txt', path.join(dir, 'locked')], { env: ENV, stdio: ['pipe', 'pipe', 'inherit'] });
    const lines = readline.createInterface({ input: driver.stdout! });
    const steps: Record<string, any>[] = [];
    const exited = new Promise((r) => driver.once('exit', r));
    for await (const line of lines) {
      const o = JSON.parse(line);
      steps.push(o);
      if (o.step === 'error') break;
      if (o.step === 'killme') {
        assert.ok(fs.readFileSync('/proc/self/mountinfo', 'utf8').includes(o.mountPoint), 'held disk is mounted');
        process.kill(o.pid, 'SIGKILL');
        const left = await settled(dir);
        assert.deepStrictEqual(left, { loops: [], mounts: [], daemons: [] }, 'the killed elevated worker left something attached');
        driver.stdin!.write('go\n');
      }
      if (o.step === 'recovered') break;
    }
    await exited;
    const info = JSON.stringify(steps, null, 1);
    assert.ok(!steps.some((s) => s.step === 'error'), info);
    const el = steps.find((s) => s.step === 'elevated')!;
    assert.deepStrictEqual([el.elevated, el.caps, el.user], [true, true, { uid: NOBODY, name: 'nobody' }], info);
    const g = steps.find((s) => s.step === 'guards')!;
    assert.match(g.create, /^1004: nobody cannot write .*locked/, info);
    assert.match(g.createDiff, /^1004: nobody cannot write .*locked/, info);
    assert.match(g.inspect, /^1004: nobody cannot read .*locked\/base\.vhd/, info);
    assert.ok(!fs.readdirSync(path.join(dir, 'locked')).some((f) => /^(new|child)\./.test(f)), 'something was written in the locked folder');
    const done = steps.filter((s) => s.step === 'image');
    assert.deepStrictEqual(done.map((s) => s.name), Object.keys(images), info);
    for (const s of done) {
      assert.strictEqual(s.content, 'hello from root\n', info);
      assert.ok(s.unmounted && s.detached === s.device, info);
    }
    const rec = steps.find((s) => s.step === 'recovered')!;
    assert.deepStrictEqual(rec.recovered, { ok: true, elevated: false, stillListed: false }, info);
    assert.deepStrictEqual(rec.initialized, [true, false], 'an elevated start, then an unelevated restart');
  });

  it('without a sudo rule, --elevate fails at once naming sudo\'s need for a password', () => {
    // user daemon has no rule (other suites on this machine may hold one for nobody at the same time)
    const r = cp.spawnSync('setpriv', ['--reuid=1', '--regid=1', '--init-groups', process.execPath, CLI, 'attach', '--elevate', '--read-only', images.vhdx],
      { encoding: 'utf8', env: ENV, timeout: 60_000, input: '' });
    assert.strictEqual(r.status, 2, r.stderr);
    assert.match(r.stderr, /^vdisk: sudo needs your password: run the command in a terminal/);
  });
});
