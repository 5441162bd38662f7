// Output files of create / convert: written to a temporary file next to the destination and put in place only
// when complete, so a failure or a cancel never leaves a half-written image (and never replaces an existing one
// unless asked: link() refuses an existing name atomically, rename() replaces it only with `force`).
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { FormatError } from '../errors';

export interface Progress {
  /** Called with bytes done of total; may be called often. */
  report?(done: number, total: number): void;
  /** True once the user cancelled; long loops check it between chunks. */
  cancelled?(): boolean;
}

export class CancelledError extends Error {
  constructor() { super('cancelled'); this.name = 'CancelledError'; }
}

export function checkCancel(p: Progress | undefined): void {
  if (p?.cancelled?.()) throw new CancelledError();
}

export interface Output {
  fh: fs.promises.FileHandle;
  tmp: string;
  /** Writes `buf` at `offset` in full. */
  write(buf: Uint8Array, offset: number): Promise<void>;
}

/** Runs `fill` on a new temporary file next to `dest`, then syncs and moves it to `dest`; removes it on any failure. */
export async function writeOutput(dest: string, force: boolean, fill: (out: Output) => Promise<void>): Promise<void> {
  const abs = path.resolve(dest);
  if (!force && fs.existsSync(abs)) throw new FormatError('exists', `${abs} already exists; it will not be overwritten`);
  if (force && fs.existsSync(abs) && !fs.statSync(abs).isFile()) throw new FormatError('exists', `${abs} exists and is not a regular file`);
  const tmp = path.join(path.dirname(abs), `.${path.basename(abs)}.vdisk-${crypto.randomBytes(4).toString('hex')}.tmp`);
  const out: Output = { fh: await fs.promises.open(tmp, 'wx', 0o644), tmp, write: async (buf, offset) => {
    let at = 0;
    while (at < buf.length) at += (await out.fh.write(buf, at, buf.length - at, offset + at)).bytesWritten;
  } };
  let done = false;
  try {
    await fill(out);
    await out.fh.sync();
    await out.fh.close();
    if (force) await fs.promises.rename(tmp, abs);
    else {
      try { await fs.promises.link(tmp, abs); } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new FormatError('exists', `${abs} appeared while it was being written; it was not overwritten`);
        throw e;
      }
      await fs.promises.unlink(tmp);
    }
    done = true;
  } finally {
    if (!done) {
      await out.fh.close().catch(() => undefined);
      await fs.promises.rm(tmp, { force: true });
    }
  }
}

const ZEROS = Buffer.alloc(4 << 20);

/** Writes zeros over [offset, offset+length): a fixed disk's data area is allocated, not a hole. */
export async function writeZeros(out: Output, offset: number, length: number, progress?: Progress): Promise<void> {
  for (let at = 0; at < length; at += ZEROS.length) {
    checkCancel(progress);
    const n = Math.min(ZEROS.length, length - at);
    await out.write(ZEROS.subarray(0, n), offset + at);
    progress?.report?.(at + n, length);
  }
}

const GRAIN = 64 * 1024;
const ZERO_GRAIN = Buffer.alloc(GRAIN);

/**
 * Writes `buf` at `offset`, leaving its all-zero 64 KiB grains unwritten: a new output file reads zeros there (a
 * hole), so a dynamic block that a file system touched in a few places costs only those places on the host.
 * Only for ranges of a new file that nothing was written to before.
 */
export async function writeSparse(out: Output, buf: Buffer, offset: number): Promise<void> {
  let runStart = -1;
  for (let at = 0; ; at += GRAIN) {
    const end = Math.min(at + GRAIN, buf.length);
    const zero = at >= buf.length || buf.subarray(at, end).equals(ZERO_GRAIN.subarray(0, end - at));
    if (at >= buf.length && runStart < 0) break;
    if (!zero && runStart < 0) runStart = at;
    if (zero && runStart >= 0) {
      await out.write(buf.subarray(runStart, Math.min(at, buf.length)), offset + runStart);
      runStart = -1;
    }
    if (at >= buf.length) break;
  }
}
