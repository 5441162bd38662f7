import * as vscode from 'vscode';
import { Detach, DetachResult, List } from '../common/protocol';
import type { CommandContext } from './context';
import { detachTargets } from './targets';
import { closeVolumeFolders } from './volume-folders';
import { sameImagePath } from '../common/image-paths';

/** Detach Disk Image: a tree node, an Explorer selection of images, or a pick among the attached disks. */
export async function detach(ctx: CommandContext, args: unknown[]): Promise<DetachResult[]> {
  const targets = await detachTargets(args, () => ctx.client.request(List));
  return detachAll(ctx, targets);
}

export async function detachAll(ctx: CommandContext, targets: string[]): Promise<DetachResult[]> {
  const out: DetachResult[] = [];
  try {
    for (const target of targets) {
      const disk = ctx.disks.disks.find((d) => d.device === target || sameImagePath(d.image, target));
      if (disk) await closeVolumeFolders(disk);
      const r = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `Detaching ${target}...`, cancellable: true },
        (_progress, token) => ctx.client.request(Detach, { target }, token));
      ctx.log.info(`detached ${r.device}${r.image ? ` (${r.image})` : ''}`);
      vscode.window.setStatusBarMessage(`$(debug-disconnect) Detached ${r.device}`, 5000);
      out.push(r);
    }
  } finally {
    await ctx.refresher.now();
  }
  return out;
}
