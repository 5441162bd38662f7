// Resize of partitioned disks: GPT disks keep a valid backup (sfdisk --verify and sgdisk -v clean) at the new end;
// an MBR partition is never cut. The same suite title as resize.test.ts: these tests keep their full names.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { resizeImage } from '../../../src/formats/manage/resize';
import { cli } from '../../support/worker';
import { run, tempDir } from '../formats/helpers';
import { MiB, GROWN, Kind, EXT, QF, make, sha } from './resize-helpers';

describe('manage: resize', function () {
  const dir = tempDir(this, 'vdisk-resize-');
  const at = (n: string) => path.join(dir(), n);

  for (const kind of ['raw', 'qcow2', 'vhd-dynamic', 'vhdx-dynamic', 'vhdx-fixed'] as Kind[]) {
    it(`${kind} with GPT: the backup GPT follows the end (grow and smallest), partitions intact, sfdisk --verify clean`, async function () {
      const f = at(`gpt.${kind}.${EXT[kind]}`);
      await make(f, kind, 32 * MiB);
      const raw = at(`gpt.${kind}.raw`);
      fs.writeFileSync(raw, ''); fs.truncateSync(raw, 32 * MiB);
      run('sfdisk', ['-q', raw], { input: 'label: gpt\nstart=2048, size=14M\n' });
      fs.writeFileSync(`${raw}.part`, Buffer.alloc(MiB, 0x42));
      run('qemu-io', ['-f', 'raw', '-c', `write -s ${raw}.part 14M 1M`, raw]); // the partition's last MiB
      run('qemu-img', ['convert', '-n', '-f', 'raw', '-O', QF[kind], raw, f]);
      const verify = (label: string) => {
        const out = at(`${label}.check.raw`);
        run('qemu-img', ['convert', '-f', QF[kind], '-O', 'raw', f, out]);
        assert.match(run('sfdisk', ['--verify', out]), /No errors detected/, label);
        assert.match(run('sgdisk', ['-v', out]), /No problems found/, label);
        const part = fs.readFileSync(out).subarray(MiB, 15 * MiB);
        fs.rmSync(out);
        return part;
      };
      const before = verify('before');
      const g = await resizeImage(f, { size: GROWN });
      assert.strictEqual(g.partitionTable, 'gpt');
      assert.strictEqual(g.gptBackupMoved, true);
      assert.ok(verify('grown').equals(before), 'the partition reads the same');
      const s = await resizeImage(f, { smallest: true });
      assert.strictEqual(s.after, 16 * MiB, 'the partition ends at 15 MiB, the backup GPT follows it: 16 MiB');
      assert.ok(verify('shrunk').equals(before));
      const keep = sha(f);
      await assert.rejects(resizeImage(f, { size: 8 * MiB }), /would cut its GPT partitions, which need/);
      assert.strictEqual(sha(f), keep, 'refused: byte-identical');
    });
  }

  // the GPT move's steps: backup entries, backup header, protective MBR, primary header (and, growing, the old backup
  // cleared): kill -9 after each leaves the partition readable, and running resize again ends with a clean GPT
  for (const [to, steps] of [[GROWN, [1, 2, 3, 4, 5]], [20 * MiB, [1, 2, 3, 4]]] as [number, number[]][]) {
    for (const step of steps) {
      it(`raw with GPT to ${to / MiB} MiB: SIGKILL after GPT step ${step}, then resize again: sgdisk -v clean, partition intact`, async function () {
        const f = at(`gpt-crash-${to}-${step}.img`);
        await make(f, 'raw', 32 * MiB);
        run('sfdisk', ['-q', f], { input: 'label: gpt\nstart=2048, size=14M\n' });
        fs.writeFileSync(`${f}.part`, Buffer.alloc(MiB, 0x42));
        run('qemu-io', ['-f', 'raw', '-c', `write -s ${f}.part 14M 1M`, f]);
        const part = () => fs.readFileSync(f).subarray(MiB, 15 * MiB);
        const before = part();
        const r = cli(['resize', f, '--size', String(to)], { VDISK_TEST_CRASH_AFTER: `resize-gpt:${step}` });
        assert.match(r.stderr, /SIGKILL/);
        assert.strictEqual(fs.statSync(f).size, to > 32 * MiB ? to : 32 * MiB, 'a grow changes the size before the GPT moves, a shrink after');
        assert.match(run('sfdisk', ['--dump', f]), /start=\s*2048, size=\s*28672/, 'the partition is still there');
        assert.ok(part().equals(before));
        await resizeImage(f, { size: to });
        assert.strictEqual(fs.statSync(f).size, to);
        assert.match(run('sgdisk', ['-v', f]), /No problems found/);
        assert.match(run('sfdisk', ['--verify', f]), /No errors detected/);
        assert.ok(part().equals(before));
      });
    }
  }

  it('an empty GPT shrinks no further than its first usable sector plus the backup GPT', async function () {
    const f = at('empty-gpt.img');
    await make(f, 'raw');
    run('sfdisk', ['-q', f], { input: 'label: gpt\n' });
    const r = await resizeImage(f, { smallest: true });
    assert.strictEqual(r.after, 2 * MiB, 'first usable LBA 2048 (1 MiB) + one sector + 33 sectors of backup, rounded up');
    assert.match(run('sgdisk', ['-v', f]), /No problems found/);
    assert.match(run('sfdisk', ['--verify', f]), /No errors detected/);
  });

  it('MBR: refuses to cut a partition; the file stays byte-identical', async function () {
    const f = at('mbr.img');
    await make(f, 'raw');
    run('sfdisk', ['-q', f], { input: 'label: dos\nstart=2048, size=10M\n' });
    const keep = sha(f);
    await assert.rejects(resizeImage(f, { size: 8 * MiB }), /would cut its MBR partitions, which need 11534336 bytes/);
    assert.strictEqual(sha(f), keep);
    const r = await resizeImage(f, { smallest: true });
    assert.strictEqual(r.after, 11 * MiB);
  });
});
