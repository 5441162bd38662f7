// vdisk's exFAT reader against a volume made by mkfs.exfat and filled through exfat-fuse (test/fixtures/exfat, see
// its JSON for how): every file's bytes by SHA-256, the fragmented file's FAT chain, valid data length, the backup
// boot region, damaged entries skipped and named (checksums, counts, names, sizes, clusters, folder loops) while
// the rest reads, and damage that must end in a clear error (a file's chain loop, the boot region).
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

  /** Every file of the manifest outside `gone` (paths or folder prefixes) is listed and reads back its bytes. */
  async function assertRestReadable(w: ExfatVolume, gone: string[]): Promise<void> {
    const all = flatten(w.listing().root);
    const lost = (p: string) => gone.some((g) => p === g || p.startsWith(`${g}/`));
    for (const [p, want] of Object.entries(MANIFEST.files)) {
      if (lost(p)) { assert.ok(!all.has(p), `${p} is skipped`); continue; }
      const n = all.get(p);
      assert.ok(n, `${p} is still listed`);
      const data = await w.read(n, 0, n.size);
      assert.strictEqual(crypto.createHash('sha256').update(data).digest('hex'), want.sha256, `${p}: content`);
    }
  }

  it('skips a damaged entry set and says which, in which folder; the rest of the volume reads', async () => {
    const damage = async (name: string, edit: (b: Buffer, at: number) => void, seal: boolean) => {
      const b = clean(); const at = entrySet(b, name); edit(b, at); if (seal) reseal(b, at);
      return open(b);
    };
    const cases: { name: string; edit: (b: Buffer, at: number) => void; seal: boolean; dir: string; gone: string; says: RegExp }[] = [
      { name: 'a.txt', edit: (b, at) => { b[at + 4] ^= 1; }, seal: false, dir: '', gone: 'a.txt', says: /^entry \d+ \("a\.txt"\): entry set checksum mismatch$/ },
      { name: 'a.txt', edit: (b, at) => { b[at + 32 + 3] = 0; }, seal: true, dir: '', gone: 'a.txt', says: /^entry \d+: name of 0 characters in \d+ name entries$/ },
      { name: 'a.txt', edit: (b, at) => { b[at + 1] = 1; }, seal: false, dir: '', gone: 'a.txt', says: /^entry \d+: file entry with 1 secondary entries \(2 to 18\)$/ },
      { name: 'multi.bin', edit: (b, at) => b.writeUInt32LE(0x7fffffff, at + 32 + 20), seal: true, dir: 'sub', gone: 'sub/multi.bin', says: /^"multi\.bin" skipped: \/sub\/multi\.bin: first cluster 2147483647 is outside/ },
      { name: 'multi.bin', edit: (b, at) => { b.writeBigUInt64LE(1n << 50n, at + 32 + 24); b.writeBigUInt64LE(1n << 50n, at + 32 + 8); }, seal: true, dir: 'sub', gone: 'sub/multi.bin', says: /does not fit in the .*cluster heap/ },
      // a folder whose first cluster is the root folder's: it would contain itself; only it is skipped
      { name: 'sub', edit: (b, at) => b.writeUInt32LE(b.readUInt32LE(96), at + 32 + 20), seal: true, dir: '', gone: 'sub', says: /^folder "sub" skipped: .*(already uses \(a loop\)|also belongs to another folder)/ },
    ];
    for (const c of cases) {
      const w = await damage(c.name, c.edit, c.seal);
      const dir = c.dir ? flatten(w.listing().root).get(c.dir)! : w.listing().root;
      assert.strictEqual(dir.problems?.length, 1, `${c.says}: one problem on /${c.dir}, got ${JSON.stringify(dir.problems)}`);
      assert.match(dir.problems[0], c.says);
      assert.deepStrictEqual(w.problems, [`folder /${c.dir ? `${c.dir}/` : ''}: ${dir.problems[0]}`]);
      await assertRestReadable(w, [c.gone]);
    }
  });

  it('a FAT chain that loops is an error for that file only; a damaged boot region fails the volume', async () => {
    const ss = 512, fatAt = img.readUInt32LE(80) * ss;
    const loop = clean();
    const first = loop.readUInt32LE(entrySet(loop, 'fragmented.bin') + 32 + 20);
    loop.writeUInt32LE(first, fatAt + first * 4);
    const w = await open(loop);
    const n = flatten(w.listing().root).get('frag/fragmented.bin')!;
    await assert.rejects(w.read(n, 0, n.size), /frag.*fragmented\.bin: cluster chain loops back|cluster chain/);
    assert.deepStrictEqual(w.problems, []);
    const others = Object.keys(MANIFEST.files).filter((p) => p !== 'frag/fragmented.bin');
    for (const p of others) { const f = flatten(w.listing().root).get(p)!; assert.strictEqual((await w.read(f, 0, f.size)).length, f.size, p); }
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

  it('fuzz: 400 mutated volumes end in an ExfatError or list with damaged entries named, every file read or an ExfatError', async function () {
    this.timeout(120_000);
    const r = await fuzzExfat(7, 400);
    assert.deepStrictEqual(r.failures, []);
    assert.ok(r.opened >= 20, `only ${r.opened} of 400 mutated volumes opened: the mutations no longer reach the readers`);
    assert.ok(r.withProblems >= 10, `only ${r.withProblems} opened volumes skipped a damaged entry: the mutations no longer reach the entry sets`);
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
