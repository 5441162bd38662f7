// One VHD file as a layer for merge: which sectors it holds (BAT, and a differencing disk's sector bitmaps: bit 7 of
// byte 0 is the block's first sector) and writing sectors into it. New blocks go where the footer was, after the
// footer is first copied to the new end; the BAT is written by commit(), after the data is synced, so every state
// of the file reads as before for the sectors nothing above it covers (docs/formats.md, "Merge").
import * as fs from 'fs';
import { FormatError } from '../errors';
import { DYN_COOKIE, VHD_COOKIE, vhdChecksum } from './inspect';
import type { MergeLayer } from '../manage/merge-layer';

const SECTOR = 512;

export function openVhdLayer(file: string, writable: boolean): MergeLayer {
  const fd = fs.openSync(file, writable ? 'r+' : 'r');
  try {
    let end = fs.fstatSync(fd).size;
    const footer = Buffer.alloc(SECTOR);
    fs.readSync(fd, footer, 0, SECTOR, end - SECTOR);
    if (footer.toString('latin1', 0, 8) !== VHD_COOKIE) throw new FormatError('unsupported', `${file}: no VHD footer at the end`);
    const type = footer.readUInt32BE(60);
    const virtualSize = Number(footer.readBigUInt64BE(48));
    if (type === 2) {
      return {
        virtualSize, sectorSize: SECTOR, blockSize: 2 * 2 ** 20, differencing: false,
        async present(i) { const bs = 2 * 2 ** 20; return [[i * bs, readAt(fd, i * bs, Math.min(bs, virtualSize - i * bs))]]; },
        async write(off, data) { fs.writeSync(fd, data, 0, data.length, off); },
        async commit() { fs.fsyncSync(fd); },
        async close() { fs.closeSync(fd); },
      };
    }
    const hOff = Number(footer.readBigUInt64BE(16));
    const h = readAt(fd, hOff, 1024);
    if (h.toString('latin1', 0, 8) !== DYN_COOKIE || vhdChecksum(h, 36) !== h.readUInt32BE(36)) throw new FormatError('unsupported', `${file}: damaged dynamic header`);
    const batOff = Number(h.readBigUInt64BE(16)), entries = h.readUInt32BE(28), bs = h.readUInt32BE(32);
    const spb = bs / SECTOR, bmBytes = Math.ceil(spb / 8 / SECTOR) * SECTOR;
    const bat = readAt(fd, batOff, entries * 4);
    const differencing = type === 4;
    let batDirty = false;
    const scratch = scratchPair(bs);
    const blockAt = (i: number) => { const s = bat.readUInt32BE(i * 4); return s === 0xffffffff ? null : s * SECTOR; };
    return {
      virtualSize, sectorSize: SECTOR, blockSize: bs, differencing,
      async extents(i) {
        const at = blockAt(i);
        if (at === null) return [];
        const len = Math.min(bs, virtualSize - i * bs);
        if (!differencing) return [[i * bs, at + bmBytes, len]];
        const bm = readAt(fd, at, bmBytes);
        return runs(len / SECTOR, (s) => (bm[s >> 3] & (0x80 >> (s & 7))) !== 0).map(([s, n]) => [i * bs + s * SECTOR, at + bmBytes + s * SECTOR, n * SECTOR]);
      },
      readFile: (off, into) => readAtAsync(fd, off, into.length, into),
      async present(i) {
        const at = blockAt(i);
        if (at === null) return [];
        const len = Math.min(bs, virtualSize - i * bs);
        const data = await readAtAsync(fd, at + bmBytes, len, scratch());
        if (!differencing) return [[i * bs, data]];
        const bm = readAt(fd, at, bmBytes);
        return runs(len / SECTOR, (s) => (bm[s >> 3] & (0x80 >> (s & 7))) !== 0).map(([s, n]) => [i * bs + s * SECTOR, data.subarray(s * SECTOR, (s + n) * SECTOR)]);
      },
      async write(off, data) {
        for (let done = 0; done < data.length;) {
          const v = off + done, i = Math.floor(v / bs), inBlock = v - i * bs;
          const n = Math.min(data.length - done, bs - inBlock);
          let at = blockAt(i);
          if (at === null) {
            // a new block: bitmap (all ones for a dynamic disk, else only what is written) and zeros, where the footer was
            at = end - SECTOR;
            fs.writeSync(fd, footer, 0, SECTOR, at + bmBytes + bs);
            const fresh = Buffer.alloc(bmBytes + bs, 0);
            if (!differencing) fresh.fill(0xff, 0, bmBytes);
            fs.writeSync(fd, fresh, 0, fresh.length, at);
            end = at + bmBytes + bs + SECTOR;
            bat.writeUInt32BE(at / SECTOR, i * 4);
            batDirty = true;
          }
          fs.writeSync(fd, data, done, n, at + bmBytes + inBlock);
          if (differencing) {
            const bm = readAt(fd, at, bmBytes);
            for (let s = inBlock / SECTOR; s < (inBlock + n) / SECTOR; s++) bm[s >> 3] |= 0x80 >> (s & 7);
            fs.writeSync(fd, bm, 0, bmBytes, at);
          }
          done += n;
        }
      },
      async commit(step) {
        fs.fsyncSync(fd);
        step?.(1);
        if (batDirty) { fs.writeSync(fd, bat, 0, bat.length, batOff); fs.fsyncSync(fd); batDirty = false; }
        step?.(2);
      },
      async close() { fs.closeSync(fd); },
    };
  } catch (e) { fs.closeSync(fd); throw e; }
}

export function readAt(fd: number, off: number, len: number, into?: Buffer): Buffer {
  const b = into && into.length >= len ? into.subarray(0, len) : Buffer.allocUnsafe(len);
  let done = 0;
  while (done < len) { const n = fs.readSync(fd, b, done, len - done, off + done); if (n === 0) break; done += n; }
  if (done < len) b.fill(0, done);
  return b;
}

/** readAt on the thread pool (the caller overlaps it with writes), into `into` when it is large enough. */
export function readAtAsync(fd: number, off: number, len: number, into: Buffer): Promise<Buffer> {
  const b = into.subarray(0, len);
  return new Promise((resolve, reject) => {
    const step = (done: number): void => {
      if (done >= len) return resolve(b);
      fs.read(fd, b, done, len - done, off + done, (err, n) => {
        if (err) return reject(err);
        if (n === 0) { b.fill(0, done); return resolve(b); }
        step(done + n);
      });
    };
    step(0);
  });
}

/** Two buffers used in turn, so a prefetched block never overwrites the one being written. */
export function scratchPair(size: number): () => Buffer {
  const bufs: Buffer[] = [];
  let k = 0;
  return () => (bufs[k ^= 1] ??= Buffer.allocUnsafe(size));
}

/** Runs of consecutive sectors for which `has` is true: [first, count][]. */
export function runs(sectors: number, has: (s: number) => boolean): [number, number][] {
  const out: [number, number][] = [];
  for (let s = 0; s < sectors; s++) {
    if (!has(s)) continue;
    let e = s + 1;
    while (e < sectors && has(e)) e++;
    out.push([s, e - s]);
    s = e;
  }
  return out;
}
