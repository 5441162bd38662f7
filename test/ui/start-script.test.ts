// `npm start` (scripts/start.js): stopping the process it started stops code-server too, however it is stopped,
// and the sample workspace opens without the Git "repository found in parent folders" popup or an empty side bar.
// Runs the real script with --no-setup (no npm ci, build or VSIX: those are what the other flows test).
import * as assert from 'assert';
import * as cp from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { ROOT } from './harness';

function alive(pgid: number): boolean {
  try { process.kill(-pgid, 0); return true; } catch { return false; }
}

/** Resolves once the process group is gone; rejects after `ms`. */
function untilGone(pgid: number, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const tick = setInterval(() => {
      if (!alive(pgid)) { clearInterval(tick); resolve(); } else if (Date.now() - t0 > ms) { clearInterval(tick); reject(new Error(`code-server (group ${pgid}) still runs after ${ms} ms`)); }
    }, 100);
  });
}

/** Starts scripts/start.js and resolves with it and code-server's pid once code-server listens. */
function start(): Promise<{ proc: cp.ChildProcess; csPid: number; output: () => string }> {
  const proc = cp.spawn(process.execPath, [path.join(ROOT, 'scripts/start.js'), '--no-setup'], { env: { ...process.env, PORT: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  return new Promise((resolve, reject) => {
    const onData = (d: Buffer) => {
      out += d.toString();
      const pid = /\[start\] code-server pid (\d+)/.exec(out);
      if (pid && /Open: http/.test(out)) resolve({ proc, csPid: Number(pid[1]), output: () => out });
    };
    proc.stdout!.on('data', onData); proc.stderr!.on('data', onData);
    proc.once('exit', (c, s) => reject(new Error(`start.js exited (${c ?? s}) before code-server listened:\n${out}`)));
  });
}

describe('npm start (scripts/start.js)', function () {
  this.timeout(180_000);
  const left: number[] = [];
  after(() => { for (const pgid of left) if (alive(pgid)) process.kill(-pgid, 'SIGKILL'); });

  for (const signal of ['SIGTERM', 'SIGHUP', 'SIGKILL'] as const) {
    it(`${signal} to the process npm start started stops code-server too`, async () => {
      const { proc, csPid } = await start();
      left.push(csPid);
      assert.ok(alive(csPid), 'code-server runs');
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill(signal);
      await exited;
      await untilGone(csPid, 15_000);
    });
  }

  it('the sample workspace turns off the parent-folder Git popup and the empty secondary side bar', () => {
    const ws = JSON.parse(fs.readFileSync(path.join(ROOT, 'sample-workspace/vdisk-samples.code-workspace'), 'utf8'));
    assert.strictEqual(ws.settings['git.openRepositoryInParentFolders'], 'never');
    assert.strictEqual(ws.settings['workbench.secondarySideBar.defaultVisibility'], 'hidden');
  });
});
