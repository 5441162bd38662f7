import * as path from 'path';
import * as vscode from 'vscode';
import type { VolumeInfo } from '../common/protocol';
import { UserError } from '../host/run-command';
import type { CommandContext } from './context';
import { isNode } from './targets';
import { changeFolders, diskTarget, folderOf } from './volume-folders';
import { mount } from './mount';
import { volumeUri } from '../views/volume-fs';

/** Open Volume in VS Code: mounts if needed and adds the volume as a workspace folder (removed again on detach). */
export async function openVolume(ctx: CommandContext, args: unknown[]): Promise<string> {
  let volume: VolumeInfo | undefined = isNode(args[0]) && args[0].kind === 'volume' ? args[0].volume : undefined;
  const disk = await diskTarget(ctx, args, 'Open a volume of which disk?');
  if (!volume?.mountPoint) {
    const volumes = disk.volumes?.some((v) => v.mountPoint) ? disk.volumes : await mount(ctx, [disk.device]);
    const mounted = (volumes ?? []).filter((v) => v.mountPoint && (!volume || v.device === volume.device));
    if (!mounted.length) throw new UserError(`No volume of ${disk.device} is mounted`);
    volume = mounted.length === 1 ? mounted[0] : (await vscode.window.showQuickPick(
      mounted.map((v) => ({ label: v.label || v.fsType || v.device, description: v.mountPoint ?? '', v })), { title: 'Open which volume?' }))?.v;
    if (!volume) throw new vscode.CancellationError();
  }
  const mountPoint = volume.mountPoint!;
  if (!folderOf(volume)) {
    const name = `${volume.label || volume.fsType || 'volume'} (${disk.image ? path.basename(disk.image) : disk.device})`;
    const at = vscode.workspace.workspaceFolders?.length ?? 0;
    // a read-only volume opens through a read-only file system, so editors are read-only too
    const uri = volume.readOnly || disk.readOnly ? volumeUri(mountPoint) : vscode.Uri.file(mountPoint);
    if (!(await changeFolders(() => vscode.workspace.updateWorkspaceFolders(at, 0, { uri, name: volume!.readOnly || disk.readOnly ? `${name} (read-only)` : name })))) {
      const pick = await vscode.window.showInformationMessage(
        `${mountPoint} is mounted, but this window could not add it as a workspace folder.`, 'Open in New Window', 'Copy Path');
      if (pick === 'Open in New Window') await vscode.commands.executeCommand('vscode.openFolder', vscode.Uri.file(mountPoint), { forceNewWindow: true });
      if (pick === 'Copy Path') await vscode.env.clipboard.writeText(mountPoint);
      return mountPoint;
    }
  }
  await vscode.commands.executeCommand('workbench.view.explorer');
  return mountPoint;
}
