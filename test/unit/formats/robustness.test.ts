// Hostile input: mutated metadata must never hang, throw (other than FormatError), or read more than it should.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { inspectImage } from '../../../src/formats';
import { observeReads } from '../../../src/formats/reader';
import { tempDir, qemuCreate, readAt, patch } from './helpers';
import { sharedImage } from '../../support/shared-images';

/** A tiny deterministic PRNG so a failure can be replayed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => { s = (s * 1664525 + 1013904223) >>> 0; return s / 2 ** 32; };
}

async function bytesReadBy(file: string): Promise<number> {
  let bytes = 0;
  const stop = observeReads((p, _o, n) => { if (p === file) bytes += n; });
  try { await inspectImage(file); } finally { stop(); }
  return bytes;
}

describe('formats: robustness and bounded reads', function () {
  const dir = tempDir(this);

  it('reads <= 1 MiB to inspect a 10 GiB dynamic VHDX', async function () {
    const p = qemuCreate('vhdx', path.join(dir(), 'big.vhdx'), '10G');
    const n = await bytesReadBy(p);
    assert.ok(n <= 1024 * 1024, `${n} bytes read`);
  });

  it('reads <= 1 MiB to inspect the Windows-made 10 GiB sparse VHDX', async function () {
    const p = sharedImage(this, 'vhdx/discutils-win10-swap-10G.vhdx.gz');
    const n = await bytesReadBy(p);
    assert.ok(n <= 1024 * 1024, `${n} bytes read`);
  });

  it('reads little to inspect a 10 GiB dynamic VHD', async function () {
    const p = qemuCreate('vpc', path.join(dir(), 'big.vhd'), '10G');
    const n = await bytesReadBy(p);
    assert.ok(n <= 1024 * 1024, `${n} bytes read`);
  });

  for (const [fmt, ranges] of [
    ['vpc', [[0, 2048], [-512, 512]]],
    ['vhdx', [[0, 600], [64 * 1024, 100], [192 * 1024, 200], [2 * 1024 * 1024, 400], [3 * 1024 * 1024, 64]]],
  ] as const) {
    it(`survives 300 random mutations of ${fmt} metadata`, async function () {
      this.timeout(120000);
      const orig = qemuCreate(fmt, path.join(dir(), `fz.${fmt}`), '64M');
      const size = fs.statSync(orig).size;
      const pristine = ranges.map(([o, n]) => { const off = o < 0 ? size + o : o; return [off, readAt(orig, off, n)] as const; });
      const r = rng(0xc0ffee);
      for (let k = 0; k < 300; k++) {
        for (const [off, b] of pristine) patch(orig, off, b);
        for (let m = 0; m < 1 + Math.floor(r() * 6); m++) {
          const [off, b] = pristine[Math.floor(r() * pristine.length)];
          const at = off + Math.floor(r() * b.length);
          patch(orig, at, Buffer.from([Math.floor(r() * 256)]));
        }
        const info = await inspectImage(orig);
        // every field is checked before use: no parser may fall over (that would read "cannot parse (...)")
        const crash = info.problems.find((p) => /cannot parse/.test(p.message));
        assert.ok(!crash, `mutation ${k}: ${crash?.message}`);
      }
    });
  }

  it('survives random bytes where ISO descriptors and UDF anchors are looked for', async function () {
    const r = rng(42);
    const f = path.join(dir(), 'noise.img');
    for (let k = 0; k < 50; k++) {
      const b = Buffer.alloc(1024 * 1024);
      for (let i = 32768; i < 40000; i++) b[i] = Math.floor(r() * 256);
      b.write(k % 2 ? 'CD001' : 'NSR02', 32769, 'latin1');
      b.write('BEA01', 32769 - 2048 * 0 + (k % 2 ? 2048 : 0), 'latin1');
      fs.writeFileSync(f, b);
      const info = await inspectImage(f);
      assert.ok(['iso', 'udf', 'raw'].includes(info.format));
      assert.ok(!info.problems.some((p) => /cannot parse/.test(p.message)), JSON.stringify(info.problems));
    }
  });
});
