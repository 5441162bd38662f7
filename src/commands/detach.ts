import * as path from 'path';
import * as vscode from 'vscode';
import { AttachedDisk, Detach, DetachResult, List } from '../common/protocol';
import { confirm, inform, plural, preConfirmed } from '../host/notify';
import type { CommandContext } from './context';
import { detachTargets } from './targets';
import { closeVolumeFolders, folderOf } from './volume-folders';
import { closeEditorsUnder, mountPointsOf, tabsUnder } from './volume-editors';
import { sameImagePath } from '../common/image-paths';

/** Detach Disk Image...: a tree node, an Explorer selection of images, or a pick among the attached disks. */
export async function detach(ctx: CommandContext, args: unknown[]): Promise<DetachResult[]> {
  const targets = await detachTargets(args, () => ctx.client.request(List));
  return detachAll(ctx, targets, preConfirmed(args));
}

/**
 * Detaches `targets` (devices or image paths). Asks first when there is more than one or when a volume is mounted
 * or open in this window, unless the caller already confirmed.
 */
export async function detachAll(ctx: CommandContext, targets: string[], confirmed = false, alwaysAsk = false): Promise<DetachResult[]> {
  await ctx.refresher.now();
  const disks = targets.map((t) => ctx.disks.disks.find((d) => d.device === t || sameImagePath(d.image, t)));
  if (!confirmed && !(await askToDetach(targets, disks, alwaysAsk))) throw new vscode.CancellationError();
  const out: DetachResult[] = [];
  try {
    for (const [i, target] of targets.entries()) {
      const disk = disks[i];
      if (disk) {
        await closeVolumeFolders(disk);
        await closeEditorsUnder(mountPointsOf(disk));
      }
      const name = disk?.image ? path.basename(disk.image) : target;
      const r = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `Detaching ${name}...`, cancellable: true },
        (_progress, token) => ctx.client.request(Detach, { target }, token));
      out.push(r);
    }
  } finally {
    await ctx.refresher.now();
    if (out.length) void inform(out.length === 1 ? `Detached ${out[0].image ? path.basename(out[0].image) : out[0].device} (${out[0].device}).`
      : `Detached ${plural(out.length, 'disk')}: ${out.map((r) => (r.image ? path.basename(r.image) : r.device)).join(', ')}.`);
  }
  return out;
}

async function askToDetach(targets: string[], disks: (AttachedDisk | undefined)[], always: boolean): Promise<boolean> {
  const known = disks.filter((d): d is AttachedDisk => d !== undefined);
  const mounted = known.flatMap((d) => (d.volumes ?? []).filter((v) => v.mountPoint));
  const openFolders = mounted.filter((v) => folderOf(v)).length;
  const editors = tabsUnder(known.flatMap(mountPointsOf)).length;
  if (!always && targets.length < 2 && !mounted.length && !editors) return true;
  const what = targets.length === 1 ? `Detach ${known[0]?.image ? path.basename(known[0].image) : targets[0]}?` : `Detach ${plural(targets.length, 'disk')}?`;
  const facts = [
    openFolders ? `${plural(openFolders, 'volume is', 'volumes are')} open in this window.` : '',
    mounted.length > openFolders ? `${plural(mounted.length - openFolders, 'volume is', 'volumes are')} mounted.` : '',
    editors ? `${plural(editors, 'editor')} on files of ${mounted.length === 1 ? 'that volume' : 'those volumes'} will be closed.` : '',
  ].filter(Boolean);
  const detail = [...facts, 'Programs using these disks lose them.'].join(' ');
  return confirm(what, detail, targets.length === 1 ? 'Detach' : `Detach ${plural(targets.length, 'Disk')}`);
}
