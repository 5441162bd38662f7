// Fuzzing the NTFS reader of the file-system-aware compact (src/formats/manage/ntfs-*.ts): seeds made by mkntfs and
// ntfscp (no mount), mutations aimed at the boot sector, the first MFT records (attribute headers, runlists), the
// $LogFile restart pages and the $Bitmap, and an oracle for each case: ntfsFree returns null, a refusal or a map
// that is whole (inside the partition, counts consistent, its own metadata in use); it never throws, reads only
// inside the partition and at most 64 MiB. Hangs are caught by the watchdog in the test (a worker thread per run).
import * as cp from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { parentPort, workerData } from 'worker_threads';
import { ntfsFree } from '../../src/formats/manage/ntfs-free';
import { countFree, FreeMap } from '../../src/formats/manage/free-map';
import { caseRng, int, pick, Rng } from './prng';

export interface NtfsSeed { name: string; bytes: Buffer; regions: [number, number][] }
export type NtfsMessage = { type: 'start'; index: number } | { type: 'failure'; index: number; error: string } | { type: 'done'; released: number; refused: number };

/** Two seeds (512 and 4096-byte clusters), each with a file and a zeroed hiberfil.sys copied in by ntfscp. */
export function buildNtfsSeeds(dir: string): NtfsSeed[] {
  const file = path.join(dir, 'f1');
  fs.writeFileSync(file, Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 131) & 0xff)));
  fs.writeFileSync(path.join(dir, 'hib'), Buffer.alloc(8192));
  return [512, 4096].map((cluster) => {
    const img = path.join(dir, `seed-${cluster}.img`);
    fs.writeFileSync(img, '');
    fs.truncateSync(img, 8 << 20);
    cp.execFileSync('mkntfs', ['-q', '-F', '-Q', '-c', String(cluster), img], { stdio: 'ignore' });
    cp.execFileSync('ntfscp', [img, file, 'data.bin'], { stdio: 'ignore' });
    cp.execFileSync('ntfscp', [img, path.join(dir, 'hib'), 'hiberfil.sys'], { stdio: 'ignore' });
    const bytes = fs.readFileSync(img);
    return { name: path.basename(img), bytes, regions: regionsOf(bytes) };
  });
}

/** Where the metadata the reader uses lies: boot sector, MFT records 0-15, $LogFile restart pages, $Bitmap. */
function regionsOf(b: Buffer): [number, number][] {
  const cs = b.readUInt16LE(11) * b[13], cpr = b.readInt8(0x40), rs = cpr > 0 ? cpr * cs : 2 ** -cpr;
  const mft = Number(b.readBigUInt64LE(0x30)) * cs;
  const out: [number, number][] = [[0, 512], [mft, 16 * rs]];
  for (const n of [2, 6]) { // first run of $LogFile and $Bitmap: their $DATA runlist, read raw
    const rec = mft + n * rs;
    for (let off = rec + b.readUInt16LE(rec + 0x14); b.readUInt32LE(off) !== 0xffffffff && off < rec + rs; off += b.readUInt32LE(off + 4)) {
      if (b.readUInt32LE(off) !== 0x80 || !b[off + 8]) continue;
      const p = off + b.readUInt16LE(off + 32), lenBytes = b[p] & 0xf;
      const lcn = b.readIntLE(p + 1 + lenBytes, b[p] >> 4);
      out.push([off, b.readUInt32LE(off + 4)], [lcn * cs, n === 2 ? 8192 : 1024]);
    }
  }
  return out;
}

const VALUES = [0, 1, 2, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1];

/** The mutated copy of a seed for case `index`, and what was done. */
export function mutate(seed: NtfsSeed, r: Rng): { bytes: Buffer; did: string[] } {
  const b = Buffer.from(seed.bytes), did: string[] = [];
  for (let k = 0, n = 1 + int(r, 4); k < n; k++) {
    const [s, len] = r() < 0.95 ? pick(r, seed.regions) : [0, b.length];
    const at = Math.min(b.length - 8, s + int(r, len));
    const m = int(r, 4);
    if (m === 0) { b[at] ^= 1 << int(r, 8); did.push(`flip ${at}`); } else if (m === 1) {
      const v = pick(r, [0, 0xff, 0x7f, 0x80, int(r, 256)]);
      b.fill(v, at, at + 1 + int(r, 8)); did.push(`set ${at} ${v}`);
    } else if (m === 2) {
      const w = pick(r, [2, 4]), v = pick(r, VALUES) % 2 ** (8 * w), a = at - (at % w);
      b.writeUIntLE(v, a, w); did.push(`u${w * 8} ${a} ${v}`);
    } else {
      const a = at - (at % 8), v = pick(r, [0n, 1n, 2n ** 31n, 2n ** 32n - 1n, 2n ** 53n, 2n ** 63n - 1n, 2n ** 64n - 1n, BigInt(b.length)]);
      b.writeBigUInt64LE(v, a); did.push(`u64 ${a} ${v}`);
    }
  }
  return { bytes: b, did };
}

/** Runs one case: null when the oracle holds, else what went wrong. */
export async function checkNtfsCase(bytes: Buffer): Promise<{ error: string | null; released: boolean }> {
  let readBytes = 0;
  const read = async (off: number, len: number) => {
    if (off < 0 || len < 0 || off + len > bytes.length) throw new Error(`read outside the partition: ${off} +${len}`);
    if ((readBytes += len) > 64 << 20) throw new Error(`more than 64 MiB read (${readBytes})`);
    return Buffer.from(bytes.subarray(off, off + len));
  };
  let r;
  try { r = await ntfsFree(read, 0, bytes.length); } catch (e) { return { error: `threw: ${(e as Error).stack ?? e}`, released: false }; }
  if (r === null) return { error: null, released: false };
  if ('refused' in r) return { error: typeof r.refused === 'string' && r.refused ? null : 'an empty refusal', released: false };
  return { error: mapProblem(r, bytes.length), released: true };
}

function mapProblem(m: FreeMap, size: number): string | null {
  if (!(m.unit > 0) || !Number.isSafeInteger(m.units) || m.units * m.unit > size) return `map of ${m.units} x ${m.unit} bytes in a ${size}-byte partition`;
  if (m.used.length * 8 < m.units) return `bitmap of ${m.used.length} bytes for ${m.units} units`;
  if (m.freeBytes !== countFree(m.used, m.units) * m.unit) return 'freeBytes does not match the bitmap';
  if (!(m.used[0] & 1)) return 'the boot sector\'s cluster is released';
  if (m.freeBytes >= m.units * m.unit) return 'everything is released';
  return null;
}

// worker thread entry: runs cases [from, to) and reports each start (for the watchdog) and failure
if (parentPort && workerData?.ntfsFuzz) {
  const { seeds, seed, from, to, hangAt } = workerData as { seeds: NtfsSeed[]; seed: number; from: number; to: number; hangAt?: number };
  for (const s of seeds) s.bytes = Buffer.from(s.bytes);
  void (async () => {
    let released = 0, refused = 0;
    for (let i = from; i < to; i++) {
      parentPort!.postMessage({ type: 'start', index: i } satisfies NtfsMessage);
      if (i === hangAt) for (;;) { /* test hook: proves the watchdog */ }
      const r = caseRng(seed, 'ntfs', i);
      const s = seeds[int(r, seeds.length)];
      const { bytes, did } = mutate(s, r);
      const c = await checkNtfsCase(bytes);
      if (c.released) released++; else refused++;
      if (c.error) parentPort!.postMessage({ type: 'failure', index: i, error: `${s.name} [${did.join('; ')}]: ${c.error}` } satisfies NtfsMessage);
    }
    parentPort!.postMessage({ type: 'done', released, refused } satisfies NtfsMessage);
  })();
}
