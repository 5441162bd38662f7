// The elevation handshake over a real local socket (a unix socket here, a named pipe on Windows), and the
// command-line quoting ShellExecuteExW's single parameter string needs.
import * as assert from 'assert';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { createMessageConnection, RequestType0, SocketMessageReader, SocketMessageWriter } from 'vscode-jsonrpc/node';
import { checkHandshake, handshakeLine, quoteWindowsArg } from '../../../src/common/elevation';
import { acceptElevatedWorker, newElevationSession } from '../../../src/host/elevation';
import { connectElevated, takeSecret } from '../../../src/worker/elevation';

/** What CommandLineToArgvW does with a parameter string (the documented MSVC rules), to check the quoting. */
function parseWindowsArgs(s: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < s.length) {
    while (s[i] === ' ' || s[i] === '\t') i++;
    if (i >= s.length) break;
    let arg = '';
    let quoted = false;
    for (; i < s.length; i++) {
      const c = s[i];
      if (c === '\\') {
        let n = 0;
        while (s[i] === '\\') { n++; i++; }
        if (s[i] === '"') { arg += '\\'.repeat(n >> 1); if (n % 2) { arg += '"'; continue; } i--; continue; }
        arg += '\\'.repeat(n); i--; continue;
      }
      if (c === '"') { quoted = !quoted; continue; }
      if (!quoted && (c === ' ' || c === '\t')) break;
      arg += c;
    }
    out.push(arg);
  }
  return out;
}

describe('Windows: elevation handshake and argument quoting', () => {
  let dir = '';
  beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vdisk-elev-')); });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('quotes arguments so CommandLineToArgvW gives them back unchanged', () => {
    const args = ['C:\\Program Files\\vdisk\\dist\\worker.js', '--pipe', '\\\\.\\pipe\\vdisk-elevated-ab12', 'plain',
      '', 'with "quotes"', 'ends with backslash\\', 'C:\\dir with space\\', 'a\\\\"b', 'tab\there'];
    assert.deepStrictEqual(parseWindowsArgs(args.map(quoteWindowsArg).join(' ')), args);
    assert.strictEqual(quoteWindowsArg('--pipe'), '--pipe');
  });

  it('a session secret is 256 random bits, read once and deleted; the pipe name is unguessable', () => {
    const s = newElevationSession(dir);
    assert.match(s.secret, /^[0-9a-f]{64}$/);
    // a named pipe on Windows; a Unix socket beside the secret elsewhere (where the host-half tests run)
    if (process.platform === 'win32') assert.match(s.pipe, /^\\\\\.\\pipe\\vdisk-elevated-[0-9a-f]{32}$/);
    else {
      assert.strictEqual(path.dirname(s.pipe), path.dirname(s.secretFile));
      assert.match(path.basename(s.pipe), /^vdisk-elevated-[0-9a-f]{32}\.sock$/);
    }
    assert.strictEqual(takeSecret(s.secretFile), s.secret);
    assert.ok(!fs.existsSync(s.secretFile));
    assert.throws(() => takeSecret(s.secretFile));
    assert.ok(checkHandshake(handshakeLine(s.secret), s.secret));
    assert.ok(!checkHandshake(handshakeLine('0'.repeat(64)), s.secret));
    assert.ok(!checkHandshake(`other ${s.secret}\n`, s.secret));
  });

  it('the host drops a connection without the secret and accepts the worker that has it; JSON-RPC then flows', async () => {
    const s = newElevationSession(dir);
    const sock = path.join(dir, 'pipe.sock');
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(sock, r));
    try {
      const accepted = acceptElevatedWorker(server, s.secret, 5000);
      // an impostor first: it is cut off without an answer
      const impostor = net.connect(sock);
      await new Promise<void>((r) => impostor.once('connect', r));
      impostor.write(handshakeLine('f'.repeat(64)));
      await new Promise<void>((r) => impostor.once('close', () => r()));

      const Ping = new RequestType0<string, void>('ping');
      const [hostSide, workerSide] = await Promise.all([accepted, connectElevated(sock, s.secretFile, 5000)]);
      const worker = createMessageConnection(new SocketMessageReader(workerSide), new SocketMessageWriter(workerSide));
      worker.onRequest(Ping, () => 'pong');
      worker.listen(); workerSide.resume();
      const host = createMessageConnection(new SocketMessageReader(hostSide), new SocketMessageWriter(hostSide));
      host.listen(); hostSide.resume();
      assert.strictEqual(await host.sendRequest(Ping), 'pong');
      assert.ok(!fs.existsSync(s.secretFile), 'the worker must delete the secret file');
      host.dispose(); worker.dispose(); hostSide.destroy(); workerSide.destroy();
    } finally {
      server.close();
    }
  });

  it('the host gives up after its time limit when nobody presents the secret', async () => {
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(path.join(dir, 'p2.sock'), r));
    try {
      await assert.rejects(acceptElevatedWorker(server, 'a'.repeat(64), 200), /did not connect/);
    } finally { server.close(); }
  });
});
