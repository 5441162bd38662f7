// mount(2) and umount2(2) for the FUSE server, through koffi (Node has neither).
import type * as KoffiNS from 'koffi';
import { loadLibc } from '../libc';

export const MS_RDONLY = 1, MS_NOSUID = 2, MS_NODEV = 4, MS_NOEXEC = 8;
export const MNT_DETACH = 2;

type Fn = (...args: unknown[]) => unknown;
let fns: { mount: Fn; umount2: Fn; koffi: typeof KoffiNS; strerror: (errno: number) => string } | undefined;

function libc() {
  if (fns) return fns;
  const { koffi, lib } = loadLibc();
  fns = {
    koffi,
    mount: lib.func('int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data)') as Fn,
    umount2: lib.func('int umount2(const char *target, int flags)') as Fn,
    strerror: (e: number) => loadLibc().strerror(e),
  };
  return fns;
}

/** Mounts the FUSE connection `fuseFd` on `target` (a regular file: the export), read-only. Throws with errno's text. */
export function mountFuseFile(fuseFd: number, target: string, maxRead: number, uid: number, gid: number): void {
  const l = libc();
  // rootmode 100000: the root is a regular file; default_permissions: the kernel checks its mode (0400, root's)
  const data = `fd=${fuseFd},rootmode=100000,user_id=${uid},group_id=${gid},default_permissions,allow_other,max_read=${maxRead}`;
  if ((l.mount('vdisk', target, 'fuse.vdisk', MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, data) as number) !== 0) {
    const errno = l.koffi.errno();
    throw Object.assign(new Error(`mount ${target}: ${l.strerror(errno)}`), { errno });
  }
}

/** Lazy unmount (the loop device on the export may still hold it); true when done or already gone. */
export function detachMount(target: string): boolean {
  const l = libc();
  return (l.umount2(target, MNT_DETACH) as number) === 0;
}

/** Loads koffi and libc's calls ahead of time (a spare server: its attach then does not wait for them). */
export function loadMountCalls(): void { libc(); }
