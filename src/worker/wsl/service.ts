// vdisk/wslDisks: the WSL and Docker Desktop disks found (find.ts), each with its size on disk against the data the
// ext4 file systems inside hold (their block bitmaps: used = size - free), and whether it can be compacted now:
// not while vdisk has it attached, not while another process (the WSL VM, Docker Desktop) holds it open on
// Windows, and never from inside WSL (the VM runs from those disks: compact from Windows after `wsl --shutdown`).
import * as fs from 'fs';
import type { WslDisk, WslDisksResult } from '../../common/protocol';
import type { Backend } from '../backend';
import { openDisk } from '../../formats/open-disk';
import { inspectImage } from '../../formats';
import { partitionsOf, FreeMap } from '../../formats/manage/free-map';
import { ext4Free } from '../../formats/manage/ext4-free';
import { findWslDisks, FoundDisk, WslSources } from './find';
import { insideWsl, windowsSources, wslSources } from './sources';

export const SHUTDOWN_STEPS = 'Before compacting: quit Docker Desktop, then run `wsl --shutdown` in a Windows terminal (PowerShell or cmd) so no distribution uses its disk. Compact writes the smaller copy next to the disk first, so that drive needs room for it.';

/** The sources for this process: Windows, inside WSL, or none. */
export async function defaultSources(): Promise<WslSources | null> {
  if (process.platform === 'win32') {
    const { readLxss } = await import('./registry');
    return windowsSources(readLxss);
  }
  return insideWsl() || process.env.VDISK_TEST_WSL_MNT ? wslSources() : null;
}

export async function wslDisks(backend: Pick<Backend, 'list'>, src: WslSources | null, checkAttached = true): Promise<WslDisksResult> {
  if (!src) return { where: 'none', disks: [], notes: ['WSL and Docker Desktop disks live on Windows: run this on Windows or inside WSL.'] };
  const found = await findWslDisks(src);
  const attached = new Set<string>();
  // the listing is one source among several: when it fails (Wine's VirtDisk), the disks are still found and the note says why
  let unlisted: string | undefined;
  if (checkAttached) {
    try {
      for (const d of await backend.list()) for (const l of [d.image, ...(d.chain ?? []).map((c) => c.path)]) if (l) attached.add(real(l));
    } catch (e) { unlisted = (e as Error).message; }
  }
  const disks: WslDisk[] = [];
  for (const f of found.disks) disks.push(await measure(f, src.where, attached));
  const notes = [...found.notes];
  if (!checkAttached) notes.push('Attached disks were not checked: compact still refuses one that is attached.');
  else if (unlisted !== undefined) notes.push(`Attached disks could not be listed (${unlisted}): compact still refuses one that is attached.`);
  if (src.where === 'wsl') notes.push(`Inside WSL (${process.env.WSL_DISTRO_NAME ?? 'this distribution'}): these disks are compacted from Windows, with WSL shut down (\`wsl --shutdown\`), not from in here.`);
  if (disks.length) notes.push(SHUTDOWN_STEPS);
  return { where: src.where, disks, notes };
}

async function measure(f: FoundDisk, where: 'windows' | 'wsl', attached: Set<string>): Promise<WslDisk> {
  const d: WslDisk = { ...f, fileBytes: fs.statSync(f.path).size, virtualSize: null, dataBytes: null, inUse: false };
  if (attached.has(real(f.path))) { d.inUse = true; d.inUseReason = 'vdisk has it attached: detach it first'; }
  else if (where === 'wsl') { d.inUse = true; d.inUseReason = 'from inside WSL: compact it from Windows after `wsl --shutdown`'; }
  else if (openElsewhere(f.path)) { d.inUse = true; d.inUseReason = 'another process has it open (WSL or Docker Desktop is running): quit Docker Desktop and run `wsl --shutdown` first'; }
  try {
    d.virtualSize = (await inspectImage(f.path)).virtualSize;
    d.dataBytes = await ext4Data(f.path);
    if (d.dataBytes === null) d.note = 'no clean ext4 file system found inside (a running distribution\'s is not clean until `wsl --shutdown`)';
  } catch (e) {
    d.note = `not read: ${(e as Error).message}`;
  }
  return d;
}

/** Bytes the ext4 file systems inside use (their size less their free blocks); null when none is clean ext4. */
async function ext4Data(file: string): Promise<number | null> {
  const disk = await openDisk(file);
  try {
    const read = async (off: number, len: number) => { const b = Buffer.alloc(len); await disk.read(b, off); return b; };
    const { volumes } = await partitionsOf(disk);
    let data: number | null = null;
    for (const [start, size] of volumes) {
      const m = await ext4Free(read, start, size);
      if (m && !('refused' in m)) data = (data ?? 0) + (m as FreeMap).units * m.unit - (m.reportedFreeBytes ?? m.freeBytes);
    }
    return data;
  } finally { await disk.close(); }
}

/** Windows: true when another process holds the file open without sharing it for writing (the WSL VM does). */
export function openElsewhere(file: string): boolean {
  if (process.platform !== 'win32') return false;
  try { fs.closeSync(fs.openSync(file, 'r+')); return false; } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EBUSY'; // ERROR_SHARING_VIOLATION
  }
}

function real(p: string): string {
  try { return fs.realpathSync(p); } catch { return p; }
}
