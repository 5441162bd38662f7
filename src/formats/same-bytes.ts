// Whether a file still holds exactly the bytes an earlier parse read: same size, and every range read then compared
// byte for byte now. A parse (inspect-one.ts) is a function of those bytes, the size and the path, so when they are all
// equal its answer still holds although the file's mtime or ctime moved (a `touch`, a VM that opened it and wrote
// nothing, a copy that kept the content). Re-reading and comparing costs a few preads and a memcmp per layer; parsing
// again costs the checksums and every object of the answer.
import * as fs from 'fs';
import { readFullyAt } from './layer-files';
import { notifyReads, ReadRange, stampOf } from './reader';

/**
 * The ranges of one parse, packed for keeping (two objects per layer, whatever the number of ranges, so a full cache
 * adds little to the worker's garbage collection): `at` holds offset, kept length and zero-tail length per range,
 * `bytes` the kept bytes back to back.
 */
export interface KeptBytes { readonly at: Float64Array; readonly bytes: Buffer }

export function keepBytes(ranges: readonly ReadRange[]): KeptBytes {
  const at = new Float64Array(ranges.length * 3);
  ranges.forEach((r, i) => { at[3 * i] = r.offset; at[3 * i + 1] = r.bytes.length; at[3 * i + 2] = r.zeros; });
  return { at, bytes: Buffer.concat(ranges.map((r) => r.bytes)) };
}

/** The ranges kept, as views into `kept.bytes`. */
export function keptRanges(kept: KeptBytes): ReadRange[] {
  const out: ReadRange[] = [];
  for (let i = 0, b = 0; i < kept.at.length; i += 3) {
    const k = kept.at[i + 1];
    out.push({ offset: kept.at[i], bytes: kept.bytes.subarray(b, b + k), zeros: kept.at[i + 2] });
    b += k;
  }
  return out;
}

let scratch = Buffer.allocUnsafe(64 * 1024);
const ZEROS = Buffer.alloc(64 * 1024);

/** Whether buf[from, to) is all zeros: native compares, 64 KiB at a time. */
function allZero(buf: Buffer, from: number, to: number): boolean {
  for (let at = from; at < to; at += ZEROS.length) {
    const n = Math.min(ZEROS.length, to - at);
    if (ZEROS.compare(buf, at, at + n, 0, n) !== 0) return false;
  }
  return true;
}

/**
 * Opens `file` read-only and compares with what was kept. Returns the file's stamp as opened (RangeReader.stamp's form) when its size is
 * `size` and every range holds the same bytes; null when anything differs or the file cannot be read as a regular file.
 */
export function sameBytes(file: string, size: number, kept: KeptBytes): string | null {
  let fd: number;
  try { fd = fs.openSync(file, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0)); } catch { return null; }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile() || st.size !== size) return null;
    for (let i = 0, b = 0; i < kept.at.length; i += 3) {
      const offset = kept.at[i], k = kept.at[i + 1], n = k + kept.at[i + 2];
      if (scratch.length < n) scratch = Buffer.allocUnsafe(n);
      const got = readFullyAt(fd, scratch, 0, n, offset);
      notifyReads(file, offset, got);
      if (got !== n || kept.bytes.compare(scratch, 0, k, b, b + k) !== 0 || !allZero(scratch, k, n)) return null;
      b += k;
    }
    return stampOf(st);
  } catch {
    return null;
  } finally {
    fs.closeSync(fd);
  }
}
