import * as path from 'path';
import * as vscode from 'vscode';
import { Mount, VolumeInfo } from '../common/protocol';
import { inform } from '../host/notify';
import { UserError } from '../host/run-command';
import type { CommandContext } from './context';
import { isNode } from './targets';
import { diskTarget } from './volume-folders';

/** Mount Volume / Mount Volumes: one volume (a volume row) or every volume of a disk, read-only when the disk is. */
export async function mount(ctx: CommandContext, args: unknown[]): Promise<VolumeInfo[]> {
  const disk = await diskTarget(ctx, args, 'Mount the volumes of which disk?');
  const one = isNode(args[0]) && args[0].kind === 'volume' ? args[0].volume : undefined;
  const name = disk.image ? path.basename(disk.image) : disk.device;
  const count = one ? 1 : disk.volumes?.length ?? 0;
  const volumes = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Mounting ${count === 1 ? 'the volume' : 'the volumes'} of ${name}...`, cancellable: true },
    (_p, token) => ctx.client.request(Mount, { device: one?.device ?? disk.device }, token));
  await ctx.refresher.now();
  const mounted = volumes.filter((v) => v.mountPoint);
  if (!mounted.length) throw new UserError(`${name} has no volume with a file system that can be mounted`);
  void inform(`Mounted ${mounted.map((v) => v.mountPoint).join(', ')}${disk.readOnly ? ' (read-only)' : ''}.`);
  return volumes;
}
