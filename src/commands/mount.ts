import * as vscode from 'vscode';
import { Mount, VolumeInfo } from '../common/protocol';
import { UserError } from '../host/run-command';
import type { CommandContext } from './context';
import { diskTarget } from './volume-folders';

/** Mount Volumes: mounts every volume of a disk (read-only when the disk is) under the mount root. */
export async function mount(ctx: CommandContext, args: unknown[]): Promise<VolumeInfo[]> {
  const disk = await diskTarget(ctx, args, 'Mount the volumes of which disk?');
  const volumes = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Mounting the volumes of ${disk.device}...`, cancellable: true },
    (_p, token) => ctx.client.request(Mount, { device: disk.device }, token));
  await ctx.refresher.now();
  const mounted = volumes.filter((v) => v.mountPoint);
  if (!mounted.length) throw new UserError(`${disk.device} has no volume with a file system that can be mounted`);
  vscode.window.setStatusBarMessage(`Mounted ${mounted.map((v) => v.mountPoint).join(', ')}`, 5000);
  return volumes;
}
