// The host's supervision of a real worker process: lazy start, crash handling, restart budget, shutdown, cancellation.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { CancellationTokenSource, ResponseError } from 'vscode-jsonrpc';
import * as P from '../../src/common/protocol';
import { WorkerClient } from '../../src/host/worker-client';
import { captureLog, newClient, tmpDir, WORKER } from '../support/worker';

/** Running (a zombie waiting to be reaped by PID 1 counts as gone). */
function alive(pid: number): boolean {
  try { return !/^\d+ \(.*\) [ZX]/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8')); } catch { return false; }
}

async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('worker supervision', function () {
  this.timeout(30_000);
  let client: WorkerClient;
  afterEach(async () => { await client?.stop(); });

  it('starts no process until the first request, then answers the handshake', async () => {
    client = newClient();
    assert.strictEqual(client.state, 'stopped');
    assert.strictEqual(client.pid, undefined);
    const disks = await client.request(P.List);
    assert.ok(Array.isArray(disks));
    assert.strictEqual(client.state, 'running');
    assert.strictEqual(client.info?.protocolVersion, P.PROTOCOL_VERSION);
    assert.strictEqual(client.info?.backend, 'linux');
    assert.ok(client.pid && alive(client.pid));
  });

  it('fails a pending request at once when the worker is killed -9, then restarts on the next request', async () => {
    const log = captureLog();
    client = newClient({ log });
    await client.request(P.List);
    const pid = client.pid!;
    // the worker would answer only after 10 minutes (its cap): a rejection can come only from noticing the death
    const pending = client.request(P.Sleep, { ms: 600_000 });
    process.kill(pid, 'SIGKILL');
    await assert.rejects(pending, (e: unknown) => e instanceof ResponseError && e.code === P.ErrorCode.WorkerDied && /stopped unexpectedly \(killed by SIGKILL\)/.test(e.message));
    assert.strictEqual(client.state, 'stopped');
    assert.ok(log.lines.some((l) => /error worker \d+ died: killed by SIGKILL/.test(l)), log.lines.join('\n'));
    const r = await client.request(P.Sleep, { ms: 1 });
    assert.strictEqual(r.cancelled, false);
    assert.notStrictEqual(client.pid, pid);
  });

  it('stops restarting after the crash budget is spent, until restart() is asked for', async () => {
    client = newClient({ restartBudget: { crashes: 2, windowMs: 60_000 } });
    for (let i = 0; i < 2; i++) {
      await client.request(P.List);
      const pid = client.pid!;
      const exited = new Promise((r) => client.once('crash', r));
      process.kill(pid, 'SIGKILL');
      await exited;
    }
    assert.strictEqual(client.state, 'failed');
    await assert.rejects(client.request(P.List), (e: unknown) => e instanceof ResponseError && (e.data as P.ErrorData).reason === 'restart-budget' && /Restart Worker/.test(e.message));
    await client.restart();
    assert.strictEqual(client.state, 'running');
    assert.ok(Array.isArray(await client.request(P.List)));
  });

  it('cancellation reaches the worker', async () => {
    client = newClient();
    await client.request(P.List);
    const source = new CancellationTokenSource();
    // a 10-minute sleep: only the worker seeing $/cancelRequest ends it within the test's timeout
    const p = client.request(P.Sleep, { ms: 600_000 }, source.token);
    // cancel once the request itself is on the wire (request() first awaits the running worker): a cancel written
    // before its request names an id the worker does not know yet, and is dropped
    await new Promise((r) => setImmediate(r));
    source.cancel();
    const r = await p.catch((e: unknown) => e);
    // the client waits for the worker's answer: its "cancelled" result, or vscode-jsonrpc's RequestCancelled error
    if (r instanceof ResponseError) assert.strictEqual(r.code, -32800);
    else assert.strictEqual((r as { cancelled: boolean }).cancelled, true);
    // the worker is idle again: a fresh request is answered at once
    const again = await client.request(P.Sleep, { ms: 1 });
    assert.strictEqual(again.cancelled, false);
  });

  it('shuts down with a request, and kills a worker that does not exit within the timeout', async () => {
    client = newClient({ shutdownTimeoutMs: 500 });
    await client.request(P.List);
    const pid = client.pid!;
    await client.stop();
    assert.strictEqual(client.state, 'stopped');
    await waitFor(() => !alive(pid));

    // a worker stuck in a busy loop cannot answer shutdown: it must be killed after the timeout
    const dir = tmpDir();
    const stuck = path.join(dir, 'stuck-worker.js');
    fs.writeFileSync(stuck, `require(${JSON.stringify(WORKER)}); process.on('message', (m) => { if (m && m.method === 'vdisk/shutdown') { for (;;) {} } });`);
    const log = captureLog();
    const c2 = new WorkerClient({ workerPath: stuck, client: 'test', log, shutdownTimeoutMs: 500 });
    await c2.request(P.List);
    const pid2 = c2.pid!;
    // the worker spins forever on shutdown: stop() can only return once the client killed it after the timeout
    await c2.stop();
    await waitFor(() => !alive(pid2));
    assert.ok(log.lines.some((l) => /did not exit within 500 ms; killing it/.test(l)), log.lines.join('\n'));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a worker that cannot start says why (its last error line is in the error)', async () => {
    const dir = tmpDir();
    const bad = path.join(dir, 'bad-worker.js');
    fs.writeFileSync(bad, `process.stderr.write('[error] worker failed to start: RunDirError: /x is not a safe private folder\\n'); process.exit(1);`);
    const c = new WorkerClient({ workerPath: bad, client: 'test', log: captureLog(), shutdownTimeoutMs: 500 });
    try {
      await assert.rejects(c.request(P.List), (e: unknown) => e instanceof ResponseError && e.code === P.ErrorCode.WorkerDied
        && /exited during start-up \(exit code 1\): worker failed to start: RunDirError: \/x is not a safe private folder$/.test(e.message));
    } finally {
      await c.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('forwards the worker\'s stderr to the log with its level (a refusal at debug: the client logs it once)', async () => {
    const log = captureLog();
    client = newClient({ log });
    await client.request(P.Inspect, { path: '/nonexistent/x.vhd' }).catch(() => undefined);
    await waitFor(() => log.lines.some((l) => /^debug \[worker\] NotFound: \/nonexistent\/x\.vhd does not exist/.test(l)));
  });

  it('refuses a client of another protocol version with a clear error', async () => {
    const { fork } = await import('child_process');
    const { createMessageConnection, IPCMessageReader, IPCMessageWriter } = await import('vscode-jsonrpc/node');
    const proc = fork(WORKER, [], { stdio: ['ignore', 'ignore', 'ignore', 'ipc'] });
    const conn = createMessageConnection(new IPCMessageReader(proc), new IPCMessageWriter(proc));
    conn.listen();
    try {
      await assert.rejects(conn.sendRequest(P.Initialize, { protocolVersion: 999, client: 'old' }),
        (e: unknown) => e instanceof ResponseError && e.code === P.ErrorCode.VersionMismatch && /version 1, old speaks 999/.test(e.message));
    } finally { conn.dispose(); proc.kill('SIGKILL'); }
  });

  it('serves the same protocol over --stdio', async () => {
    client = newClient({ transport: 'stdio' });
    const r = await client.request(P.Sleep, { ms: 1 });
    assert.strictEqual(r.cancelled, false);
    assert.strictEqual(client.info?.backend, 'linux');
  });

  it('exits when its parent goes away (no orphan workers)', async () => {
    const { spawn } = await import('child_process');
    const dir = tmpDir();
    const parent = path.join(dir, 'parent.js');
    fs.writeFileSync(parent, `const cp = require('child_process'); const w = cp.fork(${JSON.stringify(WORKER)}, [], { stdio: ['ignore','ignore','ignore','ipc'] }); console.log(w.pid); setInterval(() => {}, 1000);`);
    const p = spawn(process.execPath, [parent], { stdio: ['ignore', 'pipe', 'ignore'] });
    const workerPid = await new Promise<number>((resolve) => p.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));
    assert.ok(alive(workerPid));
    p.kill('SIGKILL');
    await waitFor(() => !alive(workerPid));
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
