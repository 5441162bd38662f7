import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as P from '../../src/common/protocol';

const ROOT = path.resolve(__dirname, '../../..');

describe('protocol', () => {
  const requests = (Object.values(P) as unknown[]).filter((v): v is { method: string } => typeof v === 'object' && v !== null && 'method' in v);

  it('has unique method names under vdisk/', () => {
    const names = requests.map((r) => r.method);
    assert.ok(names.length >= 10);
    assert.strictEqual(new Set(names).size, names.length);
    for (const n of names) assert.match(n, /^vdisk\/(browse\/)?[a-zA-Z]+$/);
  });

  it('is documented: docs/protocol.md names every method and error code', () => {
    const doc = fs.readFileSync(path.join(ROOT, 'docs/protocol.md'), 'utf8');
    for (const r of requests) assert.ok(doc.includes(r.method), `${r.method} missing from docs/protocol.md`);
    // the error table's rows, code and name side by side, must be exactly the enum
    const rows = [...doc.matchAll(/^\| (\d+) \| (\w+) \|/gm)].map((m) => `${m[1]} ${m[2]}`).sort();
    const codes = Object.entries(P.ErrorCode).filter(([, v]) => typeof v === 'number').map(([name, code]) => `${code} ${name}`).sort();
    assert.deepStrictEqual(rows, codes, 'the error table in docs/protocol.md differs from ErrorCode');
    assert.strictEqual(/^# The worker protocol \(version (\d+)\)$/m.exec(doc)?.[1], String(P.PROTOCOL_VERSION), 'the documented protocol version');
  });

  it('keeps error codes out of JSON-RPC\'s reserved range', () => {
    for (const v of Object.values(P.ErrorCode)) if (typeof v === 'number') assert.ok(v > 0, String(v));
  });

  it('imports neither vscode nor koffi in src/common', () => {
    for (const f of fs.readdirSync(path.join(ROOT, 'src/common'))) {
      const text = fs.readFileSync(path.join(ROOT, 'src/common', f), 'utf8');
      assert.ok(!/from 'vscode'|require\('vscode'\)/.test(text), `${f} imports vscode`);
      assert.ok(!/from 'koffi'|require\('koffi'\)/.test(text), `${f} imports koffi`);
    }
  });
});

describe('bundles', () => {
  it('the extension host bundles (activation and core) neither contain nor load koffi', () => {
    for (const f of ['extension.js', 'core.js']) {
      const host = fs.readFileSync(path.join(ROOT, 'dist', f), 'utf8');
      assert.ok(!host.includes('koffi'), `dist/${f} mentions koffi`);
    }
    const worker = fs.readFileSync(path.join(ROOT, 'dist/worker-main.js'), 'utf8');
    assert.ok(/require\("koffi"\)/.test(worker), 'the worker loads koffi as an external module');
  });

  it('the extension host bundles never contain 7-Zip (7z-wasm runs in threads of the worker)', () => {
    for (const f of ['extension.js', 'core.js']) {
      const host = fs.readFileSync(path.join(ROOT, 'dist', f), 'utf8');
      assert.ok(!/7z-wasm|7zz\.wasm|SevenZip/i.test(host), `dist/${f} mentions 7z-wasm`);
    }
    assert.ok(fs.existsSync(path.join(ROOT, 'dist/7zz.wasm')), 'dist/7zz.wasm is next to the bundles');
    assert.ok(/7zz\.wasm/.test(fs.readFileSync(path.join(ROOT, 'dist/worker-main.js'), 'utf8')), 'the worker finds 7zz.wasm in dist/');
  });

  it('activation loads neither the JSON-RPC library nor the worker client: they are in dist/core.js, loaded on first use', () => {
    const entry = fs.readFileSync(path.join(ROOT, 'dist/extension.js'), 'utf8');
    assert.ok(!/vscode-jsonrpc|createMessageConnection|IPCMessageReader/.test(entry), 'dist/extension.js contains the JSON-RPC library');
    assert.ok(!/WorkerClient|dist\/worker\.js|"worker\.js"/.test(entry), 'dist/extension.js contains the worker client');
    assert.ok(/createMessageConnection/.test(fs.readFileSync(path.join(ROOT, 'dist/core.js'), 'utf8')), 'dist/core.js has the JSON-RPC library');
  });

  it('never runs a shell', () => {
    for (const f of ['extension.js', 'core.js', 'worker.js', 'worker-main.js', 'cli.js']) {
      const text = fs.readFileSync(path.join(ROOT, 'dist', f), 'utf8');
      assert.ok(!/shell:\s*true/.test(text), `${f} spawns with shell: true`);
      assert.ok(!/\b(?:cp|child_process|childProcess|import_child_process\d*)\.exec(?:Sync)?\(/.test(text), `${f} calls child_process.exec`);
    }
  });
});
