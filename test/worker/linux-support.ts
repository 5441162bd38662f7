// Helpers for the Linux engine/volume tests: image makers (qemu-img, qemu-io), leak checks covering everything
// the engines create (loop devices, FUSE mounts, daemons, scratch folders), and clean-up that always runs.
import * as assert from 'assert';
import * as cp from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { ResponseError } from 'vscode-jsonrpc';
import * as P from '../../src/common/protocol';
import { openDisk } from '../../src/formats/open-disk';
import { WorkerClient } from '../../src/host/worker-client';
import { forceDetachUnder, isRoot, loopsUnder, newClient, tmpDir } from '../support/worker';

export function need(tool: string, pkg: string): string {
  for (const d of ['/usr/bin', '/usr/sbin', '/bin', '/sbin']) if (fs.existsSync(`${d}/${tool}`)) return `${d}/${tool}`;
  assert.fail(`${tool} is not installed (apt-get install ${pkg}); this test needs it`);
}

export function qemuImg(args: string[]): string {
  return cp.execFileSync(need('qemu-img', 'qemu-utils'), args, { encoding: 'utf8' });
}

/** Writes `pattern` bytes at `offset` into an image through qemu (so the image's own format is honoured). */
export function qemuWrite(img: string, fmt: string, pattern: number, offset: number, len: number): void {
  cp.execFileSync(need('qemu-io', 'qemu-utils'), ['-f', fmt, '-c', `write -P 0x${pattern.toString(16)} ${offset} ${len}`, img], { stdio: 'ignore' });
}

/** The image's virtual disk as raw bytes (qemu-img convert), for comparing what went through the device. */
export function rawOf(img: string, fmt: string, dir: string): Buffer {
  const out = path.join(dir, `raw-${Date.now()}-${Math.random().toString(36).slice(2)}.raw`);
  qemuImg(['convert', '-f', fmt, '-O', 'raw', img, out]);
  try { return fs.readFileSync(out); } finally { fs.rmSync(out, { force: true }); }
}

export function readDevice(device: string, offset: number, length: number): Buffer {
  const fd = fs.openSync(device, 'r');
  try { const b = Buffer.alloc(length); fs.readSync(fd, b, 0, length, offset); return b; } finally { fs.closeSync(fd); }
}

export function writeDevice(device: string, offset: number, data: Buffer): void {
  const fd = fs.openSync(device, 'r+');
  try { fs.writeSync(fd, data, 0, data.length, offset); fs.fsyncSync(fd); } finally { fs.closeSync(fd); }
}

export const RUN_DIR = process.env.VDISK_RUN_DIR ?? '/run/vdisk';

/** Daemons whose command line mentions `marker` (qemu-storage-daemon / vhdimount / vdisk's fuse-server.js started for files under a dir). */
export function sha(b: Buffer): string { return crypto.createHash('sha256').update(b).digest('hex'); }

/** sha256 of a whole block device, read in 4 MiB pieces. */
export function deviceSha(device: string): string {
  const h = crypto.createHash('sha256');
  const fd = fs.openSync(device, 'r');
  try {
    const b = Buffer.alloc(4 << 20);
    for (let n; (n = fs.readSync(fd, b, 0, b.length, null)) > 0;) h.update(b.subarray(0, n));
  } finally { fs.closeSync(fd); }
  return h.digest('hex');
}

/** The whole virtual disk as vdisk's block layer reads it. */
export async function openDiskBytes(img: string): Promise<Buffer> {
  const disk = await openDisk(img);
  try {
    const b = Buffer.alloc(disk.size);
    assert.strictEqual(await disk.read(b, 0), disk.size);
    return b;
  } finally { await disk.close(); }
}

/** The log of the FUSE server (vdisk-fuse) under a loop device: next to the export file the device reads. */
export function serverLog(device: string): string {
  const exp = fs.readFileSync(`/sys/block/${path.basename(device)}/loop/backing_file`, 'utf8').trim();
  return fs.readFileSync(path.join(path.dirname(exp), 'log'), 'utf8');
}

export function daemonsMentioning(marker: string): number[] {
  const out: number[] = [];
  for (const n of fs.readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const stat = fs.readFileSync(`/proc/${n}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue;
      const argv = fs.readFileSync(`/proc/${n}/cmdline`, 'utf8');
      if (/qemu-storage-daemon|vhdimount|fuse-server\.js|fuseiso|ntfs-3g|fusefat/.test(argv) && argv.includes(marker)) out.push(Number(n));
    } catch { /* gone */ }
  }
  return out;
}

/** The daemon serving one of our engine disks, from the worker's record (its command line names fds, not the image). */
export function daemonOf(device: string): number {
  const r = JSON.parse(fs.readFileSync(path.join(RUN_DIR, 'disks', `${path.basename(device)}.json`), 'utf8')) as { resources?: { pid?: number } };
  assert.ok(r.resources?.pid, `no daemon recorded for ${device}`);
  return r.resources.pid;
}

/** Resolves once `pid` has exited (a zombie counts as exited): waits on the process, never on a fixed delay. */
export async function exited(pid: number): Promise<void> {
  const gone = () => {
    try { const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8'); return /^[ZX]/.test(s.slice(s.lastIndexOf(')') + 2)); } catch { return true; }
  };
  while (!gone()) await new Promise((r) => setTimeout(r, 10));
}

/**
 * Kills the worker with SIGKILL while `send()`'s request is certainly pending in it: the worker is stopped
 * (SIGSTOP) before the request is sent, so it can neither answer nor finish first. Returns the request's promise.
 */
export async function killDuring<T>(client: WorkerClient, send: () => Promise<T>): Promise<T> {
  const pid = client.pid!;
  process.kill(pid, 'SIGSTOP');
  const pending = send();
  pending.catch(() => undefined); // asserted by the caller
  await new Promise((r) => setImmediate(r)); // the request is written to the worker's channel
  process.kill(pid, 'SIGKILL');
  return pending;
}

/** FUSE/volume mounts under the given folders (the worker's run dir, a test's mount root). */
export function mountsUnder(...dirs: string[]): string[] {
  const text = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  return text.split('\n').map((l) => (l.split(' ')[4] ?? '').replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))))
    .filter((mp) => dirs.some((d) => mp === d || mp.startsWith(`${d}/`)));
}

/** Loop devices sitting on our engines' export files or on other loop devices (partition loops). */
export function engineLoops(): string[] {
  const out: string[] = [];
  for (const n of fs.readdirSync('/sys/block').filter((x) => /^loop\d+$/.test(x))) {
    try {
      const b = fs.readFileSync(`/sys/block/${n}/loop/backing_file`, 'utf8').trim();
      if (b.startsWith(`${RUN_DIR}/engines/`)) out.push(`/dev/${n}`);
    } catch { /* unbound */ }
  }
  return out;
}

export function engineDirs(): string[] {
  try { return fs.readdirSync(path.join(RUN_DIR, 'engines')); } catch { return []; }
}

export interface Leaks { loops: string[]; engineLoops: string[]; mounts: string[]; daemons: number[]; scratch: string[] }

export function leaks(dir: string, mountRoot?: string): Leaks {
  return {
    loops: loopsUnder(dir),
    engineLoops: engineLoops(),
    mounts: mountsUnder(`${RUN_DIR}/engines`, `${RUN_DIR}/mnt`, ...(mountRoot ? [mountRoot] : [])),
    daemons: [...new Set(daemonsMentioning(RUN_DIR).concat(daemonsMentioning(dir)))],
    scratch: engineDirs(),
  };
}

export const NO_LEAKS: Leaks = { loops: [], engineLoops: [], mounts: [], daemons: [], scratch: [] };

/** Waits (up to `ms`) until nothing is left; returns what is left. */
export async function settle(dir: string, mountRoot?: string, ms = 8000): Promise<Leaks> {
  const end = Date.now() + ms;
  let l = leaks(dir, mountRoot);
  while (JSON.stringify(l) !== JSON.stringify(NO_LEAKS) && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 50));
    l = leaks(dir, mountRoot);
  }
  return l;
}

/** Removes whatever a failed test left (mounts, partition and disk loops, daemons, scratch folders). Never throws. */
export function forceCleanup(dir: string, mountRoot?: string): void {
  const run = (f: string, a: string[]) => { try { cp.execFileSync(f, a, { stdio: 'ignore', timeout: 10_000 }); } catch { /* best effort */ } };
  for (const m of mountsUnder(`${RUN_DIR}/mnt`, ...(mountRoot ? [mountRoot] : []), dir).reverse()) run('umount', ['-l', m]);
  // loops on loops first (partitions), then disks
  const disks = new Set([...loopsUnder(dir), ...engineLoops()]);
  for (const n of fs.readdirSync('/sys/block').filter((x) => /^loop\d+$/.test(x))) {
    try { if (disks.has(fs.readFileSync(`/sys/block/${n}/loop/backing_file`, 'utf8').trim())) run('losetup', ['-d', `/dev/${n}`]); } catch { /* unbound */ }
  }
  for (const d of engineLoops()) run('losetup', ['-d', d]);
  forceDetachUnder(dir);
  for (const pid of daemonsMentioning(RUN_DIR).concat(daemonsMentioning(dir))) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
  for (const m of mountsUnder(`${RUN_DIR}/engines`).reverse()) run('umount', ['-l', m]);
  for (const e of engineDirs()) { try { fs.rmSync(path.join(RUN_DIR, 'engines', e), { recursive: true, force: true }); } catch { /* busy */ } }
}

export const rejectsWith = (code: P.ErrorCode, re: RegExp, reason?: string) => (e: unknown) => {
  assert.ok(e instanceof ResponseError, String(e));
  assert.strictEqual(e.code, code, `${P.ErrorCode[e.code]}: ${e.message}`);
  assert.match(e.message, re);
  if (reason) assert.strictEqual((e.data as P.ErrorData).reason, reason);
  return true;
};

/**
 * The hooks every device suite needs: skip unless root (CI is), a fresh temp folder and worker client per test,
 * and afterwards a stop, a leak check (loop devices, engine loops, FUSE mounts, daemons, scratch) and a forced clean-up.
 * `set` hands the folder and client to the suite's own variables; `current` returns the client to stop (tests may swap it).
 */
export function deviceSuite(prefix: string, set: (dir: string, client: WorkerClient) => void, current: () => WorkerClient,
  o: { before?: (ctx: Mocha.Context) => void } = {}): void {
  let dir = '';
  before(function () {
    if (!isRoot) { console.log('    (these tests need root for loop devices; CI runs as root)'); this.skip(); }
    o.before?.(this);
  });
  beforeEach(() => { dir = tmpDir(prefix); set(dir, newClient()); });
  afterEach(async () => {
    await current().stop();
    const left = await settle(dir);
    forceCleanup(dir);
    fs.rmSync(dir, { recursive: true, force: true });
    assert.deepStrictEqual(left, NO_LEAKS, 'a test left something behind');
  });
}
