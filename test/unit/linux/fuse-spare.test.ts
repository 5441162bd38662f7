// The spare FUSE server's hand-over without a mount (fuse/spare.ts, run as dist/fuse-server.js --spare): it exits
// when its channel ends before a config, and it refuses a layer whose /proc/<worker pid>/fd/<n> is not the file the
// worker vetted (and a worker pid that is not its parent), logging why, before it mounts anything.
import * as assert from 'assert';
import * as cp from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { fuseServerScript } from '../../../src/worker/linux/engines/vdisk-fuse';
import { tempDir } from '../formats/helpers';

function spare(workerPid = process.pid, env: NodeJS.ProcessEnv = {}): { proc: cp.ChildProcess; code: Promise<number | null> } {
  const proc = cp.spawn(process.execPath, [fuseServerScript(), '--spare', String(workerPid), '1'], { stdio: ['pipe', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  return { proc, code: new Promise((resolve) => proc.once('exit', (c) => resolve(c))) };
}

describe('vdisk FUSE server: the spare\'s hand-over', function () {
  this.timeout(30_000);
  const tmp = tempDir(this, 'vdisk-spare-');
  before(function () {
    if (process.platform !== 'linux') { console.log(`    (skipped: the FUSE server is Linux's, this is ${process.platform})`); this.skip(); }
    // the bundle is built by `npm test` (esbuild.js) before any suite: its absence is a broken build, not an option
    assert.ok(fs.existsSync(fuseServerScript()), `${fuseServerScript()} is missing: run node esbuild.js`);
  });

  function handOver(ino: (real: number) => number, workerPid?: number): Promise<{ code: number | null; log: string }> {
    const file = path.join(tmp(), 'layer.bin');
    fs.writeFileSync(file, Buffer.alloc(4096, 7));
    const fd = fs.openSync(file, 'r');
    const st = fs.fstatSync(fd);
    const log = path.join(tmp(), `log-${Date.now()}`);
    fs.writeFileSync(log, '');
    const s = spare(workerPid);
    const config = { image: file, size: 4096, mount: path.join(tmp(), 'never-mounted'), layers: [{ path: file, fd, dev: st.dev, ino: ino(st.ino) }],
      searchFolders: [tmp()], threads: 1, maxRead: 65536, ownFds: true, splice: false, uid: 0, gid: 0, log, spare: true };
    s.proc.stdin!.end(`${JSON.stringify(config)}\n`);
    return s.code.then((code) => { fs.closeSync(fd); return { code, log: fs.readFileSync(log, 'utf8') }; });
  }

  it('a spare whose channel ends before any config exits, having mounted nothing', async () => {
    const s = spare();
    s.proc.stdin!.end();
    assert.strictEqual(await s.code, 0);
  });

  it('an unused spare exits by itself after its idle time (VDISK_FUSE_SPARE_IDLE_MS; 10 minutes by default), its channel still open', async () => {
    const s = spare(process.pid, { VDISK_FUSE_SPARE_IDLE_MS: '300' });
    assert.strictEqual(await s.code, 0);
    s.proc.stdin!.destroy();
  });

  it('a layer whose /proc fd is not the file the worker checked is refused (exit 2, the log says which)', async () => {
    const r = await handOver((ino) => ino + 1);
    assert.strictEqual(r.code, 2);
    assert.match(r.log, /layer .*layer\.bin: the worker's fd \d+ is not the file the worker checked/);
    assert.doesNotMatch(r.log, /serving/);
  });

  it('a worker pid that is not the spare\'s parent is refused', async () => {
    const r = await handOver((ino) => ino, 1);
    assert.strictEqual(r.code, 2);
    assert.match(r.log, /the worker 1 that started this spare is gone/);
  });
});
