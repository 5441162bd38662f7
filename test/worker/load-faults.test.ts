// Load and faults for the loop engine: 1,000 cycles without growth, kill -9 at every step, images that move or vanish.
import * as assert from 'assert';
import * as cp from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as P from '../../src/common/protocol';
import { WorkerClient } from '../../src/host/worker-client';
import { loopsUnder, newClient } from '../support/worker';
import { ResponseError } from 'vscode-jsonrpc';
import { deviceSuite, killDuring } from './linux-support';

function fdCount(pid: number): number { return fs.readdirSync(`/proc/${pid}/fd`).length; }
function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}
async function loopsSettled(dir: string): Promise<string[]> {
  for (let i = 0; i < 100 && loopsUnder(dir).length; i++) await new Promise((r) => setTimeout(r, 20));
  return loopsUnder(dir);
}

describe('load and faults (real devices)', function () {
  this.timeout(120_000);
  let dir: string;
  let client: WorkerClient;
  deviceSuite('vdisk-load-', (d, c) => { dir = d; client = c; }, () => client);

  it('runs 1,000 sequential attach/detach cycles without growth in fds, memory or devices', async () => {
    // a small heap makes V8 collect as it goes, so growth means a leak rather than a lazy collector
    await client.stop();
    client = newClient({ env: { NODE_OPTIONS: '--max-old-space-size=64 --max-semi-space-size=2' } });
    const img = path.join(dir, 'cycle.img'); fs.writeFileSync(img, Buffer.alloc(1 << 20));
    const cycle = async () => {
      const d = await client.request(P.Attach, { path: img, readOnly: true, lifetime: 'session' });
      await client.request(P.Detach, { target: d.device });
    };
    for (let i = 0; i < 50; i++) await cycle(); // warm up: lazy modules, koffi types, JIT
    const pid = client.pid!;
    const fds0 = fdCount(pid); const rss0 = rssKiB(pid);
    const t0 = Date.now();
    for (let i = 0; i < 1000; i++) await cycle();
    const fds1 = fdCount(pid); const rss1 = rssKiB(pid);
    console.log(`      1,000 cycles in ${Date.now() - t0} ms; worker fds ${fds0} -> ${fds1}, RSS ${rss0} -> ${rss1} KiB`);
    assert.strictEqual(fds1, fds0, 'file descriptors leaked');
    assert.ok(rss1 - rss0 < 16 * 1024, `RSS grew by ${rss1 - rss0} KiB`);
    assert.deepStrictEqual(loopsUnder(dir), []);
  });

  for (const when of ['attach', 'detach', 'inspect', 'list']) {
    it(`kill -9 of the worker during ${when}: the request fails clearly, nothing leaks, the next request works`, async () => {
      const img = path.join(dir, `k-${when}.img`); fs.writeFileSync(img, Buffer.alloc(1 << 20));
      await client.request(P.List);
      let target: string | undefined;
      if (when === 'detach') target = (await client.request(P.Attach, { path: img, readOnly: true, lifetime: 'session' })).device;
      const pending = killDuring<unknown>(client, () => (when === 'attach' ? client.request(P.Attach, { path: img, readOnly: true, lifetime: 'session' })
        : when === 'detach' ? client.request(P.Detach, { target: target! })
          : when === 'inspect' ? client.request(P.Inspect, { path: img }) : client.request(P.List)));
      await assert.rejects(pending, (e: unknown) => e instanceof ResponseError && e.code === P.ErrorCode.WorkerDied && /killed by SIGKILL/.test(e.message));
      assert.deepStrictEqual(await loopsSettled(dir), [], 'session disks go with the worker');
      assert.ok(Array.isArray(await client.request(P.List)));
    });
  }

  it('a disk whose image was deleted while attached is listed and still detaches', async () => {
    const img = path.join(dir, 'doomed.img'); fs.writeFileSync(img, Buffer.alloc(1 << 20));
    const d = await client.request(P.Attach, { path: img, readOnly: true, lifetime: 'session' });
    fs.rmSync(img);
    const listed = (await client.request(P.List)).find((x) => x.device === d.device);
    assert.ok(listed, 'still listed');
    await client.request(P.Detach, { target: d.device });
  });

  it('a disk whose image was moved while attached follows the new name', async () => {
    const img = path.join(dir, 'before.img'); fs.writeFileSync(img, Buffer.alloc(1 << 20));
    const d = await client.request(P.Attach, { path: img, readOnly: true, lifetime: 'session' });
    const moved = path.join(dir, 'after.img');
    fs.renameSync(img, moved);
    const listed = (await client.request(P.List)).find((x) => x.device === d.device);
    assert.strictEqual(listed?.image, moved);
    const r = await client.request(P.Detach, { target: moved });
    assert.strictEqual(r.device, d.device);
  });

  it('a full file system under a read-write attach fails the writer, not the worker or the host', async () => {
    const mnt = path.join(dir, 'small'); fs.mkdirSync(mnt);
    cp.execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', mnt]);
    try {
      const img = path.join(mnt, 'sparse.img');
      fs.closeSync(fs.openSync(img, 'w')); fs.truncateSync(img, 8 << 20); // 8 MiB sparse on a 2 MiB file system
      const d = await client.request(P.Attach, { path: img, readOnly: false, lifetime: 'session' });
      const w = cp.spawnSync('dd', ['if=/dev/urandom', `of=${d.device}`, 'bs=1M', 'count=6', 'oflag=direct'], { encoding: 'utf8' });
      assert.notStrictEqual(w.status, 0, 'writing 6 MiB into 2 MiB must fail');
      assert.match(w.stderr, /error|No space|Input\/output/i);
      const listed = (await client.request(P.List)).find((x) => x.device === d.device);
      assert.ok(listed, 'the worker still answers');
      await client.request(P.Detach, { target: d.device });
      for (let i = 0; i < 100 && fs.existsSync(`/sys/block/${path.basename(d.device)}/loop/backing_file`); i++) await new Promise((r) => setTimeout(r, 20));
    } finally {
      cp.spawnSync('umount', ['-l', mnt]);
    }
  });
});
