// Runs fuzz cases for one format on a pool of worker threads with a watchdog: a case still running after
// HANG_MS is a hang; its worker is terminated, the case rebuilt here and reported, and a new worker continues.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { Worker } from 'worker_threads';
import { CASE_LIMIT_MS } from './check';
import type { Corpus, FuzzFormat } from './corpus';
import { generateCase } from './mutators';
import { FailureMessage, FuzzTarget, WorkerInput, WorkerMessage, loadSeeds } from './protocol';

/** A case not finished after this long is declared hung (the target is 1 s; the margin absorbs a loaded machine). */
export const HANG_MS = 3 * CASE_LIMIT_MS;

export interface RunOptions {
  format: FuzzFormat;
  corpus: Corpus;
  cases: number;
  seed: number;
  workers?: number;
  /** Where crashing inputs are written (null: not written, e.g. inside `npm test`). */
  fixtureDir: string | null;
  /** Fixtures kept per distinct failure signature and run. */
  fixturesPerSignature?: number;
  log?: (line: string) => void;
  /** Compare 1 case in N with qemu-img (differential oracle, slow: a process per case); 0 or absent: never. */
  qemuEvery?: number;
  /** Test hook: the worker spins forever at this case index (proves the watchdog). */
  hangAt?: number;
  /** inspectImage (default) or the block layer. */
  target?: FuzzTarget;
}

export interface RunSummary {
  format: FuzzFormat;
  cases: number;
  seconds: number;
  casesPerSecond: number;
  meanCaseMs: number;
  maxCaseMs: number;
  failures: FailureMessage[];
  fixtures: string[];
  /** Block target: cases whose disk opened and was read (the rest were refused with a FormatError). */
  opened: number;
}

/** Same kind and error text with the numbers and paths taken out: one bug, however many cases hit it. */
export function signature(f: { kind: string; error: string }): string {
  return `${f.kind}: ${f.error.split('\n')[0].replace(/\/[^\s:,)]+/g, '<path>').replace(/0x[0-9a-f]+|\d+/gi, 'N').slice(0, 160)}`;
}

export function writeFixture(dir: string, f: FailureMessage, seed: number): string {
  fs.mkdirSync(dir, { recursive: true });
  const sha8 = crypto.createHash('sha256').update(f.file).digest('hex').slice(0, 8);
  const base = `${f.oracle === 'block' ? 'block-' : ''}${f.format}-${sha8}`;
  fs.writeFileSync(path.join(dir, `${base}.bin.gz`), zlib.gzipSync(f.file, { level: 9 }));
  const note = {
    format: f.format, target: f.oracle ?? 'inspect', seed, case: f.index, seedFile: f.target, fileName: `${f.replaced ? 'trunc-' : ''}${f.target}`,
    mutations: f.mutations, expect: f.expect, kind: f.kind, error: f.error,
    companions: f.companions.map((c) => ({ name: c.name, gzBase64: zlib.gzipSync(c.bytes, { level: 9 }).toString('base64') })),
  };
  fs.writeFileSync(path.join(dir, `${base}.json`), `${JSON.stringify(note, null, 2)}\n`);
  return `${base}.bin.gz`;
}

export async function runFuzz(o: RunOptions): Promise<RunSummary> {
  const nWorkers = Math.max(1, Math.min(o.workers ?? Math.max(1, os.cpus().length), o.cases));
  const seeds = o.corpus.seeds.filter((s) => s.format === o.format);
  if (!seeds.length) throw new Error(`no seeds for ${o.format}`);
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), `vdisk-fuzz-${o.target === 'block' ? 'block-' : ''}${o.format}-`));
  const failures: FailureMessage[] = [];
  const fixtures: string[] = [];
  const perSig = new Map<string, number>();
  let done = 0, totalMs = 0, maxMs = 0, opened = 0;
  const t0 = Date.now();
  const record = (f: FailureMessage) => {
    failures.push(f);
    const sig = signature(f);
    const n = perSig.get(sig) ?? 0;
    perSig.set(sig, n + 1);
    if (n === 0) o.log?.(`  FAIL ${o.format} case ${f.index} (${f.target}): ${sig}`);
    if (!o.fixtureDir || n >= (o.fixturesPerSignature ?? 2)) return;
    // inputs derived from ../shared/images must never enter the repo: they go to a temp folder instead
    const shared = f.target.startsWith('shared-') || f.companions.some((c) => c.name.startsWith('shared-') || c.name === 'image.vhd');
    const dir = shared ? path.join(os.tmpdir(), 'vdisk-fuzz-shared-findings') : o.fixtureDir;
    const name = writeFixture(dir, f, o.seed);
    fixtures.push(shared ? path.join(dir, name) : name);
  };

  const runRange = (k: number, from: number, to: number): Promise<void> => new Promise((resolve, reject) => {
    const workDir = path.join(scratch, `w${k}`);
    const progress = new SharedArrayBuffer(8);
    const counters = new Int32Array(progress);
    counters[0] = -1;
    const input: WorkerInput = { format: o.format, corpusDir: o.corpus.dir, seeds, workDir, seed: o.seed, from, to, progress, hangAt: o.hangAt, qemuEvery: o.qemuEvery ?? 0, target: o.target };
    const worker = new Worker(path.join(__dirname, 'worker.js'), { workerData: input, resourceLimits: { maxOldGenerationSizeMb: 1024 } });
    let lastStarted = -1, since = Date.now(), finished = false;
    const dog = setInterval(() => {
      const started = Atomics.load(counters, 1);
      if (started !== lastStarted) { lastStarted = started; since = Date.now(); return; }
      if (started === 0 || Date.now() - since < HANG_MS) return;
      // hung: rebuild the case here, report it, continue after it with a fresh worker and fresh seed copies
      const idx = Atomics.load(counters, 0);
      finished = true;
      clearInterval(dog);
      void worker.terminate().then(() => {
        const loaded = loadSeeds(o.corpus.dir, o.format, seeds, null);
        const c = generateCase(o.format, loaded, o.seed, idx, workDir);
        const target = loaded.find((s) => s.entry.name === c.target)!;
        record({ type: 'failure', format: o.format, oracle: o.target, index: idx, target: c.target, replaced: !!c.replace, mutations: c.mutations,
          expect: c.expect, kind: 'hang', error: `no result after ${HANG_MS} ms`, file: c.replace ?? c.overlays.get(c.target)!.materialize(),
          companions: [...c.overlays].filter(([n]) => n !== c.target).map(([name, ov]) => ({ name, bytes: ov.materialize() }))
            .concat(target.entry.parent ? [{ name: target.entry.parent, bytes: fs.readFileSync(path.join(o.corpus.dir, o.format, target.entry.parent)) }] : []) });
        done += idx - from + 1;
        if (idx + 1 < to) runRange(k, idx + 1, to).then(resolve, reject); else resolve();
      }, reject);
    }, 100);
    worker.on('message', (m: WorkerMessage) => {
      if (m.type === 'failure') record({ ...m, file: Buffer.from(m.file), companions: m.companions.map((c) => ({ name: c.name, bytes: Buffer.from(c.bytes) })) });
      else if (m.type === 'done') { done += m.done; opened += m.opened ?? 0; totalMs += m.totalMs; maxMs = Math.max(maxMs, m.maxMs); }
      else if (m.type === 'crash') { finished = true; clearInterval(dog); void worker.terminate(); reject(new Error(`fuzz worker crashed: ${m.error}`)); }
    });
    worker.on('error', (e) => { if (!finished) { finished = true; clearInterval(dog); reject(e); } });
    worker.on('exit', () => { if (!finished) { finished = true; clearInterval(dog); resolve(); } });
  });

  try {
    const ranges: Promise<void>[] = [];
    for (let k = 0; k < nWorkers; k++) {
      const from = Math.floor((o.cases * k) / nWorkers), to = Math.floor((o.cases * (k + 1)) / nWorkers);
      if (to > from) ranges.push(runRange(k, from, to));
    }
    await Promise.all(ranges);
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
  const seconds = (Date.now() - t0) / 1000;
  return { format: o.format, cases: done, seconds, casesPerSecond: done / seconds, meanCaseMs: done ? totalMs / done : 0, maxCaseMs: maxMs, failures, fixtures, opened };
}
