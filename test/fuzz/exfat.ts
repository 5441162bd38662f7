// Fuzzing vdisk's exFAT reader (src/worker/browse/exfat): each case mutates the fixture volume (boot region, FAT,
// folder clusters), re-seals the boot and entry-set checksums most of the time so the damage reaches the parsers
// behind them, then opens it and reads every file. The oracle: an ExfatError, or a listing (damaged entries skipped,
// each named with its folder) whose every file reads back exactly its size or ends in an ExfatError of its own;
// any other exception, or a case that does not settle within HANG_MS, is a failure.
// Long run: `node out/test/fuzz/exfat.js [--cases 100000] [--seed N]` (after tsc); `npm test` runs a few hundred.
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import { bootChecksum } from '../../src/worker/browse/exfat/boot';
import { setChecksum } from '../../src/worker/browse/exfat/entries';
import { ExfatError, openExfat } from '../../src/worker/browse/exfat/volume';
import type { BlockReader } from '../../src/formats/block';
import type { FsNode } from '../../src/worker/browse/slt';
import { caseRng, int, pick, Rng } from './prng';

export const FIXTURE = path.join(__dirname, '../../../test/fixtures/exfat/small.exfat.gz');
const HANG_MS = 5000;
const VALUES = [0, 1, 2, 3, 0x7fffffff, 0x80000000, 0xfffffff7, 0xfffffff8, 0xfffffffe, 0xffffffff, 0x10000, 0x1000];

export function memoryDisk(buf: Buffer): BlockReader {
  return {
    size: buf.length, sectorSize: 512,
    read: async (b, off) => { const n = Math.max(0, Math.min(b.length, buf.length - off)); buf.copy(b, 0, off, off + n); return n; },
    close: async () => undefined,
  };
}

/** Offsets worth hitting: the boot regions, the FAT, and the clusters holding folders (entry sets). */
function targets(img: Buffer): { fat: [number, number]; entries: number[] } {
  const ss = 1 << img[108];
  const fat: [number, number] = [img.readUInt32LE(80) * ss, img.readUInt32LE(84) * ss];
  const entries: number[] = [];
  for (let at = img.readUInt32LE(88) * ss; at + 32 <= img.length; at += 32) {
    if ([0x85, 0xc0, 0xc1, 0x83, 0x81, 0x82].includes(img[at])) entries.push(at);
  }
  return { fat, entries };
}

function mutate(src: Buffer, r: Rng): { img: Buffer; notes: string[] } {
  const img = Buffer.from(src);
  const t = targets(src);
  const ss = 1 << src[108];
  const notes: string[] = [];
  for (let k = 0, n = 1 + int(r, 4); k < n; k++) {
    const where = r();
    const at = where < 0.3 ? int(r, 12 * ss) : where < 0.55 ? t.fat[0] + int(r, Math.min(t.fat[1], 4096)) & ~3
      : where < 0.95 && t.entries.length ? pick(r, t.entries) + int(r, 32) : int(r, img.length);
    const kind = r();
    if (kind < 0.35) { img[at] ^= 1 << int(r, 8); notes.push(`flip ${at}`); }
    else if (kind < 0.6) { img[at] = pick(r, [0, 0xff, 0x7f, 0x80, int(r, 256)]); notes.push(`set ${at}`); }
    else if (at + 4 <= img.length) { img.writeUInt32LE(pick(r, VALUES), at); notes.push(`u32 ${at}`); }
  }
  if (r() < 0.75) {   // re-seal: the boot checksum and every entry set's checksum
    const s = 1 << img[108];
    if (s >= 512 && s <= 4096 && 12 * s <= img.length) {
      const sum = bootChecksum(img, s);
      for (let i = 0; i < s; i += 4) img.writeUInt32LE(sum, 11 * s + i);
    }
    for (const at of t.entries) {
      const n = img[at + 1];
      if (img[at] === 0x85 && at + (n + 1) * 32 <= img.length) img.writeUInt16LE(setChecksum(img, at, n + 1), at + 2);
    }
    notes.push('resealed');
  }
  return { img, notes };
}

/** One case: `failure` says what went wrong (absent when the oracle holds); `opened` when the volume opened. */
export async function runCase(src: Buffer, seed: number, index: number): Promise<{ failure?: string; opened: boolean; problems: boolean }> {
  const { img, notes } = mutate(src, caseRng(seed, 'exfat', index));
  let opened = false, problems = false;
  const work = (async () => {
    const disk = memoryDisk(img);
    try {
      const v = await openExfat(disk, { index: 0, offset: 0, size: img.length });
      opened = true;
      problems = v.problems.length > 0;
      for (const p of v.problems) if (!/^folder \/.*: ./.test(p)) throw new Error(`a problem that names no folder: ${p}`);
      const walk = async (n: FsNode): Promise<void> => {
        for (const c of n.children!.values()) {
          if (c.type === 'directory') { await walk(c); continue; }
          // a damaged chain fails that file only: the walk goes on
          const b = await v.read(c, 0, c.size).catch((e) => { if (e instanceof ExfatError) return undefined; throw e; });
          if (b && b.length !== c.size) throw new Error(`${c.name}: read ${b.length} of ${c.size} bytes`);
        }
      };
      await walk(v.listing().root);
    } catch (e) {
      if (!(e instanceof ExfatError)) throw e;
    }
  })();
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<string>((resolve) => { timer = setTimeout(() => resolve('hang'), HANG_MS); });
  try {
    const r = await Promise.race([work.then(() => undefined, (e: Error) => `exception: ${e.stack ?? e.message}`), hang]);
    return { failure: r && `case ${index} (seed ${seed}; ${notes.join(', ')}): ${r}`, opened, problems };
  } finally { clearTimeout(timer); }
}

export async function fuzzExfat(seed: number, cases: number): Promise<{ failures: string[]; opened: number; withProblems: number }> {
  const src = zlib.gunzipSync(fs.readFileSync(FIXTURE));
  const failures: string[] = [];
  let opened = 0, withProblems = 0;
  for (let i = 0; i < cases; i++) {
    const r = await runCase(src, seed, i);
    if (r.failure) failures.push(r.failure);
    if (r.opened) opened++;
    if (r.problems) withProblems++;
  }
  return { failures, opened, withProblems };
}

if (require.main === module) {
  const arg = (name: string, d: number) => { const i = process.argv.indexOf(name); return i > 0 ? Number(process.argv[i + 1]) : d; };
  const seed = arg('--seed', Date.now() % 1e9), cases = arg('--cases', 100_000);
  const t = Date.now();
  void fuzzExfat(seed, cases).then(({ failures, opened, withProblems }) => {
    console.log(`exfat: ${cases} cases, seed ${seed}, ${((Date.now() - t) / 1000).toFixed(1)} s, ${opened} volumes opened and read (${withProblems} with damaged entries skipped), ${failures.length} failures`);
    for (const f of failures.slice(0, 20)) console.log(f);
    process.exit(failures.length ? 1 : 0);
  });
}
