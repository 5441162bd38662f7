// The worker's spare FUSE server (the server side is ../fuse/spare.ts): one idle server process, started detached
// with its reading threads and libc calls loaded, so that an attach of a read-only dynamic/differencing VHD/VHDX
// hands it a config instead of paying a Node start (BENCHMARKS.md, "vdisk's own FUSE server"). None runs until the
// worker has served such an attach once; after each use another is started; an unused one exits after
// SPARE_IDLE_MS, or as soon as the worker goes (EOF on its stdin). VDISK_FUSE_SPARE=0: none, every attach starts one.
import * as cp from 'child_process';
import type * as net from 'net';
import { SPARE_IDLE_MS } from '../fuse/spare';
import { alive } from './process';

interface Spare { proc: cp.ChildProcess; started: number }
let spare: Spare | null = null;
let warming: NodeJS.Timeout | null = null;
/** A spare this close to its idle exit is not handed an attach (it could exit in between). */
const TOO_OLD_MS = Math.max(0, SPARE_IDLE_MS - 30_000);
/** After an attach, the next spare waits this long: its start does not compete with the attach that just ran. */
const WARM_DELAY_MS = 300;

export const sparesEnabled = () => process.env.VDISK_FUSE_SPARE !== '0';

const running = (p: cp.ChildProcess) => p.exitCode === null && p.signalCode === null && !!p.pid && alive(p.pid);

function startSpare(script: string, threads: number): void {
  if (spare && running(spare.proc)) return;
  const proc = cp.spawn(process.execPath, [script, '--spare', String(process.pid), String(threads)], {
    stdio: ['pipe', 'ignore', 'ignore'], detached: true, env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
  });
  proc.unref();
  (proc.stdin as unknown as net.Socket | null)?.unref?.(); // the worker may exit with a spare waiting: EOF ends it
  proc.stdin?.on('error', () => { /* the spare exited: takeSpare sees it */ });
  const mine: Spare = { proc, started: Date.now() };
  const gone = () => { if (spare === mine) spare = null; };
  proc.once('exit', gone);
  proc.once('error', gone);
  spare = mine;
}

/** The idle spare, now this attach's (its stdin takes the config), or null when none is ready. */
export function takeSpare(): cp.ChildProcess | null {
  const s = spare;
  spare = null;
  if (!s) return null;
  if (running(s.proc) && Date.now() - s.started < TOO_OLD_MS) return s.proc;
  s.proc.stdin?.destroy(); // EOF: an unconfigured spare exits
  return null;
}

/** Starts a spare shortly (one at a time), unless spares are off or one already waits. */
export function warmSpareSoon(script: string, threads: number): void {
  if (!sparesEnabled() || warming || (spare && running(spare.proc))) return;
  warming = setTimeout(() => {
    warming = null;
    try { startSpare(script, threads); } catch { /* no spare: the next attach starts its server itself */ }
  }, WARM_DELAY_MS);
  warming.unref();
}

/** The pid of the spare waiting now (tests, diagnostics), or null. */
export function sparePid(): number | null {
  return spare && running(spare.proc) ? spare.proc.pid ?? null : null;
}
