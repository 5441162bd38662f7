// A fuzz worker thread: copies its format's seeds into a private folder, then for each case index applies the
// mutations in place, runs the oracle and restores the bytes. It publishes the running case index in shared memory
// so the runner's watchdog can terminate it if a case never returns.
import * as fs from 'fs';
import * as path from 'path';
import { parentPort, workerData } from 'worker_threads';
import { checkBlockFile, checkFile, installAllocationGuard } from './check';
import { FuzzCase, generateCase } from './mutators';
import { loadSeeds, WorkerInput, FailureMessage } from './protocol';

async function main(): Promise<void> {
  const w = workerData as WorkerInput;
  const progress = new Int32Array(w.progress);
  const seeds = loadSeeds(w.corpusDir, w.format, w.seeds, w.workDir, true);
  const fds = new Map<string, number>();
  const fdOf = (name: string) => {
    let fd = fds.get(name);
    if (fd === undefined) { fd = fs.openSync(path.join(w.workDir, name), 'r+'); fds.set(name, fd); }
    return fd;
  };
  installAllocationGuard();
  let done = 0, totalMs = 0, maxMs = 0, failures = 0, opened = 0;
  for (let i = w.from; i < w.to; i++) {
    const c: FuzzCase = generateCase(w.format, seeds, w.seed, i, w.workDir);
    Atomics.store(progress, 0, i);
    Atomics.add(progress, 1, 1);
    if (i === w.hangAt) for (;;) { /* the watchdog must end this */ }
    let file = path.join(w.workDir, c.target);
    for (const [name, ov] of c.overlays) {
      if (name === c.target && c.replace) continue;
      for (const p of ov.patches) fs.writeSync(fdOf(name), p.bytes, 0, p.bytes.length, p.offset);
    }
    if (c.replace) {
      file = path.join(w.workDir, `trunc-${c.target}`);
      fs.writeFileSync(file, c.replace);
    }
    const differential = w.qemuEvery > 0 && i % w.qemuEvery === 0;
    const run = w.target === 'block' ? await checkBlockFile(file, c.expect, differential) : await checkFile(file, c.expect, differential);
    for (const [name, ov] of c.overlays) {
      if (name === c.target && c.replace) continue;
      for (const p of ov.patches) fs.writeSync(fdOf(name), ov.base, p.offset, p.bytes.length, p.offset);
    }
    if (c.replace) fs.rmSync(file, { force: true });
    done++;
    if (run.opened) opened++;
    totalMs += run.ms;
    maxMs = Math.max(maxMs, run.ms);
    if (run.failure) {
      failures++;
      const msg: FailureMessage = { type: 'failure', format: w.format, oracle: w.target, index: i, target: c.target, replaced: !!c.replace,
        mutations: c.mutations, expect: c.expect, kind: run.failure.kind, error: run.failure.error,
        file: c.replace ?? c.overlays.get(c.target)!.materialize(),
        companions: companionsOf(c, seeds.find((s) => s.entry.name === c.target)!.entry.parent, w.workDir) };
      parentPort!.postMessage(msg);
    }
    if (done % 250 === 0) parentPort!.postMessage({ type: 'progress', done, failures });
  }
  for (const fd of fds.values()) fs.closeSync(fd);
  parentPort!.postMessage({ type: 'done', done, totalMs, maxMs, failures, opened });
}

/** The other files a failing case needs to replay: siblings it rewrote and its pristine parent. */
function companionsOf(c: FuzzCase, parent: string | undefined, dir: string): { name: string; bytes: Buffer }[] {
  const out: { name: string; bytes: Buffer }[] = [];
  for (const [name, ov] of c.overlays) if (name !== c.target) out.push({ name, bytes: ov.materialize() });
  if (parent && !c.overlays.has(parent)) out.push({ name: parent, bytes: fs.readFileSync(path.join(dir, parent)) });
  return out;
}

main().catch((e) => {
  parentPort!.postMessage({ type: 'crash', error: e instanceof Error ? `${e.message}\n${e.stack}` : String(e) });
});
