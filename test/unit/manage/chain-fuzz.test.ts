// Fuzzed chains (issue 13.9, test/fuzz/chain-ops.ts): every output vdisk writes passes qemu-img check and vhdiinfo
// and reads as the input chain; every refusal leaves the inputs byte-identical. FUZZ_SEED / FUZZ_N choose the run
// (default: seed 13, 24 cases, about a minute); the long run is in docs/fuzzing.md.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { runChainCase, ChainOutcome } from '../../fuzz/chain-ops';
import { tool } from '../formats/helpers';

const SEED = Number(process.env.FUZZ_SEED ?? 13);
const N = Number(process.env.FUZZ_N ?? 24);

describe(`manage: fuzzed chains (seed ${SEED}, ${N} cases)`, function () {
  this.timeout(Math.max(120000, N * 10000));

  it('convert, merge, set-parent and compact: outputs qemu-img check and vhdiinfo accept, with the chain\'s content; refusals change nothing', async function () {
    tool('qemu-img'); tool('vhdiinfo');
    const failures: string[] = [];
    const ops = new Map<string, [number, number]>();
    for (let i = 0; i < N; i++) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vdisk-chainfuzz-'));
      let o: ChainOutcome;
      try { o = await runChainCase(dir, SEED, i); } catch (e) {
        failures.push(`case ${i}: threw ${(e as Error).stack}`);
        continue;
      } finally { fs.rmSync(dir, { recursive: true, force: true }); }
      const k = o.c.op.split(' ')[0] || 'none';
      const [ok, no] = ops.get(k) ?? [0, 0];
      ops.set(k, o.ok ? [ok + 1, no] : [ok, no + 1]);
      if (process.env.FUZZ_VERBOSE) console.log(`      ${i}: ${o.c.format} ${o.c.layers.length} layers, damage ${o.c.damage}, ${o.c.op}: ${o.ok ? 'done' : `refused: ${o.error}`}`);
      if (o.failure) {
        failures.push(`case ${i} (${o.c.format}, ${o.c.layers.length} layers, ${o.c.size} bytes, blocks ${o.c.blockSize}, sectors ${o.c.sector}, `
          + `damage ${o.c.damage}, ${o.c.op}): ${o.failure}${o.error ? ` [error: ${o.error}]` : ''}`);
      }
    }
    console.log(`      ${[...ops].map(([k, [ok, no]]) => `${k}: ${ok} done, ${no} refused`).join('; ')}`);
    assert.deepStrictEqual(failures, [], `replay: FUZZ_SEED=${SEED} FUZZ_N=${N}`);
  });
});
