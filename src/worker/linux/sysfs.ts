// What the kernel says about loop devices, from sysfs: every attached one, whoever attached it.
import * as fs from 'fs';

export interface LoopInfo {
  device: string;
  /** Backing file path as the kernel sees it; `deleted` when the file was unlinked while attached. */
  backingFile: string;
  deleted: boolean;
  offset: number;
  sizeLimit: number;
  autoclear: boolean;
  partscan: boolean;
  readOnly: boolean;
  sizeBytes: number;
  /** "major:minor" of the block device. */
  devNo: string;
}

const SYS_BLOCK = '/sys/block';

function read(p: string): string | undefined {
  try { return fs.readFileSync(p, 'utf8').trim(); } catch { return undefined; }
}

/** The file a loop device is bound to, as the kernel names it (without " (deleted)"), or undefined when unbound. */
export function loopBackingFile(device: string): string | undefined {
  return backingOf(devName(device))?.file;
}

/** A block device's size in bytes (0 when unknown). */
export function loopSizeBytes(device: string): number {
  return Number(read(`${SYS_BLOCK}/${devName(device)}/size`) ?? 0) * 512;
}

function backingOf(name: string): { file: string; deleted: boolean } | undefined {
  // backing_file is a raw byte string; a newline in a file name survives only up to the trailing one we trim
  let backing: string;
  try { backing = fs.readFileSync(`${SYS_BLOCK}/${name}/loop/backing_file`, 'utf8').replace(/\n$/, ''); } catch { return undefined; }
  const deleted = backing.endsWith(' (deleted)');
  return { file: deleted ? backing.slice(0, -' (deleted)'.length) : backing, deleted };
}

export function loopInfo(name: string): LoopInfo | undefined {
  const base = `${SYS_BLOCK}/${name}`;
  const b = backingOf(name);
  if (!b) return undefined;
  const backing = b.file, deleted = b.deleted;
  return {
    device: `/dev/${name}`,
    backingFile: backing,
    deleted,
    offset: Number(read(`${base}/loop/offset`) ?? 0),
    sizeLimit: Number(read(`${base}/loop/sizelimit`) ?? 0),
    autoclear: read(`${base}/loop/autoclear`) === '1',
    partscan: read(`${base}/loop/partscan`) === '1',
    readOnly: read(`${base}/ro`) === '1',
    sizeBytes: Number(read(`${base}/size`) ?? 0) * 512,
    devNo: read(`${base}/dev`) ?? '',
  };
}

/** Every bound loop device, sorted by number. */
export function listLoops(): LoopInfo[] {
  let names: string[];
  try { names = fs.readdirSync(SYS_BLOCK).filter((n) => /^loop\d+$/.test(n)); } catch { return []; }
  return names
    .sort((a, b) => Number(a.slice(4)) - Number(b.slice(4)))
    .map(loopInfo)
    .filter((x): x is LoopInfo => x !== undefined);
}

/** Mount points of a block device ("major:minor"), from /proc/self/mountinfo. */
export function mountsOf(devNo: string): string[] {
  const text = read('/proc/self/mountinfo') ?? '';
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    if (f[2] === devNo) out.push(unescapeMountPath(f[4]));
  }
  return out;
}

/** Devices holding this one (device-mapper, partitions' users) from /sys/block/X/holders. */
export function holdersOf(name: string): string[] {
  try { return fs.readdirSync(`${SYS_BLOCK}/${name}/holders`); } catch { return []; }
}

function unescapeMountPath(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** "loop3" for "/dev/loop3" (sysfs names block devices without /dev/). */
export function devName(device: string): string {
  return device.replace(/^\/dev\//, '');
}

/** loopInfo by device path. */
export function loopInfoOf(device: string): LoopInfo | undefined {
  return loopInfo(devName(device));
}

/** Whether the kernel still binds a loop device to a file (one stat; the full loopInfo is not needed). */
export function isBound(device: string): boolean {
  return fs.existsSync(`${SYS_BLOCK}/${devName(device)}/loop/backing_file`);
}

/**
 * Waits until none of `devices` is bound. The kernel unbinds synchronously when we were the last opener; FUSE
 * helpers and udev-style openers take a moment. False when one is still bound after `ms`.
 */
export async function waitUnbound(devices: string[], ms = 3000): Promise<boolean> {
  const start = Date.now();
  for (let i = 0; ; i++) {
    if (!devices.some(isBound)) return true;
    const waited = Date.now() - start;
    if (waited > ms) return false;
    // mostly it is udev's probe of the new device (a few ms) that holds it: look again at once, then every
    // millisecond for the first 50 ms, then every 20 ms (a 20 ms first step made half the detaches 10x slower)
    await new Promise((r) => (i === 0 ? setImmediate(r) : setTimeout(r, waited < 50 ? 1 : 20)));
  }
}

/** "major:minor" of any block device (a loop device or a partition the kernel made), or undefined when gone. */
export function blockDevNo(device: string): string | undefined {
  return read(`/sys/class/block/${devName(device)}/dev`);
}

/** The byte offset a loop device starts at in its backing file, or null when it is not bound. */
export function loopOffset(device: string): number | null {
  const s = read(`${SYS_BLOCK}/${devName(device)}/loop/offset`);
  return s === undefined ? null : Number(s);
}
