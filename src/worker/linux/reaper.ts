// Session attaches must not outlive the worker, even after `kill -9`. Loop devices take care of themselves
// (autoclear when the worker's fd closes), but daemons, FUSE mounts and our volume mounts do not. The reaper is a
// tiny detached node process, one per worker, that the worker tells (JSON lines on its stdin) what to undo.
// When its stdin reaches EOF (the worker exited, however it died) it undoes whatever is still listed, then exits.
// A worker that shuts down cleanly undoes things itself and removes them from the list first.
import * as cp from 'child_process';
import { processIdentity } from './engines/process';

export interface ReapEntry {
  id: string;
  /** Mount points of volumes (kernel or FUSE), unmounted lazily first so the loop devices can go. */
  mounts: string[];
  /** Loop devices that should disappear (autoclear); detached with losetup if they linger. */
  loops: string[];
  /** Processes to stop, each only while it still has the identity (processIdentity) recorded as `marker`. */
  pids: { pid: number; marker: string }[];
  /** FUSE mounts the daemons served (cleaned if the daemon died without unmounting). */
  fuseMounts: string[];
  /** Files and folders to remove at the end (scratch folders, registry records); skipped while anything under them is mounted. */
  remove: string[];
  /** Empty folders to remove (mount points): rmdir only, never recursive. */
  rmdirs: string[];
  /**
   * A non-root worker's udisks disks: udisks made them root-owned, so umount/losetup cannot undo them; ask udisks
   * (block devices to unmount, then loop devices to delete).
   */
  udisks?: { unmount: string[]; loops: string[] };
}

/**
 * The reaper's program. Runs as `node -e`, so it must not reference anything outside its own body; `identityOf` is
 * processIdentity (process.ts), passed in as source so that both match processes the same way.
 */
export function reaperMain(identityOf: (pid: number) => string | null): void {
  /* eslint-disable @typescript-eslint/no-require-imports */
  const fs = require('fs') as typeof import('fs');
  const cpm = require('child_process') as typeof import('child_process');
  const entries = new Map<string, ReapEntry>();
  let buf = '';
  const sleepSync = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
  const tool = (names: string[]) => {
    for (const n of names) for (const d of ['/usr/sbin', '/usr/bin', '/sbin', '/bin']) if (fs.existsSync(`${d}/${n}`)) return `${d}/${n}`;
    return null;
  };
  const runTool = (names: string[], args: string[]) => {
    const t = tool(names);
    if (t) cpm.spawnSync(t, args, { stdio: 'ignore', timeout: 10_000 });
  };
  const mounted = (p: string) => {
    try {
      return fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')
        .some((l) => (l.split(' ')[4] ?? '').replace(/\\([0-7]{3})/g, (_: string, o: string) => String.fromCharCode(parseInt(o, 8))) === p);
    } catch { return false; }
  };
  const unmount = (p: string) => {
    if (!mounted(p)) return;
    runTool(['umount'], ['-l', p]);
    if (mounted(p)) runTool(['fusermount3', 'fusermount'], ['-u', '-z', p]);
  };
  const alive = (pid: number) => {
    try {
      const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const st = s.slice(s.lastIndexOf(')') + 2, s.lastIndexOf(')') + 3);
      return st !== 'Z' && st !== 'X';
    } catch { return false; }
  };
  const ours = (pid: number, marker: string) => !!marker && identityOf(pid) === marker;
  const bound = (dev: string) => fs.existsSync(`/sys/block/${dev.replace(/^\/dev\//, '')}/loop/backing_file`);
  const waitUntil = (cond: () => boolean, ms: number) => {
    const end = Date.now() + ms;
    while (!cond() && Date.now() < end) sleepSync(20);
    return cond();
  };
  const udisksctl = (args: string[]) => runTool(['udisksctl'], [...args, '--no-user-interaction']);
  const reap = () => {
    const all = [...entries.values()];
    for (const e of all) for (const d of e.udisks?.unmount ?? []) udisksctl(['unmount', '-b', d]);
    for (const e of all) for (const d of e.udisks?.loops ?? []) if (bound(d)) udisksctl(['loop-delete', '-b', d]);
    for (const e of all) for (const m of e.mounts) unmount(m);
    const loops = all.flatMap((e) => e.loops);
    if (!waitUntil(() => loops.every((l) => !bound(l)), 3000)) {
      for (const l of [...loops].reverse()) if (bound(l)) runTool(['losetup'], ['-d', l]);
      waitUntil(() => loops.every((l) => !bound(l)), 2000);
    }
    const pids = all.flatMap((e) => e.pids).filter((p) => ours(p.pid, p.marker));
    for (const p of pids) { try { process.kill(p.pid, 'SIGTERM'); } catch { /* gone */ } }
    if (!waitUntil(() => pids.every((p) => !alive(p.pid)), 5000)) {
      for (const p of pids) { try { if (ours(p.pid, p.marker)) process.kill(p.pid, 'SIGKILL'); } catch { /* gone */ } }
      waitUntil(() => pids.every((p) => !alive(p.pid)), 2000);
    }
    for (const e of all) for (const m of e.fuseMounts) unmount(m);
    const busy = (f: string) => {
      try {
        return fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => {
          const mp = (l.split(' ')[4] ?? '').replace(/\\([0-7]{3})/g, (_: string, o: string) => String.fromCharCode(parseInt(o, 8)));
          return mp === f || mp.startsWith(`${f}/`);
        });
      } catch { return true; }
    };
    for (const e of all) for (const f of e.remove) { try { if (!busy(f)) fs.rmSync(f, { recursive: true, force: true }); } catch { /* leave it */ } }
    for (const e of all) for (const d of e.rmdirs) { try { fs.rmdirSync(d); } catch { /* not empty, or still mounted */ } }
  };
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (d: string) => {
    buf += d;
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try {
        const m = JSON.parse(line) as { op: 'put'; entry: ReapEntry } | { op: 'drop'; id: string };
        if (m.op === 'put') entries.set(m.entry.id, m.entry); else entries.delete(m.id);
      } catch { /* ignore a malformed line */ }
    }
  });
  process.stdin.on('end', () => { try { reap(); } finally { process.exit(0); } });
  process.stdin.on('error', () => { try { reap(); } finally { process.exit(0); } });
}

export class Reaper {
  private child: cp.ChildProcess | undefined;
  private readonly entries = new Map<string, ReapEntry>();

  get pid(): number | undefined { return this.child?.pid; }

  put(entry: ReapEntry): void {
    this.entries.set(entry.id, entry);
    this.send({ op: 'put', entry });
  }

  drop(id: string): void {
    if (!this.entries.delete(id)) return;
    this.send({ op: 'drop', id });
  }

  /** Ends the reaper: whatever is still listed gets undone by it (normally nothing). */
  close(): void {
    this.child?.stdin?.end();
    this.child = undefined;
  }

  private send(msg: unknown): void {
    const child = this.ensure();
    child.stdin!.write(`${JSON.stringify(msg)}\n`);
  }

  private ensure(): cp.ChildProcess {
    if (this.child && this.child.exitCode === null && !this.child.killed) return this.child;
    // detached: its own session, so a signal to the worker's process group does not take it down too
    const child = cp.spawn(process.execPath, ['-e', `(${reaperMain.toString()})(${processIdentity.toString()})`], {
      stdio: ['pipe', 'ignore', 'ignore'], detached: true, env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
    });
    child.unref();
    (child.stdin as unknown as { unref?: () => void }).unref?.();
    child.on('error', () => { this.child = undefined; });
    child.on('exit', () => { if (this.child === child) this.child = undefined; });
    this.child = child;
    for (const entry of this.entries.values()) child.stdin!.write(`${JSON.stringify({ op: 'put', entry })}\n`);
    return child;
  }
}
