// Replays a saved crashing input (test/fixtures/fuzz/<format>-<sha8>.bin.gz + .json) in a worker thread under the
// same oracle and watchdog as the fuzz run, so a regression that hangs fails instead of stalling the test run.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { Worker, isMainThread, parentPort, workerData } from 'worker_threads';
import { CaseFailure, checkBlockFile, checkFile, installAllocationGuard } from './check';
import { HANG_MS } from './runner';
import type { ProblemCode } from '../../src/formats/problems';

export interface FixtureNote {
  format: string; target?: 'inspect' | 'block'; seed: number; case: number; seedFile: string; fileName: string; mutations: string[];
  expect: ProblemCode | null; kind: string; error: string; companions: { name: string; gzBase64: string }[];
}

export function listFixtures(dir: string): string[] {
  return fs.existsSync(dir) ? fs.readdirSync(dir).filter((n) => n.endsWith('.bin.gz')).sort() : [];
}

/** Writes the fixture's files to a temp folder, checks it in a worker; null when the oracle is satisfied. */
export async function replayFixture(binGz: string): Promise<CaseFailure | null> {
  const note = JSON.parse(fs.readFileSync(binGz.replace(/\.bin\.gz$/, '.json'), 'utf8')) as FixtureNote;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vdisk-fuzz-replay-'));
  try {
    const file = path.join(dir, path.basename(note.fileName));
    fs.writeFileSync(file, zlib.gunzipSync(fs.readFileSync(binGz)));
    for (const c of note.companions) fs.writeFileSync(path.join(dir, path.basename(c.name)), zlib.gunzipSync(Buffer.from(c.gzBase64, 'base64')));
    return await new Promise<CaseFailure | null>((resolve, reject) => {
      const w = new Worker(__filename, { workerData: { file, expect: note.expect, differential: note.kind === 'qemu-refuses', block: note.target === 'block' } });
      const dog = setTimeout(() => { void w.terminate(); resolve({ kind: 'hang', error: `no result after ${HANG_MS} ms` }); }, HANG_MS);
      w.once('message', (m: { failure: CaseFailure | null }) => { clearTimeout(dog); void w.terminate(); resolve(m.failure); });
      w.once('error', (e) => { clearTimeout(dog); reject(e); });
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (!isMainThread && workerData?.file) {
  installAllocationGuard();
  const file = workerData.file as string, expect = workerData.expect as ProblemCode | null;
  void (workerData.block === true ? checkBlockFile(file, expect) : checkFile(file, expect, workerData.differential === true))
    .then((r) => parentPort!.postMessage({ failure: r.failure }));
}
