// Foundation benchmarks, each against a peer measured in the same run (run as root: `npm run bench`).
//   attach+detach cycle through the worker  vs  `losetup -f --show -r` + `losetup -d`   (target <= 0.35x)
//   worker cold start to first answer        vs  `node -e 0`                            (target < 150 ms)
//   extension activation (require + activate of dist/extension.js)                      (target < 10 ms)
//   and what the first use adds (dist/core.js: worker client, JSON-RPC, views, command bodies), reported only
import * as cp from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import Module = require('module');
import { performance } from 'perf_hooks';
import * as P from '../src/common/protocol';
import { WorkerClient } from '../src/host/worker-client';

const ROOT = path.resolve(__dirname, '../..');
const WORKER = path.join(ROOT, 'dist/worker.js');
const quiet = { trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

function median(xs: number[]): number { const s = [...xs].sort((a, b) => a - b); return s[s.length >> 1]; }
function line(name: string, value: string, target: string): void { console.log(`${name}: ${value} (target ${target})`); }

async function attachCycle(img: string, n: number): Promise<{ ours: number; losetup: number }> {
  const client = new WorkerClient({ workerPath: WORKER, client: 'bench', log: quiet });
  await client.request(P.List);
  const ours: number[] = []; const peer: number[] = [];
  for (let i = 0; i < n; i++) {
    let t = performance.now();
    const d = await client.request(P.Attach, { path: img, readOnly: true, lifetime: 'session' });
    await client.request(P.Detach, { target: d.device });
    ours.push(performance.now() - t);
    t = performance.now();
    const dev = cp.execFileSync('losetup', ['-f', '--show', '-r', img], { encoding: 'utf8' }).trim();
    cp.execFileSync('losetup', ['-d', dev]);
    peer.push(performance.now() - t);
  }
  await client.stop();
  return { ours: median(ours), losetup: median(peer) };
}

/**
 * Alternating: the worker with V8's code cache of its bundle (what every start after the first of an installed build
 * gets; the cache is made by one worker that lives past its save), the worker without it (the first start), bare node.
 */
async function coldStart(n: number, cacheDir: string): Promise<{ cached: number; uncached: number; node: number }> {
  const env = { VDISK_CODE_CACHE: cacheDir };
  const warm = new WorkerClient({ workerPath: WORKER, client: 'bench', log: quiet, env });
  await warm.request(P.Sleep, { ms: 2500 }); // the entry saves the cache 2 s after the start (src/worker/boot.ts)
  await warm.stop();
  if (!fs.readdirSync(cacheDir).some((f) => f.endsWith('.v8cache'))) throw new Error(`no code cache was written to ${cacheDir}`);
  const cached: number[] = []; const uncached: number[] = []; const bare: number[] = [];
  const once = async (into: number[], e: NodeJS.ProcessEnv) => {
    const client = new WorkerClient({ workerPath: WORKER, client: 'bench', log: quiet, env: e });
    const t = performance.now();
    await client.request(P.Sleep, { ms: 0 });
    into.push(performance.now() - t);
    await client.stop();
  };
  for (let i = 0; i < n; i++) {
    if (i % 2) { await once(cached, env); await once(uncached, { VDISK_CODE_CACHE: '' }); } else { await once(uncached, { VDISK_CODE_CACHE: '' }); await once(cached, env); }
    const t = performance.now();
    cp.spawnSync(process.execPath, ['-e', '0']);
    bare.push(performance.now() - t);
  }
  return { cached: median(cached), uncached: median(uncached), node: median(bare) };
}

/** require + activate of the real bundle, with the `vscode` module answered by a recorder of the calls it makes. */
function activation(n: number): { activate: number; firstUse: number } {
  const recorder: ProxyHandler<object> = { get: (_t, k) => (k === 'then' ? undefined : new Proxy(function () { /* any call */ }, recorder)), set: () => true, apply: () => new Proxy(function () { /* result */ }, recorder), construct: () => new Proxy({}, recorder) };
  // esbuild's interop copies the module's own keys, so name the members the bundle uses
  const names = ['EventEmitter', 'window', 'workspace', 'commands', 'env', 'extensions', 'languages', 'Uri', 'TreeItem', 'ThemeIcon', 'ThemeColor',
    'MarkdownString', 'TreeItemCollapsibleState', 'ProgressLocation', 'CancellationError', 'Disposable', 'StatusBarAlignment', 'ViewColumn', 'l10n'];
  const fake = Object.fromEntries(names.map((n) => [n, new Proxy(function () { /* member */ }, recorder)]));
  const load = (Module as unknown as { _load: (req: string, ...rest: unknown[]) => unknown })._load;
  (Module as unknown as { _load: unknown })._load = (req: string, ...rest: unknown[]) => (req === 'vscode' ? fake : load(req, ...rest));
  const times: number[] = []; const firstUse: number[] = [];
  const bundle = path.join(ROOT, 'dist/extension.js');
  const core = path.join(ROOT, 'dist/core.js');
  for (let i = 0; i < n; i++) {
    delete require.cache[bundle]; delete require.cache[core];
    let t = performance.now();
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const ext = require(bundle) as { activate(ctx: unknown): { client: unknown } };
    const memento = { get: () => undefined, update: async () => undefined, keys: () => [] };
    const api = ext.activate({ subscriptions: [], extensionPath: ROOT, globalState: memento, workspaceState: memento });
    times.push(performance.now() - t);
    t = performance.now();
    void api.client; // loads the core, as a command, a tree view or the inspector does on first use
    firstUse.push(performance.now() - t);
  }
  (Module as unknown as { _load: unknown })._load = load;
  return { activate: median(times.slice(1)), firstUse: median(firstUse.slice(1)) }; // the first includes reading the files from disk
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('run as root: the attach benchmark uses loop devices');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vdisk-bench-'));
  try {
    const img = path.join(dir, 'bench.img');
    fs.writeFileSync(img, Buffer.alloc(16 << 20));
    const n = Number(process.env.BENCH_N ?? 50);
    const c = await attachCycle(img, n);
    line('attach+detach (worker)', `${c.ours.toFixed(2)} ms vs losetup ${c.losetup.toFixed(2)} ms = ${(c.ours / c.losetup).toFixed(2)}x`, '<= 0.35x');
    const s = await coldStart(Math.min(n, 20), path.join(dir, 'code-cache'));
    line('worker cold start to first answer', `${s.cached.toFixed(1)} ms with the code cache, ${s.uncached.toFixed(1)} ms without (bare node start ${s.node.toFixed(1)} ms = ${(s.cached / s.node).toFixed(2)}x / ${(s.uncached / s.node).toFixed(2)}x)`, '< 150 ms');
    const a = activation(20);
    line('extension activation (require + activate)', `${a.activate.toFixed(2)} ms (first use then loads the core: ${a.firstUse.toFixed(2)} ms)`, '< 10 ms');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
