// The VHDX metadata log: writing one entry (data descriptors for whole 4 KiB sectors), and replaying the active
// sequence of a file whose header names a log GUID (what Windows and qemu do on open). Synchronous I/O on an fd.
// Entry layout (VHDX specification 2.3): a 64-byte header and 32-byte descriptors in the first sector(s), then one
// data sector per data descriptor ("data", sequence high, bytes 8-4091, sequence low; bytes 0-7 and 4092-4095 live
// in the descriptor). CRC-32C covers the whole entry with the checksum field zero.
import * as fs from 'fs';
import { crc32c, crc32cWithZeroField } from '../crc32c';
import { guidLE, guidToBytesLE, randomGuid, ZERO_GUID } from '../guid';
import { parseVhdxHeader, VhdxHeader, KiB } from './inspect';

const SECTOR = 4 * KiB;

export function descSectors(count: number): number {
  return Math.ceil((count + 2) / 128);
}

/** One log entry writing `writes` (file offset, 4096 bytes each, offsets multiples of 4096). */
export function buildLogEntry(guid: string, sequence: bigint, writes: [number, Buffer][], fileSize: number): Buffer {
  const ds = descSectors(writes.length);
  const e = Buffer.alloc((ds + writes.length) * SECTOR);
  e.write('loge', 0, 'latin1');
  e.writeUInt32LE(e.length, 8);
  e.writeUInt32LE(0, 12); // tail: this entry is the whole sequence, at the start of the log
  e.writeBigUInt64LE(sequence, 16);
  e.writeUInt32LE(writes.length, 24);
  guidToBytesLE(guid).copy(e, 32);
  e.writeBigUInt64LE(BigInt(fileSize), 48); // flushed file offset
  e.writeBigUInt64LE(BigInt(fileSize), 56); // last file offset
  writes.forEach(([off, data], i) => {
    if (off % SECTOR || data.length !== SECTOR) throw new Error('log writes are whole 4 KiB sectors');
    const d = 64 + i * 32;
    e.write('desc', d, 'latin1');
    data.copy(e, d + 4, 4092, 4096); // trailing bytes
    data.copy(e, d + 8, 0, 8); // leading bytes
    e.writeBigUInt64LE(BigInt(off), d + 16);
    e.writeBigUInt64LE(sequence, d + 24);
    const s = (ds + i) * SECTOR;
    e.write('data', s, 'latin1');
    e.writeUInt32LE(Number(sequence >> 32n), s + 4);
    data.copy(e, s + 8, 8, 4092);
    e.writeUInt32LE(Number(sequence & 0xffffffffn), s + 4092);
  });
  e.writeUInt32LE(crc32cWithZeroField(e, 4), 4);
  return e;
}

/** The two headers and which is current (the valid one with the higher sequence number). */
export function readHeaders(fd: number): { headers: (VhdxHeader & { raw: Buffer })[]; current: VhdxHeader & { raw: Buffer } } {
  const headers = [1, 2].map((i) => {
    const raw = Buffer.alloc(SECTOR);
    fs.readSync(fd, raw, 0, SECTOR, i * 64 * KiB);
    return { ...parseVhdxHeader(raw, i), raw };
  });
  const valid = headers.filter((h) => h.valid);
  if (!valid.length) throw new Error('neither VHDX header is valid');
  return { headers, current: valid.reduce((a, b) => (b.sequence > a.sequence ? b : a)) };
}

/**
 * Writes a new header (sequence + 1) over the non-current copy: a torn write leaves the old one current.
 * `fileWriteGuid`: changed on the first write of a session, as the specification asks.
 */
export function writeHeader(fd: number, logGuid: string, opts: { fileWriteGuid?: string; dataWriteGuid?: string } = {}): void {
  const { current } = readHeaders(fd);
  const b = Buffer.from(current.raw);
  b.writeBigUInt64LE(current.sequence + 1n, 8);
  if (opts.fileWriteGuid) guidToBytesLE(opts.fileWriteGuid).copy(b, 16);
  if (opts.dataWriteGuid) guidToBytesLE(opts.dataWriteGuid).copy(b, 32);
  guidToBytesLE(logGuid).copy(b, 48);
  b.writeUInt32LE(0, 4);
  b.writeUInt32LE(crc32c(b), 4);
  fs.writeSync(fd, b, 0, SECTOR, (3 - current.index) * 64 * KiB);
}

interface Entry { at: number; length: number; sequence: bigint; descs: Buffer; data: Buffer[]; lastFileOffset: number; flushedFileOffset: number }

function readCircular(fd: number, logOffset: number, logLength: number, at: number, length: number): Buffer {
  const b = Buffer.alloc(length);
  for (let done = 0; done < length;) {
    const pos = (at + done) % logLength;
    const n = Math.min(length - done, logLength - pos);
    fs.readSync(fd, b, done, n, logOffset + pos);
    done += n;
  }
  return b;
}

function entryAt(fd: number, h: VhdxHeader, at: number): Entry | null {
  const hdr = readCircular(fd, h.logOffset, h.logLength, at, 64);
  if (hdr.toString('latin1', 0, 4) !== 'loge' || guidLE(hdr, 32) !== h.logGuid) return null;
  const length = hdr.readUInt32LE(8), sequence = hdr.readBigUInt64LE(16), count = hdr.readUInt32LE(24);
  if (length % SECTOR || length > h.logLength || length === 0 || sequence === 0n) return null;
  const ds = descSectors(count);
  if (ds * SECTOR > length) return null;
  const e = readCircular(fd, h.logOffset, h.logLength, at, length);
  if (e.readUInt32LE(4) !== crc32cWithZeroField(e, 4)) return null;
  const data: Buffer[] = [];
  let next = ds;
  for (let i = 0; i < count; i++) {
    const d = 64 + i * 32;
    const sig = e.toString('latin1', d, d + 4);
    if (e.readBigUInt64LE(d + 24) !== sequence || Number(e.readBigUInt64LE(d + 16)) % SECTOR) return null;
    if (sig === 'zero') { if (Number(e.readBigUInt64LE(d + 8)) % SECTOR) return null; continue; }
    if (sig !== 'desc' || (next + 1) * SECTOR > length) return null;
    const s = e.subarray(next * SECTOR, (next + 1) * SECTOR);
    const seq = (BigInt(s.readUInt32LE(4)) << 32n) | BigInt(s.readUInt32LE(4092));
    if (s.toString('latin1', 0, 4) !== 'data' || seq !== sequence) return null;
    data.push(s);
    next++;
  }
  return { at, length, sequence, descs: e.subarray(0, ds * SECTOR), data, lastFileOffset: Number(e.readBigUInt64LE(56)), flushedFileOffset: Number(e.readBigUInt64LE(48)) };
}

/** The active sequence: the run of consecutive valid entries ending with the highest sequence number. */
export function activeSequence(fd: number, h: VhdxHeader): Entry[] {
  let best: Entry[] = [];
  for (let at = 0; at < h.logLength; at += SECTOR) {
    const first = entryAt(fd, h, at);
    if (!first) continue;
    const run = [first];
    for (let e = first; run.length < 4096;) {
      const n = entryAt(fd, h, (e.at + e.length) % h.logLength);
      if (!n || n.sequence !== e.sequence + 1n) break;
      run.push(n);
      e = n;
    }
    if (!best.length || run[run.length - 1].sequence > best[best.length - 1].sequence) best = run;
  }
  return best;
}

/**
 * Replays the log if the current header names one: applies the active sequence, syncs, then clears the log GUID.
 * Returns the number of entries applied (0 when the log was empty or stale). Throws when a truncated file makes
 * replay unsafe, as qemu and Windows refuse it.
 */
export function replayLog(fd: number): number {
  const { current } = readHeaders(fd);
  if (current.logGuid === ZERO_GUID || current.logLength === 0) return 0;
  const seq = activeSequence(fd, current);
  const size = fs.fstatSync(fd).size;
  for (const e of seq) {
    if (e.flushedFileOffset > size) throw new Error(`the log was written for a file of ${e.flushedFileOffset} bytes; this one has ${size}: it was truncated`);
    let k = 0;
    const count = e.descs.readUInt32LE(24);
    for (let i = 0; i < count; i++) {
      const d = 64 + i * 32;
      const off = Number(e.descs.readBigUInt64LE(d + 16));
      if (e.descs.toString('latin1', d, d + 4) === 'zero') {
        const z = Buffer.alloc(Number(e.descs.readBigUInt64LE(d + 8)));
        fs.writeSync(fd, z, 0, z.length, off);
        continue;
      }
      const s = Buffer.from(e.data[k++]);
      e.descs.copy(s, 0, d + 8, d + 16);
      e.descs.copy(s, 4092, d + 4, d + 8);
      fs.writeSync(fd, s, 0, SECTOR, off);
    }
    if (fs.fstatSync(fd).size < e.lastFileOffset) fs.ftruncateSync(fd, Math.ceil(e.lastFileOffset / (1024 * KiB)) * 1024 * KiB);
  }
  fs.fsyncSync(fd);
  writeHeader(fd, ZERO_GUID, { fileWriteGuid: randomGuid() });
  fs.fsyncSync(fd);
  return seq.length;
}

/**
 * Writes whole 4 KiB sectors of metadata (BAT, metadata region) atomically through the log: an entry, synced; a
 * header naming its GUID, synced; the sectors, synced; a header clearing the GUID, synced. `step(1..4)` after each.
 * More sectors than the log holds are split into several such transactions, each atomic on its own.
 */
export function loggedWrite(fd: number, writes: [number, Buffer][], step?: (n: number) => void): void {
  if (!writes.length) return;
  const { current } = readHeaders(fd);
  const per = Math.max(1, Math.floor(current.logLength / SECTOR) - descSectors(current.logLength / SECTOR) - 1);
  for (let k = 0; k < writes.length; k += per) {
    const part = writes.slice(k, k + per);
    const logGuid = randomGuid();
    const entry = buildLogEntry(logGuid, 1n, part, fs.fstatSync(fd).size);
    if (entry.length > current.logLength) throw new Error('the VHDX log is too small for this change');
    fs.writeSync(fd, entry, 0, entry.length, current.logOffset);
    fs.fsyncSync(fd);
    step?.(1);
    writeHeader(fd, logGuid, { fileWriteGuid: randomGuid() });
    fs.fsyncSync(fd);
    step?.(2);
    for (const [off, data] of part) fs.writeSync(fd, data, 0, data.length, off);
    fs.fsyncSync(fd);
    step?.(3);
    writeHeader(fd, ZERO_GUID);
    fs.fsyncSync(fd);
    step?.(4);
  }
}
