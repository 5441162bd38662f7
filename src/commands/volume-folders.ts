// Volumes opened in VS Code become workspace folders; they are removed again before their disk goes.
import * as vscode from 'vscode';
import type { AttachedDisk, VolumeInfo } from '../common/protocol';
import { UserError } from '../host/run-command';
import type { CommandContext } from './context';
import { isNode } from './targets';
import { VOLUME_SCHEME } from '../views/volume-fs';
import { sameImagePath } from '../common/image-paths';

/** The disk a command acts on: a disk or volume node, a device path, or a pick among attached disks. */
export async function diskTarget(ctx: CommandContext, args: unknown[], title: string, filter: (d: AttachedDisk) => boolean = () => true): Promise<AttachedDisk> {
  const first = args[0];
  await ctx.refresher.now();
  if (isNode(first) && (first.kind === 'disk' || first.kind === 'volume')) return first.disk;
  const disks = ctx.disks.disks.filter(filter);
  if (typeof first === 'string') {
    const d = ctx.disks.disks.find((x) => x.device === first || sameImagePath(x.image, first));
    if (!d) throw new UserError(`${first} is not attached`);
    return d;
  }
  if (!disks.length) throw new UserError('No attached disk fits');
  if (disks.length === 1) return disks[0];
  const pick = await vscode.window.showQuickPick(disks.map((d) => ({ label: d.image ?? d.device, description: d.device, disk: d })), { title });
  if (!pick) throw new vscode.CancellationError();
  return pick.disk;
}

export function folderOf(v: VolumeInfo): vscode.WorkspaceFolder | undefined {
  return v.mountPoint ? vscode.workspace.workspaceFolders?.find((f) => (f.uri.scheme === 'file' || f.uri.scheme === VOLUME_SCHEME) && f.uri.fsPath === v.mountPoint) : undefined;
}

/**
 * Applies a workspace-folder change and waits until VS Code reports it. False when it did not happen in time:
 * a single-folder window in VS Code for the Web, for one, turns multi-root only by reloading.
 */
export async function changeFolders(update: () => boolean, timeoutMs = 5000): Promise<boolean> {
  let sub: vscode.Disposable | undefined;
  const changed = new Promise<boolean>((resolve) => {
    sub = vscode.workspace.onDidChangeWorkspaceFolders(() => resolve(true));
    setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    return update() && await changed;
  } finally { sub?.dispose(); }
}

/** Removes the workspace folders of a disk's mounted volumes (before unmount or detach). */
export async function closeVolumeFolders(disk: AttachedDisk): Promise<void> {
  const folders = (disk.volumes ?? []).map(folderOf).filter((f): f is vscode.WorkspaceFolder => f !== undefined).sort((a, b) => b.index - a.index);
  for (const f of folders) await changeFolders(() => vscode.workspace.updateWorkspaceFolders(f.index, 1));
}
