// vdisk's FUSE server without a mount: the protocol structures it answers the kernel with, and the rule that it reads
// a chain only through the fds the worker vetted (vetted-layers.ts), whatever the image's metadata names.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { createDifferencingDisk } from '../../../src/formats';
import { openDisk } from '../../../src/formats/open-disk';
import * as K from '../../../src/worker/linux/fuse/kernel';
import { checkVetted, VettedLayer, vettedOpener } from '../../../src/worker/linux/fuse/vetted-layers';
import { Splicer, spliceMaxRead } from '../../../src/worker/linux/fuse/splice';
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

  it('INIT asks for 1 MiB reads and parallel (async and async direct) reads only when the kernel offers them, in the 64-byte 7.23+ layout', () => {
    const out = Buffer.alloc(80, 0xee);
    const offered = K.INIT_ASYNC_READ | K.INIT_ASYNC_DIO | K.INIT_MAX_PAGES | (1 << 16) /* writeback cache: never asked */;
    const r = K.initOut(out, 16, { major: 7, minor: 38, maxReadahead: 131072, flags: offered }, 1 << 20);
    assert.deepStrictEqual([r.bytes, r.minor, r.flags], [64, 31, K.INIT_ASYNC_READ | K.INIT_ASYNC_DIO | K.INIT_MAX_PAGES]);
    assert.deepStrictEqual([out.readUInt16LE(16 + 16), out.readUInt16LE(16 + 18)], [K.MAX_BACKGROUND, 48], 'max_background, congestion_threshold');
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

  it('locate: every 1 MiB of a differencing chain is a range of the layer file that holds it, or zeros, as read() reads it', async () => {
    const base = path.join(dir(), 'loc-base.vhdx');
    run('qemu-img', ['create', '-q', '-f', 'vhdx', '-o', 'block_size=1M', base, '8M']);
    run('qemu-io', ['-f', 'vhdx', '-c', 'write -P 0x21 0 3M', '-c', 'write -P 0x22 5M 1M', base]);
    const child = path.join(dir(), 'loc-child.avhdx');
    await createDifferencingDisk(base, child);
    const disk = await openDisk(child, { openLayer: vettedOpener([vetted(child), vetted(base)], true) });
    try {
      const seen = { file: 0, zero: 0 };
      for (let off = 0; off < disk.size; off += 1 << 20) {
        const at = await disk.locate!(off, 1 << 20);
        assert.ok(at && at.length === 1 << 20, `one piece for ${off}`);
        const want = Buffer.alloc(at.length);
        await disk.read(want, off);
        const got = Buffer.alloc(at.length);
        if (at.kind === 'file') {
          assert.strictEqual(at.file.path, fs.realpathSync(base), 'the child has no block of its own: the parent\'s file');
          assert.strictEqual(fs.readSync(at.file.fd!, got, 0, at.length, at.pos), at.length);
        }
        assert.ok(got.equals(want), `located bytes at ${off} are read()'s`);
        seen[at.kind]++;
      }
      assert.deepStrictEqual(seen, { file: 4, zero: 4 });
    } finally { await disk.close(); }
  });

  it('a spliced reply is the reply header then the file range, whole, with no copy through JavaScript', function () {
    if (process.platform !== 'linux') { console.log(`    (skipped: splice(2) is Linux's, this is ${process.platform})`); this.skip(); return; }
    const max = spliceMaxRead(1 << 20);
    assert.ok(max, 'Linux pipes hold a spliced reply');
    assert.ok(max % 4096 === 0 && max >= 64 * 1024 && max <= 1 << 20, `largest spliced read ${max}`);
    const src = path.join(dir(), 'src.bin');
    const data = Buffer.alloc(3 << 20);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7 + (i >> 12)) & 0xff;
    fs.writeFileSync(src, data);
    const out = path.join(dir(), 'replies.bin');
    const outFd = fs.openSync(out, 'w');
    const inFd = fs.openSync(src, 'r');
    const s = new Splicer(outFd, max);
    try {
      assert.strictEqual(s.reply(5n, inFd, 4096, max), 'sent');
      assert.strictEqual(s.reply(6n, inFd, 100, 4096), 'sent', 'an unaligned small range');
      // the pipe is 1 MiB without CAP_SYS_RESOURCE, larger with it: a range one page too many for whatever it holds
      assert.strictEqual(s.reply(7n, inFd, 1000, (s.slots - 1) * 4096), 'fallback', 'an unaligned range one page too many for the pipe');
      assert.strictEqual(s.reply(8n, inFd, data.length - 10, 20), 'fallback', 'past the end of the file: the copying path reads it');
      assert.strictEqual(s.reply(9n, inFd, 0, 512), 'sent', 'the pipe still serves after a fallback');
    } finally { s.close(); fs.closeSync(inFd); fs.closeSync(outFd); }
    const b = fs.readFileSync(out);
    let at = 0;
    for (const [unique, pos, len] of [[5n, 4096, max], [6n, 100, 4096], [9n, 0, 512]] as const) {
      assert.deepStrictEqual([b.readUInt32LE(at), b.readInt32LE(at + 4), b.readBigUInt64LE(at + 8)], [16 + len, 0, unique]);
      assert.ok(b.subarray(at + 16, at + 16 + len).equals(data.subarray(pos, pos + len)), `reply ${unique} carries the range`);
      at += 16 + len;
    }
    assert.strictEqual(b.length, at, 'nothing else was written');
  });
});
