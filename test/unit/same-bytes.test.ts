// The worker's cache reuses a layer's reading when its stamp moved but its size and every byte range the parse read
// are identical (formats/same-bytes.ts). Proof that this is exact: any one byte of any range changed gives a new
// parse and the answer a fresh inspection gives; a touch alone is reused; a size change is parsed again.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ChainCache } from '../../src/worker/chain-cache';
import { inspectImage } from '../../src/formats';
import { inspectOne } from '../../src/formats/inspect-one';
import { observeReads } from '../../src/formats/reader';
import { vhdxChain } from './formats/helpers';
import { keptRanges, sameBytes } from '../../src/formats/same-bytes';

describe('same-bytes reuse of layer readings', () => {
  let dir = '';
  let files: string[] = [];
  let clock = 0;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vdisk-same-bytes-'));
    files = await vhdxChain(dir, 3);
  });
  after(() => { if (dir) fs.rmSync(dir, { recursive: true, force: true }); });

  /** A new mtime every call (ctime moves too): the file's stamp always changes. */
  const touch = (f: string) => { const t = new Date(Date.UTC(2030, 0, 1) + ++clock * 1000); fs.utimesSync(f, t, t); };
  const touchAll = () => files.forEach(touch);
  const tip = () => files[files.length - 1];

  /** A cache that has parsed every file twice, so it keeps their bytes. */
  async function primed(): Promise<ChainCache> {
    const cache = new ChainCache();
    await cache.inspect(tip());
    touchAll();
    await cache.inspect(tip());
    return cache;
  }

  function flip(f: string, at: number): void {
    const fd = fs.openSync(f, 'r+');
    try {
      const b = Buffer.alloc(1);
      fs.readSync(fd, b, 0, 1, at);
      b[0] ^= 0xff;
      fs.writeSync(fd, b, 0, 1, at);
    } finally { fs.closeSync(fd); }
  }

  it('records every byte range a parse reads', async () => {
    for (const f of files) {
      const reads: [number, number][] = [];
      const stop = observeReads((p, o, n) => { if (p === f) reads.push([o, n]); });
      let one;
      try { one = await inspectOne(f, { record: true }); } finally { stop(); }
      const ranges = keptRanges(one.kept!);
      assert.ok(ranges.length > 0 && reads.length > 0);
      for (const [o, n] of reads) {
        assert.ok(ranges.some((r) => o >= r.offset && o + n <= r.offset + r.bytes.length + r.zeros), `read ${o}+${n} of ${f} not recorded`);
      }
      for (let i = 1; i < ranges.length; i++) assert.ok(ranges[i].offset > ranges[i - 1].offset, 'sorted, none inside another');
      // what is kept is what the file holds there
      const fd = fs.openSync(f, 'r');
      try {
        for (const r of ranges) {
          const b = Buffer.alloc(r.bytes.length + r.zeros);
          fs.readSync(fd, b, 0, b.length, r.offset);
          assert.ok(b.equals(Buffer.concat([r.bytes, Buffer.alloc(r.zeros)])), `range at ${r.offset} of ${f}`);
        }
      } finally { fs.closeSync(fd); }
      assert.ok(sameBytes(f, one.fileSize, one.kept!), 'unchanged file compares equal');
      assert.strictEqual(sameBytes(f, one.fileSize + 1, one.kept!), null, 'another size never compares equal');
    }
  });

  it('keeps no bytes of a parse that met a read error (it may read differently next time)', async () => {
    const f = files[1];
    // the fs module itself (the reader sees it through its import's live binding)
    const nodeFs = require('fs') as { readSync: typeof fs.readSync };
    const real = nodeFs.readSync;
    let failed = 0;
    (nodeFs as { readSync: unknown }).readSync = (fd: number, buf: Uint8Array, off: number, len: number, pos: number) => {
      if (pos === 192 * 1024 && !failed++) throw Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO' });
      return real(fd, buf, off, len, pos);
    };
    let one;
    try { one = await inspectOne(f, { record: true }); } finally { nodeFs.readSync = real; }
    assert.strictEqual(failed, 1, 'the region table read failed once');
    assert.ok(one.parsed.problems.some((p) => /EIO/.test(p.message)), JSON.stringify(one.parsed.problems));
    assert.strictEqual(one.kept, undefined);
    assert.ok((await inspectOne(f, { record: true })).kept, 'a clean parse keeps its bytes');
  });

  it('reuses every layer when only the stamps changed, with the answer a fresh inspection gives', async () => {
    const cache = new ChainCache();
    await cache.inspect(tip());
    assert.strictEqual(cache.counts.parsed, files.length);
    touchAll();
    await cache.inspect(tip());
    assert.strictEqual(cache.counts.parsed, 2 * files.length, 'a file seen once kept no bytes: parsed again, bytes kept now');
    touchAll();
    const again = await cache.inspect(tip());
    assert.strictEqual(cache.counts.parsed, 2 * files.length, 'nothing parsed again');
    assert.strictEqual(cache.counts.sameBytes, files.length, 'every layer compared and reused');
    assert.deepStrictEqual(again, await inspectImage(tip()));
    assert.deepStrictEqual(again.problems, []);
  });

  it('parses again when any one byte of any range read changed, and answers what a fresh inspection answers', async function () {
    this.timeout(120000);
    const cache = await primed();
    let cases = 0;
    for (const f of files) {
      const ranges = keptRanges((await inspectOne(f, { record: true })).kept!);
      for (const r of ranges) {
        const n = r.bytes.length + r.zeros;
        // first, middle and last byte, and the last kept byte before a run of zeros
        for (const at of new Set([r.offset, r.offset + (n >> 1), r.offset + n - 1, r.offset + Math.max(0, r.bytes.length - 1)])) {
          flip(f, at);
          try {
            touchAll();
            const parsed = cache.counts.parsed;
            const got = await cache.inspect(tip());
            assert.strictEqual(cache.counts.parsed, parsed + 1, `byte ${at} of ${path.basename(f)} changed: that layer alone parsed again`);
            assert.deepStrictEqual(got, await inspectImage(tip()), `byte ${at} of ${path.basename(f)}`);
          } finally { flip(f, at); }
          // restored: the next inspection parses it again (the cache holds the changed bytes) and is clean
          touchAll();
          assert.deepStrictEqual((await cache.inspect(tip())).problems, []);
          cases++;
        }
      }
    }
    assert.ok(cases >= files.length * 5, `${cases} bytes changed`);
  });

  it('parses again when the size changed, even with every range read unchanged', async () => {
    const cache = await primed();
    const base = files[0];
    const size = fs.statSync(base).size;
    fs.truncateSync(base, size + 4096);
    try {
      touchAll();
      const parsed = cache.counts.parsed;
      const got = await cache.inspect(tip());
      assert.strictEqual(cache.counts.parsed, parsed + 1, 'the grown layer is parsed again');
      assert.deepStrictEqual(got, await inspectImage(tip()));
    } finally { fs.truncateSync(base, size); }
    touchAll();
    const parsed = cache.counts.parsed;
    assert.deepStrictEqual((await cache.inspect(tip())).problems, []);
    assert.strictEqual(cache.counts.parsed, parsed + 1, 'and again once it shrank back');
  });
});
