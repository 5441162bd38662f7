// Whether a file still holds exactly the bytes an earlier parse read: same size, and every range read then compared
// byte for byte now. A parse (inspect-one.ts) is a function of those bytes, the size and the path, so when they are all
// equal its answer still holds although the file's mtime or ctime moved (a `touch`, a VM that opened it and wrote
// nothing, a copy that kept the content). Re-reading and comparing costs a few preads and a memcmp per layer; parsing
// again costs the checksums and every object of the answer.
import * as fs from 'fs';
import { readFullyAt } from './layer-files';
import { notifyReads, ReadRange, stampOf } from './reader';

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
 * Opens `file` read-only and compares. Returns the file's stamp as opened (RangeReader.stamp's form) when its size is
 * `size` and every range holds the same bytes; null when anything differs or the file cannot be read as a regular file.
 */
export function sameBytes(file: string, size: number, ranges: readonly ReadRange[]): string | null {
  let fd: number;
  try { fd = fs.openSync(file, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0)); } catch { return null; }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile() || st.size !== size) return null;
    for (const r of ranges) {
      const k = r.bytes.length, n = k + r.zeros;
      if (scratch.length < n) scratch = Buffer.allocUnsafe(n);
      const got = readFullyAt(fd, scratch, 0, n, r.offset);
      notifyReads(file, r.offset, got);
      if (got !== n || r.bytes.compare(scratch, 0, k) !== 0 || !allZero(scratch, k, n)) return null;
    }
    return stampOf(st);
  } catch {
    return null;
  } finally {
    fs.closeSync(fd);
  }
}
