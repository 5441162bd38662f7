// vdisk's exFAT reader against a volume made by mkfs.exfat and filled through exfat-fuse (test/fixtures/exfat, see
// its JSON for how): every file's bytes by SHA-256, the fragmented file's FAT chain, valid data length, the backup
// boot region, and damage that must end in a clear error (loops, clusters outside the heap, sizes, checksums).
// Then a few hundred fuzz cases (test/fuzz/exfat.ts; the long run is separate, docs/fuzzing.md).
import * as assert from 'assert';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import { openExfat, ExfatVolume } from '../../../src/worker/browse/exfat/volume';
import { bootChecksum } from '../../../src/worker/browse/exfat/boot';
import { setChecksum, timestamp } from '../../../src/worker/browse/exfat/entries';
import type { FsNode } from '../../../src/worker/browse/slt';
import { FIXTURE, fuzzExfat, memoryDisk } from '../../fuzz/exfat';

const MANIFEST = JSON.parse(fs.readFileSync(path.join(path.dirname(FIXTURE), 'small.json'), 'utf8')) as
  { label: string; dirs: string[]; files: Record<string, { size: number; sha256: string }> };
const clean = () => zlib.gunzipSync(fs.readFileSync(FIXTURE));
const open = (img: Buffer) => openExfat(memoryDisk(img), { index: 0, offset: 0, size: img.length });

function flatten(n: FsNode, prefix = ''): Map<string, FsNode> {
  const out = new Map<string, FsNode>();
  for (const c of n.children!.values()) {
    const p = prefix + c.name;
    out.set(p, c);
    if (c.type === 'directory') for (const [k, v] of flatten(c, `${p}/`)) out.set(k, v);
  }
  return out;
}

/** The byte offset of the file entry set whose name is `name` (first match), scanning 32-byte entries. */
function entrySet(img: Buffer, name: string): number {
  for (let at = 0; at + 32 <= img.length; at += 32) {
    if (img[at] !== 0x85 || img[at + 32] !== 0xc0) continue;
    const len = img[at + 32 + 3];
    let s = '';
    for (let k = 0; k < Math.ceil(len / 15); k++) s += img.toString('utf16le', at + 64 + 32 * k + 2, at + 64 + 32 * k + 2 + 2 * Math.min(15, len - 15 * k));
    if (s === name) return at;
  }
  throw new Error(`${name} not in the image`);
}
const reseal = (img: Buffer, at: number) => img.writeUInt16LE(setChecksum(img, at, img[at + 1] + 1), at + 2);

describe('browse: exFAT reader', () => {
  let img: Buffer, v: ExfatVolume, files: Map<string, FsNode>;
  before(async () => { img = clean(); v = await open(img); files = flatten(v.listing().root); });

  it('lists every folder and file of the source, each file byte for byte, with the label', async () => {
    assert.strictEqual(v.listing().label, MANIFEST.label);
    assert.strictEqual(v.listing().type, 'exFAT');
    const dirs = [...files].filter(([, n]) => n.type === 'directory').map(([p]) => p).sort();
    assert.deepStrictEqual(dirs, [...MANIFEST.dirs].sort());
    const got = [...files].filter(([, n]) => n.type === 'file').map(([p]) => p).sort();
    assert.deepStrictEqual(got, Object.keys(MANIFEST.files).sort());
    for (const [p, want] of Object.entries(MANIFEST.files)) {
      const n = files.get(p)!;
      assert.strictEqual(n.size, want.size, `${p}: size`);
      const data = await v.read(n, 0, n.size);
      assert.strictEqual(crypto.createHash('sha256').update(data).digest('hex'), want.sha256, `${p}: content`);
      assert.ok(n.mtime > Date.UTC(2020, 0, 1), `${p}: a modification time`);
    }
  });

  it('reads a fragmented file through its FAT chain, at any offset', async () => {
    const n = files.get('frag/fragmented.bin')!;
    const ext = await v.extents(n);
    assert.strictEqual(ext.noFatChain, false);
    assert.ok(ext.runs.length > 1, `fragmented: ${JSON.stringify(ext.runs)}`);
    const whole = Buffer.from(await v.read(n, 0, n.size));
    for (const [off, len] of [[0, 1], [500, 30], [511, 2], [1000, 5000], [1999, 10], [2000, 10]]) {
      assert.ok(Buffer.from(await v.read(n, off, len)).equals(whole.subarray(off, off + len)), `${off}+${len}`);
    }
  });

  it('reads zeros between the valid data length and the size', async () => {
    const bad = clean();
    const at = entrySet(bad, 'multi.bin');
    bad.writeBigUInt64LE(1000n, at + 32 + 8);
    reseal(bad, at);
    const w = await open(bad);
    const n = flatten(w.listing().root).get('sub/multi.bin')!;
    const data = Buffer.from(await w.read(n, 0, n.size));
    const want = Buffer.from(await v.read(files.get('sub/multi.bin')!, 0, n.size));
    assert.strictEqual(data.length, 3000);
    assert.ok(data.subarray(0, 1000).equals(want.subarray(0, 1000)));
    assert.ok(data.subarray(1000).every((b) => b === 0));
  });

  it('uses the backup boot region when the main one is damaged; both damaged is a clear error', async () => {
    const bad = clean();
    bad[100] ^= 0xff;   // the serial number: only the checksum notices
    assert.strictEqual((await open(bad)).listing().label, MANIFEST.label);
    bad[12 * 512 + 100] ^= 0xff;
    await assert.rejects(open(bad), /boot region damaged \(main: checksum mismatch.*backup: checksum mismatch/);
  });

  it('ends in a clear error for loops, clusters outside the heap, impossible sizes and wrong checksums', async () => {
    const ss = 512, fatAt = img.readUInt32LE(80) * ss;
    const withSet = async (name: string, edit: (b: Buffer, at: number) => void, re: RegExp) => {
      const b = clean(); const at = entrySet(b, name); edit(b, at); reseal(b, at);
      await assert.rejects(async () => { const w = await open(b); const n = flatten(w.listing().root).get(`sub/${name}`) ?? flatten(w.listing().root).get(name)!; await w.read(n, 0, n.size); }, re);
    };
    // a FAT chain that points back to itself
    const loop = clean();
    const first = loop.readUInt32LE(entrySet(loop, 'fragmented.bin') + 32 + 20);
    loop.writeUInt32LE(first, fatAt + first * 4);
    const w = await open(loop);
    const n = flatten(w.listing().root).get('frag/fragmented.bin')!;
    await assert.rejects(w.read(n, 0, n.size), /cluster chain/);
    // a folder whose first cluster is the root folder's: it would contain itself
    await withSet('sub', (b, at) => b.writeUInt32LE(b.readUInt32LE(96), at + 32 + 20), /already uses \(a loop\)|also belongs to another folder/);
    await withSet('multi.bin', (b, at) => b.writeUInt32LE(0x7fffffff, at + 32 + 20), /first cluster 2147483647 is outside/);
    await withSet('multi.bin', (b, at) => { b.writeBigUInt64LE(1n << 50n, at + 32 + 24); b.writeBigUInt64LE(1n << 50n, at + 32 + 8); }, /does not fit in the .*cluster heap/);
    const sum = clean(); sum[entrySet(sum, 'a.txt') + 4] ^= 1;
    await assert.rejects(open(sum), /entry set checksum mismatch/);
    const huge = clean(); huge.writeUInt32LE(0xffffff00, 92);
    const s = bootChecksum(huge, ss); for (let i = 0; i < ss; i += 4) huge.writeUInt32LE(s, 11 * ss + i);
    huge.copy(huge, 12 * ss, 0, 12 * ss);
    await assert.rejects(open(huge), /boot region damaged .*4294967040 clusters/);
  });

  it('decodes timestamps with their 10 ms part and UTC offset', () => {
    const ts = ((2024 - 1980) << 25) | (5 << 21) | (6 << 16) | (7 << 11) | (8 << 5) | (9 >> 1);
    assert.strictEqual(timestamp(ts, 150, 0), Date.UTC(2024, 4, 6, 7, 8, 9, 500));   // 9 s is 4 double seconds + 1 s
    assert.strictEqual(timestamp(ts, 0, 0x80 | 8), Date.UTC(2024, 4, 6, 5, 8, 8));    // UTC+2 (8 quarters)
    assert.strictEqual(timestamp(ts, 0, 0x80 | 0x7c), Date.UTC(2024, 4, 6, 8, 8, 8)); // UTC-1 (-4 quarters)
    assert.strictEqual(timestamp(0, 0, 0), 0);
  });

  it('fuzz: 400 mutated volumes end in an ExfatError or read back whole, never hang or throw anything else', async function () {
    this.timeout(120_000);
    const r = await fuzzExfat(7, 400);
    assert.deepStrictEqual(r.failures, []);
    assert.ok(r.opened >= 20, `only ${r.opened} of 400 mutated volumes opened: the mutations no longer reach the readers`);
  });
});

describe('browse: extracting from exFAT (native-extract)', () => {
  it('writes the tree byte for byte, never over an existing file, and stops at cancellation', async () => {
    const os = await import('os');
    const { extractNative } = await import('../../../src/worker/browse/native-extract');
    const v = await open(clean());
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vdisk-exfat-x-'));
    try {
      let last = 0;
      const r = await extractNative(v, v.listing().root, path.join(dir, 'out'), (b) => { last = b; }, new Promise(() => undefined));
      assert.strictEqual(r.files, Object.keys(MANIFEST.files).length);
      assert.strictEqual(last, r.bytes);
      for (const [p, want] of Object.entries(MANIFEST.files)) {
        assert.strictEqual(crypto.createHash('sha256').update(fs.readFileSync(path.join(dir, 'out', p))).digest('hex'), want.sha256, p);
      }
      const a = flatten(v.listing().root).get('a.txt')!;
      await assert.rejects(extractNative(v, a, path.join(dir, 'out', 'a.txt'), () => undefined, new Promise(() => undefined)), /EEXIST/);
      await assert.rejects(extractNative(v, v.listing().root, path.join(dir, 'again'), () => undefined, Promise.resolve()), /cancelled/);
    } finally { fs.rmSync(dir, { recursive: true, force: true }); }
  });
});
