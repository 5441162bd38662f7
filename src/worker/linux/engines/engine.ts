// What an engine leaves running while a disk is attached, and how to take it down again. The same record
// goes into the registry (for a later worker) and to the reaper (for a worker that dies).
import * as fs from 'fs';
import * as path from 'path';
import { ensurePrivateDir, runDir } from '../run-dir';
import { stopProcess, unmountFuse, alive, mountedUnder, processIdentity } from './process';

export interface EngineHandle {
  daemon: 'qemu-storage-daemon' | 'vhdimount' | 'vdisk-fuse';
  pid: number;
  /** The daemon's processIdentity() when it started: a reused pid, or any other process, is never signalled. */
  marker: string;
  /** The FUSE mount the daemon serves (a file for qemu, a folder for vhdimount). */
  fuseMount: string;
  /** The raw file the loop device sits on. */
  exportFile: string;
  /** Scratch folder, removed on stop. */
  dir: string;
  /** vdisk-fuse: served by a pre-started spare server (fuse-spare.ts). */
  spare?: boolean;
}

/** A fresh private scratch folder under runDir()/engines. */
export function scratchDir(kind: string): string {
  const base = ensurePrivateDir(path.join(runDir(), 'engines'));
  return fs.mkdtempSync(path.join(base, `${kind}-`));
}

export interface StopReport { ms: number; how: 'gone' | 'terminated' | 'killed' }

/** Stops the daemon (SIGTERM, SIGKILL after 5 s), unmounts its FUSE mount if it left one, removes the scratch folder. */
export async function stopEngine(h: Pick<EngineHandle, 'pid' | 'marker' | 'fuseMount' | 'dir'>): Promise<StopReport> {
  const t0 = Date.now();
  const how = h.pid ? await stopProcess(h.pid, h.marker) : 'gone';
  await unmountFuse(h.fuseMount); // a killed daemon leaves "Transport endpoint is not connected"
  if (h.dir && !alive(h.pid) && !mountedUnder(h.dir)) fs.rmSync(h.dir, { recursive: true, force: true });
  // stopProcess waited for the exit; a daemon that survived SIGKILL (stuck in the kernel) keeps its folder
  return { ms: Date.now() - t0, how };
}

/**
 * Undoes a half-started engine; never throws (the caller is already reporting the first error). `pid` is the
 * daemon we just started (spawn's child, or the pidfile in our private scratch folder), so its identity is read now.
 */
export async function abandon(dir: string, pid: number | undefined, fuseMount: string): Promise<void> {
  const marker = pid ? processIdentity(pid) ?? '' : '';
  try { await stopEngine({ pid: pid ?? 0, marker, fuseMount, dir }); } catch { /* best effort */ }
  try { if (!mountedUnder(dir)) fs.rmSync(dir, { recursive: true, force: true }); } catch { /* a stale mount inside: reported by list() later */ }
}
