// The spare FUSE server (engines/fuse-spare.ts, fuse/spare.ts) through a real worker: after a first read-only
// dynamic VHDX attach the worker keeps one idle server; the next attach is served by it (its log says so) and the
// device reads byte-for-byte what openDisk reads; an unconfigured spare exits with the worker, leaving nothing; a
// worker killed after a spare took a permanent attach leaves the mount served, and a later worker detaches it.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as P from '../../src/common/protocol';
import { WorkerClient } from '../../src/host/worker-client';
import { newClient } from '../support/worker';
import { daemonOf, deviceSha, deviceSuite, exited, openDiskBytes, qemuImg, qemuWrite, serverLog, sha } from './linux-support';

const MiB = 1 << 20;
const ENV: NodeJS.ProcessEnv = {}; // read-only dynamic VHDX go to vdisk's server by default (linux/plan.ts)



/** Spare servers started by worker `pid` (their command line names it; one that took an attach keeps it: `except`). */
function sparesOf(pid: number, except: number[] = []): number[] {
  const out: number[] = [];
  for (const n of fs.readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const argv = fs.readFileSync(`/proc/${n}/cmdline`, 'utf8').split('\0');
      const i = argv.indexOf('--spare');
      if (i > 0 && /fuse-server\.js$/.test(argv[i - 1]) && argv[i + 1] === String(pid) && !except.includes(Number(n))) out.push(Number(n));
    } catch { /* gone */ }
  }
  return out;
}

/** Waits (polling /proc, bounded) for worker `pid`'s spare to run, and returns its pid. */
async function spareOf(pid: number, except: number[] = []): Promise<number> {
  for (let i = 0; i < 1000; i++) {
    const s = sparesOf(pid, except);
    if (s.length) { assert.strictEqual(s.length, 1, 'one spare at a time'); return s[0]; }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`worker ${pid} started no spare server`);
}

const openDiskSha = async (img: string) => sha(await openDiskBytes(img));

describe('Linux engine: the spare vdisk FUSE server (real devices)', function () {
  this.timeout(90_000);
  let dir: string;
  let client: WorkerClient;
  deviceSuite('vdisk-vspare-', (d, c) => { dir = d; client = c; }, () => client);

  function dynamic(name = 'dyn.vhdx'): string {
    const img = path.join(dir, name);
    qemuImg(['create', '-q', '-f', 'vhdx', img, '40M']);
    qemuWrite(img, 'vhdx', 0x5a, MiB, 3 * MiB);
    qemuWrite(img, 'vhdx', 0x33, 33 * MiB, 5 * MiB + 512);
    return img;
  }

  async function fresh(env: NodeJS.ProcessEnv = ENV): Promise<number> {
    await client.stop();
    client = newClient({ env });
    await client.request(P.List); // the worker runs
    return client.pid!;
  }

  it('no spare before the first attach; after it one waits, and the next attach is served by it, byte-identical to openDisk', async () => {
    const img = dynamic();
    const worker = await fresh();
    assert.deepStrictEqual(sparesOf(worker), [], 'no spare for a user who never attached such an image');
    const first = await client.request(P.Attach, { path: img, readOnly: true, lifetime: 'session' });
    assert.strictEqual(first.engine, 'vdisk-fuse');
    assert.doesNotMatch(serverLog(first.device), /\(spare\)|configured by worker/, 'the first attach starts its own server');
    await client.request(P.Detach, { target: first.device });
    const spare = await spareOf(worker);
    const disk = await client.request(P.Attach, { path: img, readOnly: true, lifetime: 'session' });
    assert.strictEqual(daemonOf(disk.device), spare, 'the spare serves the attach');
    assert.match(serverLog(disk.device), new RegExp(`spare ${spare} configured by worker ${worker}`));
    assert.match(serverLog(disk.device), /threads \(spare\)/);
    assert.strictEqual(deviceSha(disk.device), await openDiskSha(img));
    const next = await spareOf(worker, [spare]); // another one waits for the next attach
    await client.request(P.Detach, { target: disk.device });
    await exited(spare);
    await client.stop();
    await exited(next); // EOF on its stdin: an unused spare ends with its worker
  });

  it('a spare never configured exits when the worker is killed (kill -9), leaving no process, mount or folder', async () => {
    const img = dynamic();
    const worker = await fresh();
    const disk = await client.request(P.Attach, { path: img, readOnly: true, lifetime: 'session' });
    const spare = await spareOf(worker);
    const server = daemonOf(disk.device);
    process.kill(worker, 'SIGKILL');
    await exited(spare);
    await exited(server); // the session attach: the reaper takes it down (the suite's leak check covers the rest)
  });

  it('a worker killed (kill -9) after a spare took a permanent attach: the mount stays served, a later worker detaches it', async () => {
    const img = dynamic();
    const worker = await fresh();
    const cold = await client.request(P.Attach, { path: img, readOnly: true, lifetime: 'session' });
    await client.request(P.Detach, { target: cold.device });
    const spare = await spareOf(worker);
    const disk = await client.request(P.Attach, { path: img, readOnly: true, lifetime: 'permanent' });
    assert.strictEqual(daemonOf(disk.device), spare);
    const next = await spareOf(worker, [spare]);
    process.kill(worker, 'SIGKILL');
    await exited(next);
    assert.strictEqual(deviceSha(disk.device), await openDiskSha(img), 'still served with its worker gone');
    client = newClient({ env: ENV });
    const listed = (await client.request(P.List)).find((d) => d.device === disk.device);
    assert.deepStrictEqual([listed?.engine, listed?.ours, listed?.lifetime], ['vdisk-fuse', true, 'permanent']);
    await client.request(P.Detach, { target: disk.device });
    await exited(spare);
  });

  it('VDISK_FUSE_SPARE=0: no spare is started', async () => {
    const img = dynamic();
    const worker = await fresh({ ...ENV, VDISK_FUSE_SPARE: '0' });
    const disk = await client.request(P.Attach, { path: img, readOnly: true, lifetime: 'session' });
    await client.request(P.Detach, { target: disk.device });
    const again = await client.request(P.Attach, { path: img, readOnly: true, lifetime: 'session' });
    assert.doesNotMatch(serverLog(again.device), /\(spare\)|configured by worker/);
    await client.request(P.Detach, { target: again.device });
    assert.deepStrictEqual(sparesOf(worker), []);
  });
});
