// Bounded, counted range reads of an image file. Every parser reads through this so that no read is
// sized by an unchecked field and the bench can measure how many bytes an inspection touched.
import * as fs from 'fs';
import { nonZeroEnd } from './crc32c';

/** The largest single read any parser may ask for (metadata only, never data). */
export const MAX_READ = 8 * 1024 * 1024;

export interface ReadStats { reads: number; bytes: number }

/**
 * A byte range of a file and what was read there (what a parse depended on; see same-bytes.ts): `bytes`, then `zeros`
 * zero bytes (VHDX headers and region tables are mostly zeros: their tails are kept as a count, not copied).
 */
export interface ReadRange { offset: number; bytes: Buffer; zeros: number }

/** A range as kept: `buf` itself (`copy` false, little to trim) or a copy without its trailing zeros. */
function keptRange(offset: number, buf: Buffer, copy: boolean): ReadRange {
  const end = nonZeroEnd(buf, 0, buf.length);
  if (!copy && end > buf.length / 2) return { offset, bytes: buf, zeros: 0 };
  return { offset, bytes: Buffer.from(buf.subarray(0, end)), zeros: buf.length - end };
}

/** Observers notified of every read (the bench counts bytes through this). */
const observers = new Set<(path: string, offset: number, length: number) => void>();
/** Tells the observers of a read made outside a RangeReader (same-bytes.ts). */
export function notifyReads(path: string, offset: number, length: number): void {
  for (const o of observers) o(path, offset, length);
}

/** "dev:ino:size:mtime:ctime": a file's identity and state, what the worker's cache compares. */
export function stampOf(st: fs.Stats): string { return `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`; }

export function observeReads(fn: (path: string, offset: number, length: number) => void): () => void {
  observers.add(fn);
  return () => { observers.delete(fn); };
}

/**
 * I/O is synchronous under an async API: metadata reads are a few KiB each, and a threadpool round trip per read
 * (about 20-50 us) made a 16-deep chain slower than one `vhdiinfo` run. The format layer runs in the worker
 * process, never in the extension host; a read that hangs (dead network share) blocks that worker only.
 */
let scratch = Buffer.allocUnsafe(64 * 1024);

export class RangeReader {
  readonly stats: ReadStats = { reads: 0, bytes: 0 };
  private closed = false;
  /** The last few small reads; callers treat returned buffers as read-only. */
  private readonly recent: { offset: number; buf: Buffer }[] = [];
  /** Every range read from the file, with its bytes, when recording (startRecording). */
  private recorded: ReadRange[] | null = null;
  private constructor(readonly path: string, private readonly fd: number, readonly size: number,
    /** "dev:ino:size:mtime:ctime" of the file as opened: what the worker's cache compares later. */
    readonly stamp: string) {}

  static async open(path: string): Promise<RangeReader> {
    // O_NONBLOCK: a FIFO planted where a parent should be must not hang the open (no effect on regular files)
    const fd = fs.openSync(path, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0));
    try {
      const st = fs.fstatSync(fd);
      if (!st.isFile()) throw Object.assign(new Error(`${path} is not a regular file`), { code: st.isDirectory() ? 'EISDIR' : 'EINVAL' });
      return new RangeReader(path, fd, st.size, stampOf(st));
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
  }

  /** Whether a read failed (EIO...): a parse that saw one is not a function of the file's bytes alone. */
  readFailed = false;

  private readSync(buf: Buffer, off: number, len: number, pos: number): number {
    try {
      return fs.readSync(this.fd, buf, off, len, pos);
    } catch (e) {
      this.readFailed = true;
      throw e;
    }
  }

  /** From now on, keep every range read and what it held: what `ranges` returns. */
  startRecording(): void { this.recorded ??= []; }

  /** The ranges read since startRecording, by offset, without those inside another; null when not recording. */
  ranges(): ReadRange[] | null {
    if (!this.recorded) return null;
    const len = (r: ReadRange) => r.bytes.length + r.zeros;
    const out: ReadRange[] = [];
    for (const r of [...this.recorded].sort((a, b) => a.offset - b.offset || len(b) - len(a))) {
      const last = out[out.length - 1];
      if (last && r.offset + len(r) <= last.offset + len(last)) continue;
      out.push(r);
    }
    return out;
  }

  /**
   * Reads up to `length` bytes at `offset`; the result is shorter only where the file ends.
   * Offsets/lengths come from hostile files: they are validated here, once, for everybody.
   */
  async read(offset: number, length: number): Promise<Buffer> {
    if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`bad read offset ${offset}`);
    if (!Number.isSafeInteger(length) || length < 0 || length > MAX_READ) throw new RangeError(`bad read length ${length}`);
    const n = Math.max(0, Math.min(length, this.size - offset));
    // detection and the parser ask for the same few sectors (head, tail): serve those without a syscall
    for (const c of this.recent) {
      if (offset >= c.offset && offset + n <= c.offset + c.buf.length) return c.buf.subarray(offset - c.offset, offset - c.offset + n);
    }
    const buf = Buffer.allocUnsafe(n);
    let done = 0;
    while (done < n) {
      const got = this.readSync(buf, done, n - done, offset + done);
      if (got === 0) break;
      done += got;
    }
    this.stats.reads++;
    this.stats.bytes += done;
    for (const o of observers) o(this.path, offset, done);
    const out = done === n ? buf : buf.subarray(0, done);
    this.recorded?.push(keptRange(offset, out, false));
    if (done <= 4096) {
      this.recent.push({ offset, buf: out });
      if (this.recent.length > 4) this.recent.shift();
    }
    return out;
  }

  /**
   * Like readExact, synchronously, into one buffer shared by every reader (no allocation, no garbage): the result is
   * valid only until the next call, so the caller must be done with it before it awaits anything.
   */
  readExactScratch(offset: number, length: number): Buffer | null {
    if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`bad read offset ${offset}`);
    if (!Number.isSafeInteger(length) || length < 0 || length > MAX_READ) throw new RangeError(`bad read length ${length}`);
    if (offset + length > this.size) return null;
    if (scratch.length < length) scratch = Buffer.allocUnsafe(Math.max(length, 64 * 1024));
    let done = 0;
    while (done < length) {
      const got = this.readSync(scratch, done, length - done, offset + done);
      if (got === 0) break;
      done += got;
    }
    this.stats.reads++;
    this.stats.bytes += done;
    for (const o of observers) o(this.path, offset, done);
    this.recorded?.push(keptRange(offset, scratch.subarray(0, done), true));
    return done === length ? scratch.subarray(0, length) : null;
  }

  /** Like read, but null unless the whole range exists. */
  async readExact(offset: number, length: number): Promise<Buffer | null> {
    if (offset + length > this.size) return null;
    const b = await this.read(offset, length);
    return b.length === length ? b : null;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    fs.closeSync(this.fd);
  }
}

/** A u64 read as a JS number, or null when it does not fit a safe integer. */
export function u64be(b: Buffer, off: number): number | null {
  const v = b.readBigUInt64BE(off);
  return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : null;
}
export function u64le(b: Buffer, off: number): number | null {
  const v = b.readBigUInt64LE(off);
  return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : null;
}
