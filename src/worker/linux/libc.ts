// The few libc calls Node does not offer, through koffi. Loaded lazily: only the Linux worker uses it.
import type * as KoffiNS from 'koffi';

type Koffi = typeof KoffiNS;
export interface Libc {
  koffi: Koffi;
  /** ioctl(fd, request) with no argument. */
  ioctl0(fd: number, request: number): number;
  /** ioctl(fd, request, (type) value): the variadic third argument with its koffi type. */
  ioctl(fd: number, request: number, type: unknown, value: unknown): number;
  errno(): number;
  strerror(errno: number): string;
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
  libc = {
    koffi,
    ioctl0: (fd, request) => ioctlFn(fd, request) as number,
    ioctl: (fd, request, type, value) => ioctlFn(fd, request, type, value) as number,
    errno: () => koffi.errno(),
    strerror: (e) => strerrorFn(e) as string,
  };
  return libc;
}
