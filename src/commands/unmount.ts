import * as vscode from 'vscode';
import { Unmount, VolumeInfo } from '../common/protocol';
import type { CommandContext } from './context';
import { closeVolumeFolders, diskTarget } from './volume-folders';
import { closeEditorsUnder, mountPointsOf } from './volume-editors';

/** Unmount Volumes: closes their workspace folders, then unmounts them. */
export async function unmount(ctx: CommandContext, args: unknown[]): Promise<VolumeInfo[]> {
  const disk = await diskTarget(ctx, args, 'Unmount the volumes of which disk?', (d) => d.volumes?.some((v) => v.mountPoint) === true);
  await closeVolumeFolders(disk);
  await closeEditorsUnder(mountPointsOf(disk));
  const volumes = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Unmounting the volumes of ${disk.device}...` },
    () => ctx.client.request(Unmount, { device: disk.device }));
  await ctx.refresher.now();
  return volumes;
}
