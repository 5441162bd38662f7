// The worker's inspection cache: a whole answer while no file of the chain changed, and each unchanged parent's own
// reading when only some layers changed. Reads are counted (formats/reader.ts observeReads), never timed.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ChainCache } from '../../src/worker/chain-cache';
import { createImage } from '../../src/formats/manage/create';
import { observeReads } from '../../src/formats/reader';
import { vhdxChain } from './formats/helpers';

describe('worker chain cache', () => {
  let dir = '';
  let files: string[] = [];
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vdisk-chain-cache-'));
    files = await vhdxChain(dir, 3);
  });
  after(() => { if (dir) fs.rmSync(dir, { recursive: true, force: true }); });

  /** The files read while `fn` runs. */
  async function readFiles(fn: () => Promise<unknown>): Promise<Set<string>> {
    const seen = new Set<string>();
    const stop = observeReads((p) => seen.add(p));
    try { await fn(); } finally { stop(); }
    return seen;
  }
  const touch = (f: string, s: number) => { const t = new Date(Date.now() + s * 1000); fs.utimesSync(f, t, t); };

  it('answers again from the cache while no file changed, and re-reads only the layers that changed', async () => {
    const cache = new ChainCache();
    const tip = files[3];
    const first = await readFiles(() => cache.inspect(tip));
    assert.deepStrictEqual([...first].sort(), [...files].sort(), 'a first inspection reads every layer');
    assert.strictEqual((await readFiles(() => cache.inspect(tip))).size, 0, 'nothing changed: nothing read');

    touch(tip, 5);
    const info = await cache.inspect(tip); // reads only the tip; the parents' readings are reused
    assert.strictEqual(info.chain.length, 4);
    assert.deepStrictEqual(info.problems, []);
    touch(tip, 10);
    assert.deepStrictEqual([...await readFiles(() => cache.inspect(tip))], [tip], 'only the changed tip is read again');

    touch(files[1], 15);
    touch(tip, 20);
    assert.deepStrictEqual([...await readFiles(() => cache.inspect(tip))].sort(), [files[1], tip].sort(), 'a changed parent is read again');
  });

  it('sees a parent replaced by another file (a new identity), not the old reading', async () => {
    const cache = new ChainCache();
    const tip = files[3];
    const before = await cache.inspect(tip);
    assert.deepStrictEqual(before.problems, []);
    // replace c2 with an unrelated disk of the same name: c3 no longer finds its parent's identity there
    const c2 = files[2];
    const saved = `${c2}.saved`;
    fs.renameSync(c2, saved);
    try {
      await createImage({ path: c2, format: 'vhdx', type: 'dynamic', size: 64 << 20 });
      touch(tip, 30);
      const after = await cache.inspect(tip);
      assert.ok(after.problems.some((p) => p.code === 'parent-id-mismatch'), JSON.stringify(after.problems));
    } finally {
      fs.rmSync(c2, { force: true });
      fs.renameSync(saved, c2);
    }
  });
});
