// Zero-copy READ replies (as libfuse's fuse_reply_data with splice): the reply header is written into a pipe, the
// layer file's range is spliced into the pipe after it (page-cache pages by reference, no copy), and the pipe is
// spliced whole to /dev/fuse, where the kernel copies the pages once into the reader's. The data never enters
// JavaScript memory. One Splicer per serving thread (its own pipe); through koffi (Node has no splice).
import * as fs from 'fs';
import type * as KoffiNS from 'koffi';
import { OUT_HEADER } from './kernel';
import { loadLibc } from '../libc';

const F_SETPIPE_SZ = 1031, F_GETPIPE_SZ = 1032, O_CLOEXEC = 0o2000000;
const PAGE = 4096;

type Fn = (...args: unknown[]) => unknown;
interface Libc { koffi: typeof KoffiNS; splice: Fn; pipe2: Fn; fcntl: Fn; close: Fn }
let libc: Libc | undefined;

function load(): Libc {
  if (libc) return libc;
  const { koffi, lib } = loadLibc();
  libc = {
    koffi,
    splice: lib.func('int64_t splice(int fd_in, void *off_in, int fd_out, void *off_out, size_t len, unsigned int flags)') as Fn,
    pipe2: lib.func('int pipe2(_Out_ int *fds, int flags)') as Fn,
    fcntl: lib.func('int fcntl(int fd, int cmd, ...)') as Fn,
    close: lib.func('int close(int fd)') as Fn, // Node warns when its fs closes an fd it did not open
  };
  return libc;
}

/** Pipe slots a reply of `len` bytes from file position `pos` takes: one for the header, one per page touched. */
const slots = (pos: number, len: number) => 1 + Math.ceil(((pos % PAGE) + len) / PAGE);

/** A new pipe as large as this process may make it (up to `bytes`): [read end, write end, capacity in bytes]. */
function makePipe(l: Libc, bytes: number): [number, number, number] {
  const fds = new Int32Array(2);
  if ((l.pipe2(fds, O_CLOEXEC) as number) !== 0) throw new Error(`pipe2: errno ${l.koffi.errno()}`);
  // without CAP_SYS_RESOURCE a pipe grows to /proc/sys/fs/pipe-max-size (1 MiB by default) at most
  for (let want = 1 << Math.ceil(Math.log2(bytes)); want > PAGE; want >>= 1) {
    if ((l.fcntl(fds[1], F_SETPIPE_SZ, 'int', want) as number) >= 0) break;
  }
  return [fds[0], fds[1], l.fcntl(fds[1], F_GETPIPE_SZ, 'int', 0) as number];
}

/**
 * The largest read (a multiple of the page size, at most `maxRead`) whose page-aligned reply fits one pipe here, or
 * null when replies cannot be spliced (no koffi, pipes too small to be worth it). The server asks the kernel for
 * reads of this size when it splices: 1 MiB pipes hold a header and 255 pages.
 */
export function spliceMaxRead(maxRead: number): number | null {
  try {
    const l = load();
    const [r, w, cap] = makePipe(l, OUT_HEADER + maxRead + PAGE);
    l.close(r); l.close(w);
    const fit = Math.min(maxRead - (maxRead % PAGE), (cap / PAGE - 1) * PAGE);
    return fit >= 64 * 1024 ? fit : null;
  } catch { return null; }
}

/** What a splice reply came to: sent; not sent but the normal path may answer (nothing reached the kernel); the connection is gone. */
export type SpliceResult = 'sent' | 'fallback' | 'gone';

const ENOENT = 2, EINTR = 4, EAGAIN = 11, ENODEV = 19;

export class Splicer {
  private pipe: [number, number] | null = null;
  /** Pages the pipe holds (256 for a 1 MiB pipe); a reply needs one for its header and one per page it touches. */
  slots = 0;
  private readonly off = Buffer.alloc(8);
  private readonly head = Buffer.alloc(OUT_HEADER);
  private readonly l: Libc;

  /** Throws when splice cannot be set up here (no koffi, no pipe of `maxRead` bytes): the caller serves without it. */
  constructor(private readonly fuseFd: number, private readonly maxRead: number) {
    this.l = load();
    this.open();
  }

  private open(): void {
    const [r, w, cap] = makePipe(this.l, OUT_HEADER + this.maxRead + PAGE);
    this.pipe = [r, w];
    this.slots = cap / PAGE;
    if (this.slots < slots(0, this.maxRead)) {
      this.close();
      throw new Error(`a pipe of ${cap} bytes cannot hold a ${this.maxRead}-byte reply`);
    }
  }

  /** Sends the reply to request `unique`: `len` bytes of file `fd` at `pos`, all of which exist in the file. */
  reply(unique: bigint, fd: number, pos: number, len: number): SpliceResult {
    // a reply that would not fit the pipe would block this thread forever: an unaligned range takes one page more
    if (!this.pipe || slots(pos, len) > this.slots) return 'fallback';
    const [r, w] = this.pipe;
    this.head.writeUInt32LE(OUT_HEADER + len, 0);
    this.head.writeInt32LE(0, 4);
    this.head.writeBigUInt64LE(unique, 8);
    try { if (fs.writeSync(w, this.head) !== OUT_HEADER) return this.reset('fallback'); } catch { return this.reset('fallback'); }
    let done = 0;
    while (done < len) {
      this.off.writeBigInt64LE(BigInt(pos + done), 0);
      const n = Number(this.l.splice(fd, this.off, w, null, len - done, 0));
      if (n > 0) { done += n; continue; }
      const errno = n < 0 ? this.l.koffi.errno() : 0;
      if (n < 0 && (errno === EINTR || errno === EAGAIN)) continue;
      return this.reset('fallback'); // end of file or a read error: the normal path reads (and reports) it
    }
    for (;;) {
      const n = Number(this.l.splice(r, null, this.fuseFd, null, OUT_HEADER + len, 0));
      if (n === OUT_HEADER + len) return 'sent';
      const errno = n < 0 ? this.l.koffi.errno() : 0;
      if (n < 0 && errno === EINTR) continue;
      if (errno === ENODEV) return this.reset('gone');
      // ENOENT: the request was interrupted meanwhile and the kernel dropped it; anything else: the pipe may hold a
      // part of this reply, so a fresh pipe serves the next one
      return this.reset(errno === ENOENT ? 'sent' : 'fallback');
    }
  }

  private reset(r: SpliceResult): SpliceResult {
    this.close();
    if (r !== 'gone') { try { this.open(); } catch { this.pipe = null; } }
    return r;
  }

  close(): void {
    if (!this.pipe) return;
    for (const fd of this.pipe) this.l.close(fd);
    this.pipe = null;
  }
}
