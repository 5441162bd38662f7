// Resize: every format grown and shrunk (to the smallest safe size) and read back by qemu-img, libvhdi and openDisk
// (the old data byte for byte, zeros after); kill -9 after each durable write step leaves the old or the new disk.
// Partition tables: resize-partitions.test.ts; refusals, the worker, the CLI and Windows: resize-refusals.test.ts.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { resizeImage } from '../../../src/formats/manage/resize';
import { inspectImage, openDisk } from '../../../src/formats';
import { replayLog } from '../../../src/formats/vhdx/log';
import { cli } from '../../support/worker';
import { qemuInfo, run, tempDir, vhdiInfo } from '../formats/helpers';
import { MiB, GiB, BASE, GROWN, SMALLEST, DATA, Kind, KINDS, EXT, make, write, diskBytes, isZero, qemuRaw, checkReaders, head } from './resize-helpers';

describe('manage: resize', function () {
  const dir = tempDir(this, 'vdisk-resize-');
  const at = (n: string) => path.join(dir(), n);

  for (const kind of KINDS) {
    it(`${kind}: grows (old data, zeros after), then shrinks to the smallest safe size; qemu-img, libvhdi, openDisk agree`, async function () {
      const f = at(`grow.${kind}.${EXT[kind]}`);
      await make(f, kind);
      write(f, kind, DATA);
      const original = await diskBytes(f);
      const r = await resizeImage(f, { size: GROWN });
      assert.strictEqual(r.before, BASE);
      assert.strictEqual(r.after, GROWN);
      const i = await inspectImage(f);
      assert.deepStrictEqual(i.problems, []);
      assert.strictEqual(i.virtualSize, GROWN);
      await checkReaders(f, kind, GROWN);
      const grown = await diskBytes(f);
      assert.ok(grown.subarray(0, BASE).equals(original), 'the old disk byte for byte (openDisk)');
      assert.ok(isZero(grown.subarray(BASE)), 'zeros after the old end (openDisk)');
      const q = qemuRaw(f, kind, GROWN);
      assert.ok(q.subarray(0, BASE).equals(original) && isZero(q.subarray(BASE)), 'qemu-img reads the same bytes');

      const dry = await resizeImage(f, { smallest: true, dryRun: true });
      assert.strictEqual(dry.after, SMALLEST, 'the last non-zero byte is at 13 MiB + 512: rounded up to 1 MiB');
      assert.strictEqual((await inspectImage(f)).virtualSize, GROWN, 'a dry run writes nothing');
      const s = await resizeImage(f, { smallest: true });
      assert.strictEqual(s.after, SMALLEST);
      assert.deepStrictEqual((await inspectImage(f)).problems, []);
      await checkReaders(f, kind, SMALLEST);
      assert.ok((await diskBytes(f)).equals(original.subarray(0, SMALLEST)), 'the kept range byte for byte');
      assert.ok(qemuRaw(f, kind, SMALLEST).equals(original.subarray(0, SMALLEST)));
    });
  }

  it('vhd-dynamic: grows past its BAT (relocated) and vhdx: its file shrinks after a shrink', async function () {
    const v = at('bat.vhd');
    await make(v, 'vhd-dynamic', 4 * MiB);
    write(v, 'vhd-dynamic', ['write -P 0x77 0 4M']);
    await resizeImage(v, { size: 1024 * MiB });
    write(v, 'vhd-dynamic', ['write -P 0x66 1000M 1M']);
    const d = await diskBytes(v);
    assert.ok(d.subarray(0, 4 * MiB).every((x) => x === 0x77) && d.subarray(1000 * MiB, 1001 * MiB).every((x) => x === 0x66));
    assert.deepStrictEqual((await inspectImage(v)).problems, []);
    const x = at('trunc.vhdx');
    await make(x, 'vhdx-dynamic', 256 * MiB);
    write(x, 'vhdx-dynamic', ['write -P 0x5a 1M 1M']);
    const big = fs.statSync(x).size;
    await resizeImage(x, { size: 1024 * MiB });
    write(x, 'vhdx-dynamic', ['write -P 0x5a 900M 8M', 'write -z 900M 8M']);
    assert.ok(fs.statSync(x).size > big);
    await resizeImage(x, { size: 128 * MiB }); // the blocks at 900 MiB hold zeros: they are dropped, the file cut
    assert.ok(fs.statSync(x).size <= big, `${fs.statSync(x).size} <= ${big}`);
    assert.match(run('qemu-img', ['check', x]), /No errors were found/);
  });


  it('vhdx-dynamic: grows past what its BAT region holds (a larger BAT at the end of the file, region tables through the log)', async function () {
    const f = at('bigbat.vhdx');
    await make(f, 'vhdx-dynamic');
    write(f, 'vhdx-dynamic', DATA);
    const original = await diskBytes(f);
    const regionsBefore = ((await inspectImage(f)).details!.regions as { offset: number; length: number }[]).map((r) => [r.offset, r.length]);
    await resizeImage(f, { size: 200 * GiB }); // 1 MiB blocks: a 1 MiB BAT region holds about 128 GiB
    const i = await inspectImage(f);
    assert.deepStrictEqual(i.problems, []);
    assert.strictEqual(i.virtualSize, 200 * GiB);
    assert.notDeepStrictEqual((i.details!.regions as { offset: number; length: number }[]).map((r) => [r.offset, r.length]), regionsBefore, 'the BAT region moved');
    assert.match(run('qemu-img', ['check', f]), /No errors were found/);
    assert.strictEqual(qemuInfo(f)['virtual-size'], 200 * GiB);
    assert.strictEqual(vhdiInfo(f).mediaSize, 200 * GiB);
    assert.ok((await head(f, BASE)).equals(original));
    write(f, 'vhdx-dynamic', ['write -P 0x66 150G 1M']);
    run('qemu-io', ['-f', 'vhdx', '-c', 'read -P 0x66 150G 1M', '-c', 'read -P 0x5a 1M 2M', f]);
    const d = await openDisk(f);
    try { const b = Buffer.alloc(MiB); await d.read(b, 150 * GiB); assert.ok(b.every((x) => x === 0x66), 'a block past the old BAT\'s reach'); } finally { await d.close(); }
    assert.match(run('qemu-img', ['check', f]), /No errors were found/);
    // the smallest safe size reads only allocated blocks (a full scan of 200 GiB would not finish here)
    assert.strictEqual((await resizeImage(f, { smallest: true, dryRun: true })).after, 150 * GiB + MiB);
    const raw = at('sparse.img');
    fs.writeFileSync(raw, '');
    fs.truncateSync(raw, 2 ** 40);
    write(raw, 'raw', ['write -P 0x77 700G 4K']);
    assert.strictEqual((await resizeImage(raw, { smallest: true, dryRun: true })).after, 700 * GiB + MiB, 'raw: holes skipped (qemu-img map)');
  });

  for (const step of [1, 2, 3, 4, 5, 6]) {
    it(`vhdx-dynamic moving its BAT: SIGKILL after step ${step} leaves the old or the new disk`, async function () {
      const f = at(`bigbat-crash-${step}.vhdx`);
      await make(f, 'vhdx-dynamic');
      write(f, 'vhdx-dynamic', DATA);
      const original = await diskBytes(f);
      const r = cli(['resize', f, '--size', String(200 * GiB)], { VDISK_TEST_CRASH_AFTER: `resize:${step}` });
      assert.match(r.stderr, /SIGKILL/);
      let i = await inspectImage(f);
      if (i.needsLogReplay) {
        const fd = fs.openSync(f, 'r+');
        try { assert.strictEqual(replayLog(fd), 1); } finally { fs.closeSync(fd); }
        i = await inspectImage(f);
      }
      assert.deepStrictEqual(i.problems, []);
      assert.strictEqual(i.virtualSize, step >= 3 ? 200 * GiB : BASE);
      assert.match(run('qemu-img', ['check', f]), /No errors were found/);
      assert.ok((await head(f, BASE)).equals(original));
      await resizeImage(f, { size: 200 * GiB });
      assert.strictEqual((await inspectImage(f)).virtualSize, 200 * GiB);
      assert.ok((await head(f, BASE)).equals(original));
    });
  }

  // kill -9 right after each durable step: the image reads as the old or the new disk (after a log replay)
  const CRASH: [Kind, number, number[]][] = [
    ['vhdx-dynamic', GROWN, [1, 2, 3, 4, 5, 6]], ['vhdx-fixed', GROWN, [1, 2, 3, 4, 5, 6]], ['vhdx-dynamic', SMALLEST, [2, 4, 6]],
    ['vhd-dynamic', GROWN, [1, 2, 3, 4]], ['vhd-dynamic', SMALLEST, [2, 3, 4]], ['vhd-fixed', GROWN, [1, 2, 3]], ['vhd-fixed', SMALLEST, [1, 2]],
  ];
  for (const [kind, to, steps] of CRASH) {
    for (const step of steps) {
      it(`${kind} to ${to / MiB} MiB: SIGKILL after step ${step} leaves the old or the new disk, data intact`, async function () {
        const f = at(`crash-${kind}-${to}-${step}.${EXT[kind]}`);
        await make(f, kind);
        write(f, kind, DATA);
        const original = await diskBytes(f);
        const r = cli(['resize', f, '--size', String(to)], { VDISK_TEST_CRASH_AFTER: `resize:${step}` });
        assert.strictEqual(r.code, 2, r.stdout + r.stderr);
        assert.match(r.stderr, /SIGKILL/);
        let i = await inspectImage(f);
        if (kind.startsWith('vhdx')) {
          assert.strictEqual(i.needsLogReplay, step >= 3 && step <= 4, 'the header names the log only between steps 2 and 4 of the transaction');
          if (i.needsLogReplay) {
            const copy = `${f}.qemu`;
            fs.copyFileSync(f, copy);
            run('qemu-img', ['check', '-r', 'all', copy]); // qemu replays the log on a read-write open
            assert.strictEqual(qemuInfo(copy)['virtual-size'], to, 'qemu\'s replay yields the new size');
            fs.rmSync(copy);
            const fd = fs.openSync(f, 'r+');
            try { assert.strictEqual(replayLog(fd), 1); } finally { fs.closeSync(fd); }
            i = await inspectImage(f);
          }
          assert.strictEqual(i.virtualSize, step >= 3 ? to : BASE);
          assert.match(run('qemu-img', ['check', f]), /No errors were found/);
        } else if (kind === 'vhd-dynamic' && step === 3) {
          // the end footer (Windows, vdisk, libvhdi) names the new size, the copy at 0 (qemu) the old: the next
          // resize finishes it first
          assert.deepStrictEqual(i.problems.map((p) => p.code), ['bad-header']);
          assert.strictEqual(i.virtualSize, to);
          await resizeImage(f, { size: to });
          i = await inspectImage(f);
        } else {
          const done = kind === 'vhd-dynamic' ? step >= 3 : kind === 'vhd-fixed' && to > BASE ? step >= 3 : step >= 2;
          assert.strictEqual(i.virtualSize, done ? to : BASE);
        }
        assert.deepStrictEqual(i.problems, []);
        if (kind.startsWith('vhd')) assert.strictEqual(vhdiInfo(f).mediaSize, i.virtualSize);
        const now = await diskBytes(f);
        // a fixed VHD shrink's step 1 puts the new footer in the range being dropped (checked to be zeros before)
        const keep = Math.min(now.length, original.length, kind === 'vhd-fixed' && to < now.length ? to : Infinity);
        assert.ok(now.subarray(0, keep).equals(original.subarray(0, keep)), 'the data up to the smaller size is intact');
        if (keep === now.length || keep === original.length) assert.ok(isZero(now.subarray(keep)), 'zeros past the old end');
        // the interrupted operation can simply be run again
        await resizeImage(f, { size: to });
        assert.deepStrictEqual((await inspectImage(f)).problems, []);
        const end = await diskBytes(f);
        assert.strictEqual(end.length, to);
        assert.ok(end.subarray(0, Math.min(to, BASE)).equals(original.subarray(0, Math.min(to, BASE))), 'the finished resize: the old data');
        assert.ok(isZero(end.subarray(BASE)), 'and zeros after');
      });
    }
  }
});
