// Helpers for the daemons the engines start: liveness that ignores zombies, stopping by pid only when the
// pid still runs the program we started, FUSE unmount with fallbacks, and running tools without a shell.
import * as cp from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { ErrorCode } from '../../../common/protocol';
import { WorkerError } from '../../errors';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * True while `pid` runs. A zombie counts as gone: daemonized processes are reparented to PID 1, and some
 * inits (this project's CI VM among them) reap only every ~1.5 s, which made "daemon stop" look slow.
 */
export function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch { return false; }
}

/** The pid's argv, or null when it is gone. */
export function cmdline(pid: number): string[] | null {
  try { return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').slice(0, -1); } catch { return null; }
}

/**
 * Who a pid is, not just its number: `v1:<real uid>:<start time in clock ticks>:<digest of the exact command line>`,
 * or null when it is gone or a zombie. Recorded when we start a daemon; a pid is signalled only while it still has
 * that identity, so a reused pid, or another process whose command line merely contains our folder's name, never
 * matches. Self-contained (requires inside): the reaper runs this function's own source.
 */
export function processIdentity(pid: number): string | null {
  /* eslint-disable @typescript-eslint/no-require-imports */
  const fsm = require('fs') as typeof import('fs');
  const crypto = require('crypto') as typeof import('crypto');
  if (!Number.isInteger(pid) || pid <= 0) return null;
  try {
    const stat = fsm.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (rest[0] === 'Z' || rest[0] === 'X') return null;
    const uid = /^Uid:\s+(\d+)/m.exec(fsm.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    const cmd = fsm.readFileSync(`/proc/${pid}/cmdline`);
    if (uid === undefined || !rest[19] || cmd.length === 0) return null;
    return `v1:${uid}:${rest[19]}:${crypto.createHash('sha256').update(cmd).digest('hex').slice(0, 32)}`;
  } catch { return null; }
}

/** True when `pid` is alive with the identity recorded when we started it (processIdentity). */
export function runs(pid: number, identity: string): boolean {
  return !!identity && processIdentity(pid) === identity;
}

export async function waitFor(cond: () => boolean, timeoutMs: number, stepMs = 5): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (cond()) return true;
    if (Date.now() >= end) return false;
    await sleep(stepMs);
  }
}

/** SIGTERM, wait, SIGKILL: returns how it ended. Does nothing when the pid no longer has the identity we recorded. */
export async function stopProcess(pid: number, identity: string, timeoutMs = 5000): Promise<'gone' | 'terminated' | 'killed'> {
  if (!runs(pid, identity)) return 'gone';
  try { process.kill(pid, 'SIGTERM'); } catch { return 'gone'; }
  if (await waitFor(() => !alive(pid), timeoutMs)) return 'terminated';
  try { if (runs(pid, identity)) process.kill(pid, 'SIGKILL'); } catch { /* raced with exit */ }
  await waitFor(() => !alive(pid), 2000);
  return 'killed';
}

export interface RunResult { code: number | null; stdout: string; stderr: string }

/** execFile with a timeout; never throws for a non-zero exit (the caller decides). ENOENT is reported as code null. */
export function run(file: string, args: string[], timeoutMs = 30_000): Promise<RunResult & { missing?: boolean }> {
  return new Promise((resolve) => {
    cp.execFile(file, args, { timeout: timeoutMs, maxBuffer: 4 << 20 }, (err, stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & { code?: number | string }) | null;
      if (e && e.code === 'ENOENT') { resolve({ code: null, stdout: '', stderr: `${file}: not found`, missing: true }); return; }
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : 1) : 0, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/** Absolute path of a program, searched in the usual sbin/bin folders (the worker may run with a thin PATH). */
export function which(name: string): string | null {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];
  for (const d of dirs) {
    if (!d.startsWith('/')) continue;
    const p = `${d}/${name}`;
    try { fs.accessSync(p, fs.constants.X_OK); if (fs.statSync(p).isFile()) return p; } catch { /* next */ }
  }
  return null;
}

/** The program (a name looked up like `which`, or a path from a setting), or null when it cannot be run. */
export function findTool(name: string): string | null {
  if (!name.includes('/')) return which(name);
  try { fs.accessSync(name, fs.constants.X_OK); return fs.statSync(name).isFile() ? name : null; } catch { return null; }
}

/**
 * The program, or a MissingDependency error naming the Debian package that has it. `name` may be a path (a user
 * setting, named by `setting`): then that file must be executable, and the error names the setting.
 */
export function requireTool(name: string, pkg: string, why: string, setting?: string): string {
  if (name.includes('/')) {
    if (findTool(name)) return name;
    throw new WorkerError(ErrorCode.MissingDependency, `${why} needs ${path.basename(name)}, but ${name}${setting ? ` (setting ${setting})` : ''} is not an executable file`,
      { missing: pkg, path: name });
  }
  const p = which(name);
  if (!p) throw new WorkerError(ErrorCode.MissingDependency, `${why} needs ${name}, which is not installed: apt-get install ${pkg}`, { missing: pkg });
  return p;
}

/** Mount points (unescaped) and their fs types, from /proc/self/mountinfo. */
export function mountedAt(p: string): { fsType: string } | null {
  let text = '';
  try { text = fs.readFileSync('/proc/self/mountinfo', 'utf8'); } catch { return null; }
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    if (f.length < 10) continue;
    const mp = f[4].replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    if (mp === p) return { fsType: f[f.indexOf('-') + 1] };
  }
  return null;
}

/** True when `dir` or anything below it is a mount point (so it must not be removed recursively). */
export function mountedUnder(dir: string): boolean {
  let text = '';
  try { text = fs.readFileSync('/proc/self/mountinfo', 'utf8'); } catch { return true; }
  return text.split('\n').some((line) => {
    const mp = (line.split(' ')[4] ?? '').replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    return mp === dir || mp.startsWith(`${dir}/`);
  });
}

/** Unmounts a FUSE mount: fusermount3 -u, then lazily, then umount -l for a dead daemon's stale mount. */
export async function unmountFuse(mountPoint: string): Promise<void> {
  if (!mountedAt(mountPoint)) return;
  // a plain unmount first (it waits for the file system to be released), lazy ones for busy or dead mounts
  const steps = [['fusermount3', ['-u']], ['fusermount', ['-u']], ['fusermount3', ['-u', '-z']], ['fusermount', ['-u', '-z']], ['umount', ['-l']]] as const;
  for (const [tool, args] of steps) {
    const bin = which(tool);
    if (!bin) continue;
    await run(bin, [...args, mountPoint], 10_000); // mount points are absolute paths: never taken for options
    if (!mountedAt(mountPoint)) return;
  }
  if (mountedAt(mountPoint)) throw new WorkerError(ErrorCode.Busy, `Could not unmount ${mountPoint}`, { reason: 'fuse-unmount', path: mountPoint });
}
