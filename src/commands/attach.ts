import * as path from 'path';
import * as vscode from 'vscode';
import { Attach, AttachedDisk } from '../common/protocol';
import { config } from '../host/config';
import { UserError } from '../host/run-command';
import type { CommandContext } from './context';
import { imageTargets } from './targets';

/** Attach Disk Image / Attach Disk Image (Read-Only): Explorer selection, a path, or a file picker. */
export async function attach(ctx: CommandContext, readOnly: boolean, args: unknown[]): Promise<AttachedDisk[]> {
  if (!vscode.workspace.isTrusted) {
    throw new UserError('Attaching disk images is disabled in Restricted Mode: trust this workspace to attach images from it.');
  }
  const images = await imageTargets(args, readOnly ? 'Attach Disk Image (Read-Only)...' : 'Attach Disk Image...');
  const lifetime = config.lifetime();
  // the third argument: options from "Attach Parent Folder..." (the first two are the Explorer's Uri and selection)
  const searchFolders = (args[2] as { searchFolders?: string[] } | undefined)?.searchFolders;
  const out: AttachedDisk[] = [];
  try {
    for (const image of images) {
      const disk = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `Attaching ${path.basename(image)}${readOnly ? ' (read-only)' : ''}...`, cancellable: true },
        (_progress, token) => ctx.client.request(Attach, { path: image, readOnly, lifetime, searchFolders }, token));
      ctx.log.info(`attached ${disk.image} as ${disk.device} (${disk.readOnly ? 'read-only' : 'read-write'}, ${disk.lifetime})`);
      vscode.window.setStatusBarMessage(`$(database) Attached ${path.basename(image)} as ${disk.device}`, 5000);
      out.push(disk);
      if (config.mountAfterAttach()) await vscode.commands.executeCommand('vdisk.mount', disk.device);
      await ctx.recent.add(image);
    }
  } finally {
    await ctx.refresher.now();
  }
  return out;
}
