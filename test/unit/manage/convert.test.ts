// Convert / flatten: every output format and type read back by qemu-img compare, never a partial or clobbered file.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { convertImage } from '../../../src/formats/manage/convert';
import { createImage } from '../../../src/formats/manage/create';
import { createDifferencingDisk, inspectImage } from '../../../src/formats';
import { openDisk } from '../../../src/formats/open-disk';
import { CancellationTokenSource } from 'vscode-jsonrpc';
import { Convert, ErrorCode, ProgressParams } from '../../../src/common/protocol';
import { cli, newClient } from '../../support/worker';
import { run, tempDir, vhdiInfo, withVhdimount, sameBytes } from '../formats/helpers';

const MiB = 2 ** 20;

function nonZeroBlocks(file: string, bs: number): number {
  const b = fs.readFileSync(file);
  let n = 0;
  for (let o = 0; o < b.length; o += bs) if (b.subarray(o, o + bs).some((x) => x !== 0)) n++;
  return n;
}
const QEMU_FMT = { vhd: 'vpc', vhdx: 'vhdx', raw: 'raw' } as const;

describe('manage: convert', function () {
  const dir = tempDir(this, 'vdisk-convert-');
  const at = (n: string) => path.join(dir(), n);
  let src = '';

  before(function () {
    src = at('src.img');
    fs.writeFileSync(src, '');
    fs.truncateSync(src, 96 * MiB);
    run('mkfs.ext4', ['-q', '-F', src]);
    const fd = fs.openSync(src, 'r+');
    // data in a few places: a partial last block and a block that is only partly written
    for (const [off, byte] of [[40 * MiB + 4096, 0x11], [96 * MiB - 512, 0x22], [70 * MiB, 0x33]]) fs.writeSync(fd, Buffer.alloc(512, byte), 0, 512, off);
    fs.closeSync(fd);
  });

  for (const format of ['vhdx', 'vhd', 'raw'] as const) {
    for (const type of ['dynamic', 'fixed'] as const) {
      it(`writes a ${type} ${format} that qemu-img compare finds identical${format !== 'raw' ? ' and libvhdi reads' : ''}`, async function () {
        const dest = at(`out-${type}.${format}`);
        const r = await convertImage({ source: src, dest, format, type });
        assert.strictEqual(r.virtualSize, 96 * MiB);
        assert.match(run('qemu-img', ['compare', '-f', 'raw', '-F', QEMU_FMT[format], src, dest]), /Images are identical/);
        if (format === 'vhdx') assert.match(run('qemu-img', ['check', dest]), /No errors were found/);
        if (format !== 'raw') {
          assert.strictEqual(vhdiInfo(dest).mediaSize, 96 * MiB);
          await withVhdimount(dest, (raw) => assert.ok(sameBytes(raw, src, 96 * MiB)));
          const i = await inspectImage(dest);
          assert.deepStrictEqual(i.problems, []);
          assert.strictEqual(i.subtype, type);
        }
        if (type === 'dynamic' && format !== 'raw') {
          const bs = format === 'vhdx' ? 32 * MiB : 2 * MiB;
          const used = nonZeroBlocks(src, bs);
          assert.ok(used < 96 * MiB / bs || format === 'vhdx', 'the source has zero blocks to leave out');
          assert.strictEqual(r.dataBytes, used * bs, 'exactly the blocks that are not all zeros are stored');
          assert.ok(fs.statSync(dest).size < used * bs + 5 * MiB);
        }
      });
    }
  }

  it('flattens a differencing chain into one image (through openDisk)', async function () {
    const base = at('chain-base.vhdx'), child = at('chain-child.avhdx');
    await createImage({ path: base, format: 'vhdx', type: 'dynamic', size: 16 * MiB, blockSize: MiB });
    run('qemu-io', ['-f', 'vhdx', '-c', 'write -P 0x44 2M 1M', base]);
    await createDifferencingDisk(base, child);
    const dest = at('flat.vhdx');
    await convertImage({ source: child, dest, format: 'vhdx' });
    assert.deepStrictEqual((await inspectImage(dest)).chain.length, 1);
    await withVhdimount(child, (layered) => withVhdimount(dest, (flat) => assert.ok(sameBytes(layered, flat, 16 * MiB))));
  });

  it('never overwrites the destination unless forced, and never writes into the source chain', async function () {
    const dest = at('exists.vhdx');
    fs.writeFileSync(dest, 'keep me');
    await assert.rejects(convertImage({ source: src, dest, format: 'vhdx' }), /already exists; it will not be overwritten/);
    assert.strictEqual(fs.readFileSync(dest, 'utf8'), 'keep me');
    await assert.rejects(convertImage({ source: src, dest: src, format: 'raw', force: true }), /layer of src\.img's chain/);
    await convertImage({ source: src, dest, format: 'vhdx', force: true });
    assert.match(run('qemu-img', ['compare', '-f', 'raw', '-F', 'vhdx', src, dest]), /Images are identical/);
  });

  it('a cancel leaves no file: neither the destination nor a temporary one', async function () {
    const dest = at('cancelled.vhdx');
    let n = 0;
    await assert.rejects(convertImage({ source: src, dest, format: 'vhdx', type: 'fixed' }, { cancelled: () => ++n > 2 }), /cancelled/);
    assert.ok(!fs.existsSync(dest));
    assert.deepStrictEqual(fs.readdirSync(dir()).filter((f) => f.endsWith('.tmp')), []);
  });

  it('through the worker: progress notifications, then $/cancelRequest stops it with Cancelled and no file', async function () {
    const client = newClient();
    try {
      const ok = at('worker.vhdx');
      const seen: ProgressParams[] = [];
      client.on('progress', (p: ProgressParams) => seen.push(p));
      await client.request(Convert, { source: src, dest: ok, format: 'vhdx', type: 'fixed', progressToken: 't1' });
      assert.ok(seen.length > 0 && seen.every((p) => p.token === 't1'));
      assert.deepStrictEqual(seen[seen.length - 1], { token: 't1', done: 96 * MiB, total: 96 * MiB });
      const dest = at('worker-cancelled.vhdx');
      const cts = new CancellationTokenSource();
      client.on('progress', (p: ProgressParams) => { if (p.token === 't2') cts.cancel(); });
      // a 4 GiB source: 1024 blocks to write, so the cancel arrives long before the end
      const big = at('big.img');
      fs.writeFileSync(big, 'data');
      fs.truncateSync(big, 4 * 1024 * MiB);
      await assert.rejects(client.request(Convert, { source: big, dest, format: 'raw', type: 'fixed', progressToken: 't2' }, cts.token),
        (e: { code: number }) => e.code === ErrorCode.Cancelled);
      assert.ok(!fs.existsSync(dest));
      assert.deepStrictEqual(fs.readdirSync(dir()).filter((f) => f.endsWith('.tmp')), []);
      fs.rmSync(big);
    } finally { await client.stop(); }
  });

  it('CLI: convert --json reports the result; a usage error exits 1; an existing DEST exits 2 untouched', function () {
    const dest = at('cli.vhd');
    const r = cli(['convert', src, dest, '--format', 'vhd', '--json']);
    assert.strictEqual(r.code, 0, r.stderr);
    assert.deepStrictEqual([(r.json as { format: string }).format, (r.json as { type: string }).type], ['vhd', 'dynamic']);
    assert.strictEqual(cli(['convert', src, dest, '--format', 'qcow2']).code, 1);
    const again = cli(['convert', src, dest, '--format', 'vhd']);
    assert.strictEqual(again.code, 2);
    assert.match(again.stderr, /will not be overwritten/);
  });
});
