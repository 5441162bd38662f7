// /proc/self/mountinfo, parsed: which mount holds a file (by the file's st_dev and the longest mount-point
// prefix), and which mounts a block device backs.
import * as fs from 'fs';
import * as path from 'path';

export interface MountEntry {
  mountPoint: string;
  /** "major:minor" of the mounted file system (st_dev of every file on it). */
  devNo: string;
  /** The folder of that file system this mount shows (bind mounts show a subfolder). */
  root: string;
  fsType: string;
  source: string;
}

const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

export function readMountInfo(): MountEntry[] {
  let text = '';
  try { text = fs.readFileSync('/proc/self/mountinfo', 'utf8'); } catch { return []; }
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    const dash = f.indexOf('-');
    if (f.length < 10 || dash < 6) continue;
    out.push({ devNo: f[2], root: unescape(f[3]), mountPoint: unescape(f[4]), fsType: f[dash + 1], source: unescape(f[dash + 2] ?? '') });
  }
  return out;
}

export function devNoOf(st: fs.Stats, which: 'dev' | 'rdev' = 'dev'): string {
  const d = which === 'dev' ? st.dev : st.rdev;
  // glibc's major/minor encoding of a 64-bit dev_t
  const major = ((d >>> 8) & 0xfff) | (Math.floor(d / 2 ** 32) & ~0xfff);
  const minor = (d & 0xff) | ((d >>> 12) & ~0xff);
  return `${major}:${minor}`;
}

/** The mount that holds `file` (its real path), or null. The last matching line wins (mounts stack). */
export function hostMountOf(file: string, mounts = readMountInfo()): MountEntry | null {
  let real: string;
  let st: fs.Stats;
  try { real = fs.realpathSync(file); st = fs.statSync(real); } catch { return null; }
  const dev = devNoOf(st);
  let best: MountEntry | null = null;
  for (const m of mounts) {
    if (m.devNo !== dev) continue;
    const inside = m.mountPoint === '/' || real === m.mountPoint || real.startsWith(m.mountPoint + '/');
    if (inside && (!best || m.mountPoint.length >= best.mountPoint.length)) best = m;
  }
  return best;
}

/** `file` relative to the mount's folder, as Windows gives DependentVolumeRelativePath (no leading separator). */
export function relativeTo(m: MountEntry, file: string): string {
  let real = file;
  try { real = fs.realpathSync(file); } catch { /* deleted */ }
  return path.relative(m.mountPoint, real);
}

/** The block device behind a mount, when there is one ("/dev/vda1"), from its devNo. */
export function blockDeviceOf(devNo: string): string | null {
  try {
    const link = fs.readlinkSync(`/sys/dev/block/${devNo}`);
    return `/dev/${path.basename(link)}`;
  } catch { return null; }
}

/** True when the block device (or the disk it is a partition of) is removable. */
export function removable(devNo: string): boolean {
  try {
    const dir = fs.realpathSync(`/sys/dev/block/${devNo}`);
    for (const d of [dir, path.dirname(dir)]) {
      try { if (fs.readFileSync(`${d}/removable`, 'utf8').trim() === '1') return true; } catch { /* no such attribute */ }
    }
  } catch { /* not a block device */ }
  return false;
}
