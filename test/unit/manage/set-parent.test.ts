// Reconnect a parent: identity checks, VHD and VHDX rewrites, and kill -9 after every durable write step.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { inspectImage, createDifferencingDisk } from '../../../src/formats';
import { createImage } from '../../../src/formats/manage/create';
import { setParent } from '../../../src/formats/manage/set-parent';
import { replayLog } from '../../../src/formats/vhdx/log';
import { cli } from '../../support/worker';
import { codes, readAt, run, tempDir, vhdiInfo, withVhdimount } from '../formats/helpers';

const MiB = 2 ** 20;

async function family(dir: string, fmt: 'vhd' | 'vhdx', name = 'base'): Promise<{ base: string; child: string }> {
  fs.mkdirSync(dir, { recursive: true });
  const base = path.join(dir, `${name}.${fmt}`), child = path.join(dir, `child.${fmt === 'vhd' ? 'vhd' : 'avhdx'}`);
  await createImage({ path: base, format: fmt, type: 'dynamic', size: 16 * MiB, ...(fmt === 'vhdx' ? { blockSize: MiB } : {}) });
  run('qemu-io', ['-f', fmt === 'vhd' ? 'vpc' : 'vhdx', '-c', 'write -P 0x3c 1M 1M', base]);
  await createDifferencingDisk(base, child);
  return { base, child };
}

function moveAway(base: string): string {
  const to = path.join(path.dirname(base), 'moved', path.basename(base));
  fs.mkdirSync(path.dirname(to), { recursive: true });
  fs.renameSync(base, to);
  return to;
}

describe('manage: set-parent', function () {
  const dir = tempDir(this, 'vdisk-setparent-');

  for (const fmt of ['vhd', 'vhdx'] as const) {
    it(`${fmt}: reconnects a moved parent; libvhdi and our inspect follow it and read the parent's data`, async function () {
      const { base, child } = await family(path.join(dir(), `move-${fmt}`), fmt);
      const moved = moveAway(base);
      assert.ok(codes(await inspectImage(child)).includes('parent-missing'));
      const r = await setParent(child, moved);
      assert.strictEqual(r.idRewritten, false);
      const i = await inspectImage(child);
      assert.deepStrictEqual(i.problems, []);
      assert.deepStrictEqual(i.chain.map((l) => l.path), [child, moved]);
      assert.strictEqual(i.parent!.locators.relative, `.\\moved\\${path.basename(moved)}`);
      const v = vhdiInfo(child);
      // libvhdi shows a VHD's parent unicode name, a VHDX's absolute locator
      if (fmt === 'vhd') assert.strictEqual(v.parentFilename, path.basename(moved));
      else assert.match(v.parentFilename ?? '', new RegExp(`moved\\\\${path.basename(moved)}$`));
      if (fmt === 'vhd') {
        // libvhdi finds a VHD parent by its name next to the child: put a link there to read the chain through it
        fs.symlinkSync(moved, path.join(path.dirname(child), path.basename(moved)));
        await withVhdimount(child, (raw) => assert.ok(readAt(raw, MiB, MiB).equals(Buffer.alloc(MiB, 0x3c))));
      }
    });

    it(`${fmt}: refuses a parent with another identity unless told to ignore it, then names that identity`, async function () {
      const { child } = await family(path.join(dir(), `id-${fmt}`), fmt);
      const other = path.join(dir(), `id-${fmt}`, `other.${fmt}`);
      await createImage({ path: other, format: fmt, type: 'dynamic', size: 16 * MiB, ...(fmt === 'vhdx' ? { blockSize: MiB } : {}) });
      const before = fs.readFileSync(child);
      await assert.rejects(setParent(child, other), /is not the parent .* was made from/);
      assert.ok(fs.readFileSync(child).equals(before), 'a refusal writes nothing');
      const r = await setParent(child, other, { ignoreIdMismatch: true });
      assert.strictEqual(r.idRewritten, true);
      const i = await inspectImage(child);
      assert.deepStrictEqual(i.problems, []);
      assert.strictEqual(i.parent!.id, (await inspectImage(other)).id);
      assert.strictEqual(vhdiInfo(child).parentIdentifier, i.parent!.id);
      const small = path.join(dir(), `id-${fmt}`, `small.${fmt}`);
      await createImage({ path: small, format: fmt, type: 'dynamic', size: 8 * MiB });
      await assert.rejects(setParent(child, small, { ignoreIdMismatch: true }), /cannot be its parent/);
      await assert.rejects(setParent(child, child), /its own parent/);
    });
  }

  it('vhdx: a locator too long for its slot moves after the other items, in one logged change', async function () {
    const { base, child } = await family(path.join(dir(), 'long'), 'vhdx');
    const deep = path.join(path.dirname(base), 'a'.repeat(120), 'b'.repeat(120));
    fs.mkdirSync(deep, { recursive: true });
    const to = path.join(deep, path.basename(base));
    fs.renameSync(base, to);
    await setParent(child, to);
    const i = await inspectImage(child);
    assert.deepStrictEqual(i.problems, []);
    assert.strictEqual(i.chain[1].path, to);
    assert.match(vhdiInfo(child).parentFilename ?? '', /b{120}\\base\.vhdx$/);
  });

  // kill -9 right after each durable step: the child reads as before or as after, never as anything else
  for (const fmt of ['vhd', 'vhdx'] as const) {
    for (const step of fmt === 'vhd' ? [1, 2, 3] : [1, 2, 3, 4]) {
      it(`${fmt}: SIGKILL after step ${step} leaves the old or the new parent (after replay)`, async function () {
        const { base, child } = await family(path.join(dir(), `crash-${fmt}-${step}`), fmt);
        const oldRel = (await inspectImage(child)).parent!.locators.relative;
        const moved = moveAway(base);
        const r = cli(['set-parent', child, moved], { VDISK_TEST_CRASH_AFTER: `set-parent:${step}` });
        assert.strictEqual(r.code, 2);
        assert.match(r.stderr, /SIGKILL/);
        const newRel = `.\\moved\\${path.basename(moved)}`;
        const last = fmt === 'vhd' ? 3 : 4;
        let i = await inspectImage(child);
        if (fmt === 'vhdx' && (step === 2 || step === 3)) {
          assert.ok(i.needsLogReplay, 'the header names the log until it is applied');
          assert.strictEqual(vhdiInfo(child).parentFilename?.endsWith(path.basename(base)), true, 'libvhdi (no replay) reads a whole locator');
          const copy = `${child}.qemu`;
          fs.copyFileSync(child, copy);
          // qemu replays the log on a read-write open, then refuses differencing VHDX (its own limit)
          try { run('qemu-img', ['check', '-r', 'all', copy]); } catch { /* "Operation not supported" after replay */ }
          const q = await inspectImage(copy);
          assert.strictEqual(q.needsLogReplay, false);
          assert.strictEqual(q.parent!.locators.relative, newRel, 'qemu\'s replay yields the new locator');
          const fd = fs.openSync(child, 'r+');
          try { assert.strictEqual(replayLog(fd), 1); } finally { fs.closeSync(fd); }
          i = await inspectImage(child);
        }
        assert.strictEqual(i.needsLogReplay, false);
        const rel = i.parent!.locators.relative;
        assert.strictEqual(rel, step >= (fmt === 'vhd' ? last : 2) ? newRel : oldRel);
        assert.deepStrictEqual(i.problems.filter((p) => p.code !== 'parent-missing'), []);
        assert.deepStrictEqual(codes(i), rel === newRel ? [] : ['parent-missing']);
        vhdiInfo(child); // libvhdi opens it
        if (rel === oldRel) {
          // the interrupted operation can simply be run again
          assert.strictEqual(cli(['set-parent', child, moved]).code, 0);
          assert.deepStrictEqual((await inspectImage(child)).problems, []);
        }
      });
    }
  }
});
