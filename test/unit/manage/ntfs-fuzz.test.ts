// The short seeded fuzz run of the NTFS reader behind compact (test/fuzz/ntfs.ts; VDISK_NTFS_FUZZ_CASES=N for a
// long run): no exception, no read outside the partition or above 64 MiB, no hang (3 s watchdog), and a map is
// only returned whole, with the volume's own metadata in use; anything else is a refusal ("do not release").
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Worker } from 'worker_threads';
import { buildNtfsSeeds, checkNtfsCase, NtfsMessage, NtfsSeed } from '../../fuzz/ntfs';
import { tool } from '../formats/helpers';

const CASES = Number(process.env.VDISK_NTFS_FUZZ_CASES ?? 600);
const SEED = Number(process.env.VDISK_NTFS_FUZZ_SEED ?? 20261201);
const HANG_MS = 3000;

/** Runs cases [0, cases) in worker threads; a case that does not finish within HANG_MS is a hang, the run goes on. */
export function runNtfsFuzz(seeds: NtfsSeed[], seed: number, cases: number, hangAt?: number): Promise<{ failures: string[]; released: number; refused: number }> {
  const failures: string[] = [];
  let released = 0, refused = 0;
  return new Promise((resolve) => {
    const start = (from: number) => {
      if (from >= cases) { resolve({ failures, released, refused }); return; }
      const w = new Worker(path.resolve(__dirname, '../../fuzz/ntfs.js'), { workerData: { ntfsFuzz: true, seeds, seed, from, to: cases, hangAt } });
      let current = from, timer: NodeJS.Timeout | undefined;
      const arm = () => { clearTimeout(timer); timer = setTimeout(() => { failures.push(`case ${current}: hang (over ${HANG_MS} ms)`); void w.terminate().then(() => start(current + 1)); }, HANG_MS); };
      arm();
      w.on('message', (m: NtfsMessage) => {
        if (m.type === 'start') { current = m.index; arm(); } else if (m.type === 'failure') failures.push(`case ${m.index}: ${m.error}`);
        else { clearTimeout(timer); released += m.released; refused += m.refused; void w.terminate(); resolve({ failures, released, refused }); }
      });
      w.on('error', (e) => { clearTimeout(timer); failures.push(`case ${current}: worker died: ${e.message}`); start(current + 1); });
    };
    start(0);
  });
}

describe('fuzz: the NTFS reader of compact', function () {
  this.timeout(300_000);
  let dir = '', seeds: NtfsSeed[] = [];
  before(function () {
    tool('mkntfs'); tool('ntfscp');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vdisk-ntfs-fuzz-'));
    seeds = buildNtfsSeeds(dir);
  });
  after(() => { if (dir) fs.rmSync(dir, { recursive: true, force: true }); });

  it('the unmutated seeds are read: free space found, nothing refused', async function () {
    for (const s of seeds) assert.deepStrictEqual(await checkNtfsCase(s.bytes), { error: null, released: true }, s.name);
  });

  it(`${CASES} mutated volumes (seed ${SEED}): no exception, hang, stray read or partial map`, async function () {
    const r = await runNtfsFuzz(seeds, SEED, CASES);
    console.log(`      ${r.released} maps returned, ${r.refused} refused or not NTFS`);
    assert.ok(!r.failures.length, `${r.failures.length} failures; first: ${r.failures.slice(0, 3).join(' | ')}`);
    assert.ok(r.released > CASES / 20 && r.refused > CASES / 20, 'the mutations reach both the refusals and the maps');
  });

  it('the watchdog ends a case that spins and the run goes on', async function () {
    const r = await runNtfsFuzz(seeds, SEED, 4, 1);
    assert.deepStrictEqual(r.failures, ['case 1: hang (over 3000 ms)']);
    assert.strictEqual(r.released + r.refused, 2, 'cases 2 and 3 ran in a new worker');
  });
});
