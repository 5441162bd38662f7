// What the Linux backend keeps between requests, shared by its parts (routes, release, listing).
import * as fs from 'fs';
import type { DiskRecord, Registry } from './registry';
import type { Reaper } from './reaper';
import type { LoopInfo } from './sysfs';
import { loopStatus } from './loop';

export type LogFn = (level: 'debug' | 'info' | 'warn' | 'error', msg: string) => void;

export interface LinuxState {
  readonly registry: Registry;
  readonly reaper: Reaper;
  /** fds we hold open on session-lifetime loop devices (disk and partitions): closing the last one detaches. */
  readonly held: Map<string, number>;
  readonly log: LogFn;
}

/** The record describes this loop device: same backing file name, or the same file (dev+inode) renamed since. */
export function sameBacking(r: DiskRecord, l: Pick<LoopInfo, 'device' | 'backingFile'>): boolean {
  if (r.backingFile === l.backingFile) return true;
  if (!r.backingIno) return false;
  const st = loopStatus(l.device);
  return !!st && `${st.device}:${st.inode}` === r.backingIno;
}

/** Closes the fd we hold on `device`, if any (for an autoclear loop device: the last close detaches it). */
export function closeHeld(s: LinuxState, device: string): void {
  const fd = s.held.get(device);
  if (fd === undefined) return;
  try { fs.closeSync(fd); } catch { /* closed */ }
  s.held.delete(device);
}

/** Partition loop devices we made for a disk (not the kernel's loopNpM nodes), last first: they go before the disk. */
export function ownPartitionLoops(r: DiskRecord | undefined): string[] {
  return (r?.volumes ?? []).filter((v) => v.device !== r!.device && !v.kernelPartition).map((v) => v.device).reverse();
}
