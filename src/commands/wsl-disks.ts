// Find WSL and Docker Disks: the ext4.vhdx of each WSL distribution and Docker Desktop's disks (worker: src/worker/wsl),
// each with its size on disk against its data; picking one offers Compact after the steps it needs first (quit
// Docker Desktop, `wsl --shutdown`), refuses one in use saying why, and reports the bytes reclaimed.
import * as path from 'path';
import * as vscode from 'vscode';
import { CompactResult, WslDisk, WslDisks, WslDisksResult } from '../common/protocol';
import { formatSize } from '../common/sizes';
import { wslDiskSizes } from '../common/wsl-disks';
import { UserError } from '../host/run-command';
import type { CommandContext } from './context';
import { compact } from './compact';

/** The sidebar's Compact on one disk (a "WSL and Docker Disks" node): the same questions, then the section is read again. */
export async function compactWslDisk(ctx: CommandContext, args: unknown[]): Promise<{ found: WslDisksResult; compacted?: CompactResult } | undefined> {
  const node = args[0] as { kind?: string; path?: string } | undefined;
  if (node?.kind !== 'wslDisk' || !node.path) throw new UserError('Pick a disk in the WSL and Docker Disks section to compact');
  try { return await findWslAndDockerDisks(ctx, [{ path: node.path }]); } finally { ctx.wsl?.refresh(); }
}

const STEPS = '1. Quit Docker Desktop (if it runs).\n2. In a Windows terminal run: wsl --shutdown\n3. Then Compact: it writes the smaller copy next to the disk and puts it in place (that drive needs room for it).';

/** `args[0]` (tests, scripts): `{ path, confirmed }` picks that disk and skips the questions. */
export async function findWslAndDockerDisks(ctx: CommandContext, args: unknown[]): Promise<{ found: WslDisksResult; compacted?: CompactResult } | undefined> {
  const opts = (args[0] && typeof args[0] === 'object' ? args[0] : {}) as { path?: string; confirmed?: boolean };
  const found = await ctx.client.request(WslDisks, {});
  for (const n of found.notes) ctx.log.info(`WSL disks: ${n}`);
  if (!found.disks.length) {
    const why = found.where === 'none' ? 'WSL and Docker Desktop disks live on Windows: run this on Windows or inside WSL.' : 'No WSL or Docker Desktop disk was found.';
    if (!opts.path) void vscode.window.showInformationMessage(why, { detail: found.notes.join('\n') } as vscode.MessageOptions);
    return { found };
  }
  let disk: WslDisk | undefined;
  if (opts.path) {
    disk = found.disks.find((d) => d.path === opts.path);
    if (!disk) throw new UserError(`${opts.path} is not one of the WSL or Docker Desktop disks found`);
  } else {
    const pick = await vscode.window.showQuickPick(found.disks.map((d) => ({
      label: `${d.kind === 'docker' ? '$(package)' : '$(terminal-linux)'} ${d.name}`, description: wslDiskSizes(d),
      detail: d.inUse ? `${d.path}: cannot be compacted now (${d.inUseReason})` : d.path, disk: d,
    })), { title: 'WSL and Docker Disks', placeHolder: 'Pick a disk to compact', matchOnDescription: true, matchOnDetail: true });
    disk = pick?.disk;
  }
  if (!disk) return { found };
  if (disk.inUse) throw new UserError(`${disk.name} (${path.basename(disk.path)}) cannot be compacted now: ${disk.inUseReason}.`);
  if (!opts.confirmed) {
    const copy = 'Copy "wsl --shutdown"';
    const answer = await vscode.window.showWarningMessage(`Compact ${disk.name}? ${wslDiskSizes(disk)}.`, { modal: true, detail: STEPS }, 'Compact', copy);
    if (answer === copy) { await vscode.env.clipboard.writeText('wsl --shutdown'); return { found }; }
    if (answer !== 'Compact') return { found };
  }
  const r = await compact(ctx, [disk.path, {}]);
  const msg = `${disk.name}: ${formatSize(r.before)} → ${formatSize(r.after)} (${formatSize(Math.max(0, r.before - r.after))} reclaimed).`;
  ctx.log.info(`WSL disks: ${msg}`);
  if (!opts.confirmed) void vscode.window.showInformationMessage(msg);
  return { found, compacted: r };
}
