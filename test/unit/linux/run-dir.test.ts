// The run folder is private and verified before any record in it is trusted; our daemons are matched by identity
// (uid, start time, exact command line), never by a substring of their command line.
import * as assert from 'assert';
import * as cp from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ensurePrivateDir, privateDirProblem, runDir, RunDirError } from '../../../src/worker/linux/run-dir';
import { Registry } from '../../../src/worker/linux/registry';
import { processIdentity, runs, stopProcess } from '../../../src/worker/linux/engines/process';

const isRoot = process.getuid?.() === 0;
const NOBODY = 65534;

describe('run folder and process identity (Linux)', function () {
  let tmp = '';
  beforeEach(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vdisk-rundir-')); });
  afterEach(() => { fs.rmSync(tmp, { recursive: true, force: true }); });

  it('creates a missing folder 0700 and accepts it', () => {
    const d = path.join(tmp, 'run');
    assert.strictEqual(runDir({ VDISK_RUN_DIR: d }), d);
    assert.strictEqual(fs.statSync(d).mode & 0o777, 0o700);
    assert.strictEqual(privateDirProblem(d), null);
  });

  it('refuses a pre-created folder with group/other bits, a symlink, or a file', () => {
    const open = path.join(tmp, 'open');
    fs.mkdirSync(open);
    fs.chmodSync(open, 0o777);
    assert.throws(() => runDir({ VDISK_RUN_DIR: open }), (e: unknown) => e instanceof RunDirError && /mode is 777/.test(e.message));
    const target = path.join(tmp, 'target');
    fs.mkdirSync(target, { mode: 0o700 });
    fs.symlinkSync(target, path.join(tmp, 'link'));
    assert.throws(() => ensurePrivateDir(path.join(tmp, 'link')), /symbolic link/);
    fs.writeFileSync(path.join(tmp, 'file'), '');
    assert.throws(() => ensurePrivateDir(path.join(tmp, 'file')), /not a folder/);
    assert.strictEqual(fs.statSync(open).mode & 0o777, 0o777, 'a folder we did not make is never repaired');
  });

  it('refuses a folder pre-created by another user', function () {
    if (!isRoot) { console.log('    (skipped: needs root to create a folder owned by another user)'); this.skip(); }
    const theirs = path.join(tmp, 'theirs');
    fs.mkdirSync(theirs, { mode: 0o700 });
    fs.chownSync(theirs, NOBODY, NOBODY);
    assert.throws(() => runDir({ VDISK_RUN_DIR: theirs }), /owned by uid 65534, not 0/);
    // and as that user, root's folder is not theirs either
    assert.throws(() => ensurePrivateDir(path.join(tmp), NOBODY), /owned by uid 0/);
  });

  it('a non-root user never gets a predictable folder in the shared temporary folder', () => {
    // as root, act for nobody with folders made for nobody
    const owner = isRoot ? NOBODY : process.getuid!();
    const mine = (d: string, mode: number) => { fs.mkdirSync(d, { mode }); fs.chmodSync(d, mode); if (isRoot) fs.chownSync(d, owner, owner); return d; };
    fs.chmodSync(tmp, 0o755);
    const home = mine(path.join(tmp, 'home'), 0o700);
    const xdg = mine(path.join(tmp, 'xdg'), 0o755); // a runtime folder that is not private is skipped
    const cache = isRoot ? mine(path.join(home, '.cache'), 0o700) : path.join(home, '.cache');
    if (isRoot) mine(path.join(cache, 'vdisk-run'), 0o700);
    assert.strictEqual(runDir({ XDG_RUNTIME_DIR: xdg, HOME: home }, owner), path.join(home, '.cache', 'vdisk-run'));
    fs.chmodSync(xdg, 0o700);
    if (isRoot) mine(path.join(xdg, 'vdisk'), 0o700);
    assert.strictEqual(runDir({ XDG_RUNTIME_DIR: xdg, HOME: home }, owner), path.join(xdg, 'vdisk'));
    if (isRoot) return; // the mkdtemp fallback is made by the caller, so only a real non-root run can check its owner
    const a = runDir({ HOME: '/nonexistent' }, owner);
    assert.ok(a.startsWith(path.join(os.tmpdir(), 'vdisk-')) && a !== path.join(os.tmpdir(), `vdisk-${owner}`), a);
    assert.strictEqual(privateDirProblem(a), null);
  });

  it('records are read only as regular files of ours: a planted symlink is ignored', () => {
    const disks = path.join(tmp, 'disks');
    const reg = new Registry(disks);
    const rec = { device: '/dev/loop99', image: '/x.img', backingFile: '/x.img', engine: 'loop' as const, lifetime: 'session' as const,
      readOnly: true, attachedAt: '', workerPid: 1 };
    reg.put(rec);
    assert.strictEqual(reg.get('/dev/loop99')?.image, '/x.img');
    const fake = path.join(tmp, 'fake.json');
    fs.writeFileSync(fake, JSON.stringify({ ...rec, device: '/dev/loop98', resources: { pid: 1 } }));
    fs.symlinkSync(fake, path.join(disks, 'loop98.json'));
    assert.strictEqual(reg.get('/dev/loop98'), undefined);
    assert.deepStrictEqual(reg.all().map((r) => r.device), ['/dev/loop99']);
  });

  it('a process whose command line contains our marker text is not ours, and is never signalled', async () => {
    const marker = path.join(tmp, 'engines', 'qemu-abc123');
    // shells that stay alive with the marker in their command lines (as a daemon's --pidfile argument would be)
    const ours = cp.spawn('sh', ['-c', 'sleep 30; :', 'daemon', '--pidfile', `${marker}/pid`], { stdio: 'ignore' });
    const other = cp.spawn('sh', ['-c', 'sleep 31; :', 'unrelated', `${marker}/pid`, marker], { stdio: 'ignore' });
    try {
      await Promise.all([ours, other].map((c) => new Promise((r) => c.once('spawn', r))));
      const id = processIdentity(ours.pid!)!;
      assert.match(id, /^v1:\d+:\d+:[0-9a-f]{32}$/);
      assert.strictEqual(runs(ours.pid!, id), true);
      assert.strictEqual(runs(other.pid!, id), false, 'another process never matches our identity');
      assert.strictEqual(runs(other.pid!, marker), false, 'a folder name is not an identity');
      assert.strictEqual(await stopProcess(other.pid!, id), 'gone');
      assert.strictEqual(other.exitCode, null, 'the unrelated process was not signalled');
      const exited = new Promise((r) => ours.once('exit', r));
      assert.strictEqual(await stopProcess(ours.pid!, id), 'terminated');
      await exited;
      assert.strictEqual(runs(ours.pid!, id), false, 'gone once it exited');
    } finally {
      ours.kill('SIGKILL');
      other.kill('SIGKILL');
    }
  });
});
