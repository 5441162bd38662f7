// One VHDX file as a layer for merge: which sectors it holds (BAT states; a differencing disk's PARTIALLY_PRESENT
// blocks through their sector bitmap, bit 0 of byte 0 = first sector) and writing sectors into it. New payload and
// sector bitmap blocks are appended (1 MiB aligned); the BAT sectors that change go through the log in commit(),
// after the data is synced, and the DataWriteGuid changes last, as the specification asks when data changes.
import * as fs from 'fs';
import { FormatError } from '../errors';
import { randomGuid, ZERO_GUID } from '../guid';
import { inspectOne } from '../inspect-one';
import { REGION_BAT, type Region } from './inspect';
import { loggedWrite, replayLog, writeHeader } from './log';
import { readAt, readAtAsync, runs, scratchPair } from '../vhd/layer';
import type { MergeLayer } from '../manage/merge-layer';

const MiB = 2 ** 20;
const FULL = 6, PARTIAL = 7, ZERO = 2;

export async function openVhdxLayer(file: string, writable: boolean): Promise<MergeLayer> {
  if (writable) { const fd0 = fs.openSync(file, 'r+'); try { replayLog(fd0); } finally { fs.closeSync(fd0); } }
  const p = (await inspectOne(file)).parsed;
  const region = (p.details.regions as Region[] | undefined)?.find((r) => r.guid === REGION_BAT);
  if (!p.blockSize || !region || p.problems.length) throw new FormatError('unsupported', `${file} cannot be merged: ${p.problems.map((x) => x.message).join('; ') || 'no BAT'}`);
  const bs = p.blockSize, ls = p.logicalSectorSize, virtualSize = p.virtualSize;
  const cr = (2 ** 23 * ls) / bs, spb = bs / ls;
  const differencing = p.subtype === 'differencing';
  const fd = fs.openSync(file, writable ? 'r+' : 'r');
  const bat = readAt(fd, region.offset, region.length);
  const dirty = new Set<number>();
  const scratch = scratchPair(bs);
  const entry = (idx: number) => { const v = bat.readBigUInt64LE(idx * 8); return { state: Number(v & 7n), off: Number(v >> 20n) * MiB }; };
  const setEntry = (idx: number, state: number, off: number) => { bat.writeBigUInt64LE((BigInt(off / MiB) << 20n) | BigInt(state), idx * 8); dirty.add(Math.floor((idx * 8) / 4096)); };
  const payload = (i: number) => i + Math.floor(i / cr);
  const sbIndex = (i: number) => Math.floor(i / cr) * (cr + 1) + cr;
  let end = Math.ceil(fs.fstatSync(fd).size / MiB) * MiB;
  const allocate = (bytes: number) => { const at = end; end += bytes; fs.ftruncateSync(fd, end); return at; };
  const bitmapOf = (i: number): { at: number; bits: Buffer } | null => {
    const sb = entry(sbIndex(i));
    if (sb.state !== FULL) return null;
    const at = sb.off + (i % cr) * (spb / 8);
    return { at, bits: readAt(fd, at, spb / 8) };
  };
  return {
    virtualSize, sectorSize: ls, blockSize: bs, differencing,
    async extents(i) {
      const e = entry(payload(i));
      const len = Math.min(bs, virtualSize - i * bs);
      if (e.state === ZERO) return differencing ? [[i * bs, -1, len]] : [];
      if (e.state !== FULL && e.state !== PARTIAL) return [];
      if (e.state === FULL || !differencing) return [[i * bs, e.off, len]];
      const bm = bitmapOf(i);
      if (!bm) throw new FormatError('unsupported', `${file}: block ${i} is partially present without a sector bitmap`);
      return runs(len / ls, (s) => (bm.bits[s >> 3] & (1 << (s & 7))) !== 0).map(([s, n]) => [i * bs + s * ls, e.off + s * ls, n * ls]);
    },
    readFile: (off, into) => readAtAsync(fd, off, into.length, into),
    async present(i) {
      const e = entry(payload(i));
      const len = Math.min(bs, virtualSize - i * bs);
      if (e.state === ZERO) return differencing ? [[i * bs, Buffer.alloc(len)]] : [];
      if (e.state !== FULL && e.state !== PARTIAL) return [];
      const data = await readAtAsync(fd, e.off, len, scratch());
      if (e.state === FULL || !differencing) return [[i * bs, data]];
      const bm = bitmapOf(i);
      if (!bm) throw new FormatError('unsupported', `${file}: block ${i} is partially present without a sector bitmap`);
      return runs(len / ls, (s) => (bm.bits[s >> 3] & (1 << (s & 7))) !== 0).map(([s, n]) => [i * bs + s * ls, data.subarray(s * ls, (s + n) * ls)]);
    },
    async write(off, data) {
      for (let done = 0; done < data.length;) {
        const v = off + done, i = Math.floor(v / bs), inBlock = v - i * bs;
        const n = Math.min(data.length - done, bs - inBlock);
        let e = entry(payload(i));
        if (e.state !== FULL && e.state !== PARTIAL) {
          // NOT_PRESENT in a differencing disk reads its parent: only the written sectors become present here
          const partial = differencing && e.state !== ZERO;
          const at = allocate(bs);
          setEntry(payload(i), partial ? PARTIAL : FULL, at);
          if (partial && !bitmapOf(i)) setEntry(sbIndex(i), FULL, allocate(MiB));
          e = entry(payload(i));
        }
        fs.writeSync(fd, data, done, n, e.off + inBlock);
        if (e.state === PARTIAL) {
          const bm = bitmapOf(i)!;
          for (let s = inBlock / ls; s < (inBlock + n) / ls; s++) bm.bits[s >> 3] |= 1 << (s & 7);
          fs.writeSync(fd, bm.bits, 0, bm.bits.length, bm.at);
        }
        done += n;
      }
    },
    async commit(step) {
      fs.fsyncSync(fd);
      step?.(1);
      const writes = [...dirty].sort((a, b) => a - b).map((s) => [region.offset + s * 4096, bat.subarray(s * 4096, (s + 1) * 4096)] as [number, Buffer]);
      loggedWrite(fd, writes, (n) => step?.(1 + n));
      dirty.clear();
      writeHeader(fd, ZERO_GUID, { dataWriteGuid: randomGuid() });
      fs.fsyncSync(fd);
      step?.(6);
    },
    async close() { fs.closeSync(fd); },
  };
}
