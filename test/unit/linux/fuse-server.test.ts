// vdisk's FUSE server without a mount: the protocol structures it answers the kernel with, and the rule that it reads
// a chain only through the fds the worker vetted (vetted-layers.ts), whatever the image's metadata names.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { createDifferencingDisk } from '../../../src/formats';
import { openDisk } from '../../../src/formats/open-disk';
import * as K from '../../../src/worker/linux/fuse/kernel';
import { checkVetted, VettedLayer, vettedOpener } from '../../../src/worker/linux/fuse/vetted-layers';
import { run, tempDir } from '../formats/helpers';

function vet(p: string): VettedLayer {
  const fd = fs.openSync(p, 'r');
  const st = fs.fstatSync(fd);
  return { path: fs.realpathSync(p), fd, dev: st.dev, ino: st.ino };
}

describe('vdisk FUSE server: protocol and vetted layers', function () {
  const dir = tempDir(this, 'vdisk-fuse-');
  const opened: number[] = [];
  afterEach(() => { for (const fd of opened.splice(0)) fs.closeSync(fd); });
  const vetted = (p: string) => { const v = vet(p); opened.push(v.fd); return v; };

  it('INIT asks for 1 MiB reads and parallel reads only when the kernel offers them, in the 64-byte 7.23+ layout', () => {
    const out = Buffer.alloc(80, 0xee);
    const offered = K.INIT_ASYNC_READ | K.INIT_MAX_PAGES | (1 << 16) /* writeback cache: never asked */;
    const r = K.initOut(out, 16, { major: 7, minor: 38, maxReadahead: 131072, flags: offered }, 1 << 20);
    assert.deepStrictEqual([r.bytes, r.minor, r.flags], [64, 31, K.INIT_ASYNC_READ | K.INIT_MAX_PAGES]);
    assert.deepStrictEqual([out.readUInt32LE(16), out.readUInt32LE(20), out.readUInt32LE(24), out.readUInt32LE(28)], [7, 31, 131072, r.flags]);
    assert.strictEqual(out.readUInt16LE(16 + 28), 256, 'max_pages: 256 pages of 4 KiB');
    assert.strictEqual(out.readUInt32LE(16 + 20), 4096, 'max_write: nothing is written');
    const old = K.initOut(out, 16, { major: 7, minor: 19, maxReadahead: 0, flags: K.INIT_ASYNC_READ }, 1 << 20);
    assert.deepStrictEqual([old.bytes, old.flags], [24, K.INIT_ASYNC_READ]);
  });

  it('attributes: one read-only regular file of the disk\'s size, and an error reply is the negative errno', () => {
    const b = Buffer.alloc(16 + 104);
    const n = K.outHeader(b, 42n, K.attrOut(b, 16, { ino: 1, size: 3 * 2 ** 32 + 512, mode: 0o100400, uid: 0, gid: 0, mtimeSec: 1 }, 3600));
    assert.strictEqual(n, 120);
    assert.deepStrictEqual([b.readUInt32LE(0), b.readBigUInt64LE(8), b.readBigUInt64LE(16)], [120, 42n, 3600n]);
    assert.strictEqual(b.readBigUInt64LE(32 + 8), BigInt(3 * 2 ** 32 + 512), 'size');
    assert.strictEqual(b.readUInt32LE(32 + 60), 0o100400, 'mode');
    K.outHeader(b, 7n, 0, K.EROFS);
    assert.deepStrictEqual([b.readUInt32LE(0), b.readInt32LE(4)], [16, -30]);
  });

  it('reads a chain through the vetted fds, and refuses a parent the worker did not vet', async () => {
    const base = path.join(dir(), 'base.vhd');
    run('qemu-img', ['create', '-q', '-f', 'vpc', '-o', 'force_size=on', base, '8M']);
    run('qemu-io', ['-f', 'vpc', '-c', 'write -P 0x6b 1M 64k', base]);
    const child = path.join(dir(), 'child.vhd');
    await createDifferencingDisk(base, child);
    const disk = await openDisk(child, { openLayer: vettedOpener([vetted(child), vetted(base)], true) });
    try {
      const b = Buffer.alloc(65536);
      await disk.read(b, 1 << 20);
      assert.ok(b.every((x) => x === 0x6b), 'the parent\'s data through the child');
    } finally { await disk.close(); }
    await assert.rejects(openDisk(child, { openLayer: vettedOpener([vetted(child)]) }),
      (e: Error) => /base\.vhd.*is not a layer the worker checked/.test(e.message));
  });

  it('an inherited fd that is not the file the worker checked is refused before anything is served', () => {
    const a = path.join(dir(), 'a.raw'); fs.writeFileSync(a, Buffer.alloc(4096));
    const b = path.join(dir(), 'b.raw'); fs.writeFileSync(b, Buffer.alloc(4096));
    const va = vetted(a), vb = vetted(b);
    checkVetted([va, vb]);
    assert.throws(() => checkVetted([{ ...va, fd: vb.fd }]), /is not the file the worker checked/);
  });
});
