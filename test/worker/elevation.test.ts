// "Retry as Administrator", host half: WorkerClient.elevate() asks the worker to start an elevated copy, accepts it on
// the pipe after the secret handshake, and sends every later request to it. Here the part Windows does with
// ShellExecuteExW("runas") is played by a stand-in worker that spawns the real dist/worker.js with --pipe/--secret-file.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { ResponseError } from 'vscode-jsonrpc';
import * as P from '../../src/common/protocol';
import { captureLog, newClient, tmpDir, WORKER } from '../support/worker';
import { WorkerClient } from '../../src/host/worker-client';

const STANDIN = `
const cp = require('child_process');
const { createMessageConnection, IPCMessageReader, IPCMessageWriter, RequestType, RequestType0 } = require(${JSON.stringify(require.resolve('vscode-jsonrpc/node'))});
const c = createMessageConnection(new IPCMessageReader(process), new IPCMessageWriter(process));
c.onRequest(new RequestType('vdisk/initialize'), () => ({ protocolVersion: 1, pid: process.pid, platform: 'win32', backend: 'windows', limitations: ['Not elevated'] }));
c.onRequest(new RequestType('vdisk/elevate'), (p) => {
  const child = cp.spawn(process.execPath, [${JSON.stringify(WORKER)}, '--pipe', p.pipe, '--secret-file', p.secretFile], { stdio: 'ignore', detached: true });
  child.unref();
  return { pid: child.pid };
});
c.onRequest(new RequestType0('vdisk/shutdown'), () => { setTimeout(() => process.exit(0), 10); });
c.listen();
process.on('disconnect', () => process.exit(0));
`;

describe('elevation (host half)', function () {
  this.timeout(30_000);
  let dir: string;
  let client: WorkerClient;
  beforeEach(() => { dir = tmpDir(); });
  afterEach(async () => { await client?.stop(); fs.rmSync(dir, { recursive: true, force: true }); });

  it('switches every request to the elevated worker that passed the secret handshake', async () => {
    const standin = path.join(dir, 'standin.js');
    fs.writeFileSync(standin, STANDIN);
    const log = captureLog();
    client = new WorkerClient({ workerPath: standin, client: 'test', log, shutdownTimeoutMs: 2000 });
    await client.start();
    const unelevated = client.pid;
    assert.strictEqual(client.info?.backend, 'windows');
    await client.elevate({ timeoutMs: 10_000 });
    assert.ok(client.elevated);
    assert.notStrictEqual(client.pid, unelevated);
    // the real worker answers now: its backend is this machine's
    assert.strictEqual(client.info?.backend, 'linux');
    assert.ok(Array.isArray(await client.request(P.List)));
    assert.ok(log.lines.some((l) => /elevated worker \d+ connected/.test(l)), log.lines.join('\n'));
    assert.deepStrictEqual(fs.readdirSync(require('os').tmpdir()).filter((f) => f.startsWith('vdisk-elevate-') && f.endsWith('.secret')), [], 'the secret file is gone');
    const pid = client.pid!;
    await client.stop();
    for (let i = 0; i < 100; i++) { try { process.kill(pid, 0); await new Promise((r) => setTimeout(r, 20)); } catch { break; } }
    assert.throws(() => process.kill(pid, 0), 'the elevated worker exits when stopped');
  });

  it('says elevation is a Windows feature when the worker cannot elevate', async () => {
    client = newClient();
    await assert.rejects(client.elevate({ timeoutMs: 2000 }), (e: unknown) => e instanceof ResponseError && e.code === P.ErrorCode.NotSupported && /Windows feature/.test(e.message));
    assert.ok(!client.elevated);
    assert.ok(Array.isArray(await client.request(P.List)), 'the worker keeps working');
  });
});
