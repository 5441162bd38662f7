// What every format's block reader shares: a read loop over "pieces" (a run of the virtual disk that is zeros, the
// parent's, a range of a file, or bytes already in memory), a bounded cache for the tables a reader loads, and
// tables read page by page so that no hostile size field ever sizes an allocation.
import type { BlockReader, Located } from './block';
import { FormatError } from './errors';
import type { LayerFile } from './layer-files';

export type Piece =
  | { kind: 'zero'; length: number }
  | { kind: 'parent'; length: number }
  | { kind: 'file'; length: number; file: LayerFile; pos: number }
  | { kind: 'bytes'; length: number; bytes: Uint8Array; at: number };

export function corrupt(layer: string, what: string): FormatError {
  return new FormatError('corrupt', `${layer}: ${what}`);
}

/** A layer of the virtual disk as pieces; `map` answers for the run starting at `offset`, at most `length` bytes. */
export abstract class MappedDisk implements BlockReader {
  private closed = false;
  constructor(readonly size: number, readonly sectorSize: number, protected readonly parent: BlockReader | null,
    protected readonly files: LayerFile[], readonly layer: string) {}

  protected abstract map(offset: number, length: number): Promise<Piece>;

  async read(buf: Uint8Array, offset: number): Promise<number> {
    if (this.closed) throw new FormatError('unreadable', `${this.layer}: read after close`);
    if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`bad read offset ${offset}`);
    const n = Math.max(0, Math.min(buf.length, this.size - offset));
    let done = 0;
    while (done < n) {
      const want = n - done;
      const p = await this.map(offset + done, want);
      if (!(p.length > 0 && p.length <= want)) throw new Error(`${this.layer}: block map answered ${p.length} bytes for ${want}`);
      const dst = buf.subarray(done, done + p.length);
      switch (p.kind) {
        case 'zero': dst.fill(0); break;
        case 'parent': await readParent(this.parent, dst, offset + done); break;
        case 'file': {
          const got = p.file.readInto(dst, 0, p.length, p.pos);
          // past the end of a layer file reads as zeros, as qemu does (inspect reports truncation beforehand)
          if (got < p.length) dst.fill(0, got);
          break;
        }
        case 'bytes': {
          const have = Math.max(0, Math.min(p.length, p.bytes.length - p.at));
          dst.set(p.bytes.subarray(p.at, p.at + have));
          if (have < p.length) dst.fill(0, have);
          break;
        }
      }
      done += p.length;
    }
    return n;
  }

  async locate(offset: number, length: number): Promise<Located | null> {
    if (this.closed) throw new FormatError('unreadable', `${this.layer}: read after close`);
    if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`bad read offset ${offset}`);
    const want = Math.min(length, this.size - offset);
    if (!(want > 0)) return null;
    const p = await this.map(offset, want);
    if (!(p.length > 0 && p.length <= want)) throw new Error(`${this.layer}: block map answered ${p.length} bytes for ${want}`);
    switch (p.kind) {
      case 'zero': return p;
      case 'file': return p.pos + p.length <= p.file.size ? p : null; // past the file's end reads as zeros: read()
      case 'bytes': return null;
      case 'parent': {
        const parent = this.parent;
        if (!parent || offset >= parent.size) return { kind: 'zero', length: p.length };
        return parent.locate ? parent.locate(offset, Math.min(p.length, parent.size - offset)) : null;
      }
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const f of this.files) f.close();
    await this.parent?.close();
  }
}

/** The parent's bytes where it has them, zeros past its end (a smaller parent) or with no parent at all. */
export async function readParent(parent: BlockReader | null, dst: Uint8Array, offset: number): Promise<void> {
  if (!parent || offset >= parent.size) { dst.fill(0); return; }
  const got = await parent.read(dst, offset);
  if (got < dst.length) dst.fill(0, got);
}

/** Least-recently-used cache bounded by bytes (tables, bitmaps, decompressed clusters of one layer). */
export class ByteLru<K, V extends { length: number }> {
  private readonly map = new Map<K, V>();
  private bytes = 0;
  constructor(private readonly budget: number) {}

  get(k: K): V | undefined {
    const v = this.map.get(k);
    if (v !== undefined) { this.map.delete(k); this.map.set(k, v); }
    return v;
  }

  set(k: K, v: V): void {
    const old = this.map.get(k);
    if (old) { this.bytes -= old.length; this.map.delete(k); }
    this.map.set(k, v);
    this.bytes += v.length;
    for (const [key, val] of this.map) {
      if (this.bytes <= this.budget || this.map.size <= 1) break;
      this.map.delete(key);
      this.bytes -= val.length;
    }
  }

  async through(k: K, load: () => V | Promise<V>): Promise<V> {
    const hit = this.get(k);
    if (hit !== undefined) return hit;
    const v = await load();
    this.set(k, v);
    return v;
  }
}

/** Bytes of `file` at `pos`, exactly `len` of them, or a `corrupt` error naming `what`. */
export function readExact(file: LayerFile, pos: number, len: number, what: string): Buffer {
  if (!Number.isSafeInteger(pos) || pos < 0 || pos + len > file.size) throw corrupt(file.path, `${what} at ${pos} (${len} bytes) lies beyond the end of the file (${file.size} bytes)`);
  const b = Buffer.allocUnsafe(len);
  if (file.readInto(b, 0, len, pos) !== len) throw corrupt(file.path, `${what} at ${pos} could not be read in full`);
  return b;
}

const PAGE_BYTES = 64 * 1024;

/**
 * A table of fixed-size entries at `offset` in `file`, loaded 64 KiB at a time on demand through a shared cache.
 * An entry past the table's declared end is a programming error; one past the end of the file is `corrupt`.
 */
export class PagedTable {
  constructor(private readonly file: LayerFile, private readonly offset: number, readonly count: number,
    private readonly entrySize: number, private readonly cache: ByteLru<string, Buffer>, private readonly what: string) {
    if (!Number.isSafeInteger(offset) || offset < 0) throw corrupt(file.path, `${what} offset ${offset}`);
  }

  /** The page holding entry `i` and the entry's byte offset in it. */
  async at(i: number): Promise<[Buffer, number]> {
    if (!Number.isSafeInteger(i) || i < 0 || i >= this.count) throw new RangeError(`${this.what} entry ${i} of ${this.count}`);
    const perPage = PAGE_BYTES / this.entrySize;
    const page = Math.floor(i / perPage);
    const buf = await this.cache.through(`${this.what}@${this.offset}#${page}`, () => {
      const first = page * perPage;
      const n = Math.min(perPage, this.count - first) * this.entrySize;
      const pos = this.offset + first * this.entrySize;
      const b = Buffer.alloc(n);
      const got = pos < this.file.size ? this.file.readInto(b, 0, n, pos) : 0;
      return got === n ? b : b.subarray(0, got);
    });
    const at = (i % perPage) * this.entrySize;
    if (at + this.entrySize > buf.length) throw corrupt(this.file.path, `${this.what} entry ${i} lies beyond the end of the file`);
    return [buf, at];
  }
}

/** What inspection learned about one layer (ImageInfo and ParsedImage both fit). */
export interface LayerFacts {
  format: string;
  subtype: 'fixed' | 'dynamic' | 'differencing' | null;
  virtualSize: number;
  blockSize: number | null;
  logicalSectorSize: number;
  details?: Record<string, unknown>;
}

/** A u64 as a number when it is a safe integer, else null. */
export function u64(v: bigint): number | null {
  return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : null;
}
