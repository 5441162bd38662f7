// The few libc calls Node does not offer, through koffi. Loaded lazily: only the Linux worker uses it.
import type * as KoffiNS from 'koffi';

type Koffi = typeof KoffiNS;
export interface Libc {
  koffi: Koffi;
  /** The C library itself, for modules that bind calls of their own (mount, splice, getsockopt...). */
  lib: KoffiNS.LibraryHandle;
  /** ioctl(fd, request) with no argument. */
  ioctl0(fd: number, request: number): number;
  /** ioctl(fd, request, (type) value): the variadic third argument with its koffi type. */
  ioctl(fd: number, request: number, type: unknown, value: unknown): number;
  errno(): number;
  strerror(errno: number): string;
  /** lseek(fd, offset, whence); -1 with errno set on failure (ENXIO: no data after offset for SEEK_DATA). */
  lseek(fd: number, offset: number, whence: number): number;
}

let libc: Libc | undefined;

export function loadLibc(): Libc {
  if (libc) return libc;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const koffi: Koffi = require('koffi');
  let lib: KoffiNS.LibraryHandle;
  try { lib = koffi.load('libc.so.6'); } catch { lib = koffi.load('libc.so'); } // glibc, then musl
  // ioctl is variadic in glibc: declare it so and pass (type, value) pairs
  const ioctlFn = lib.func('int ioctl(int fd, unsigned long request, ...)');
  const strerrorFn = lib.func('const char *strerror(int errnum)');
  const lseekFn = lib.func('int64_t lseek(int fd, int64_t offset, int whence)');
  libc = {
    koffi,
    lib,
    ioctl0: (fd, request) => ioctlFn(fd, request) as number,
    ioctl: (fd, request, type, value) => ioctlFn(fd, request, type, value) as number,
    errno: () => koffi.errno(),
    strerror: (e) => strerrorFn(e) as string,
    lseek: (fd, offset, whence) => Number(lseekFn(fd, offset, whence)),
  };
  return libc;
}

/**
 * SEEK_DATA/SEEK_HOLE for the writers (formats/manage/initialise.ts): -1 when there is no more data (ENXIO); throws
 * on other errors (a file system without SEEK_DATA support still answers, treating the whole file as data).
 */
export function seekData(fd: number, offset: number, whence: 3 | 4): number {
  const c = loadLibc();
  const r = c.lseek(fd, offset, whence);
  if (r >= 0) return r;
  const e = c.errno();
  if (e === 6 /* ENXIO */) return -1;
  throw new Error(`lseek(${whence === 3 ? 'SEEK_DATA' : 'SEEK_HOLE'}): ${c.strerror(e)}`);
}
