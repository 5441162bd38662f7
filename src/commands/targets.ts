// Turning a command's arguments (Explorer selection, tree node, nothing) into image paths or devices.
import * as vscode from 'vscode';
import * as path from 'path';
import type { DiskTreeNode } from '../views/attached-disks';
import type { RecentNode } from '../views/recent-images';
import type { WslNode } from '../views/wsl-disks';
import type { AttachedDisk } from '../common/protocol';
import { extensionsOf } from '../common/formats';
import { UserError } from '../host/run-command';
import { knownCapabilities } from '../host/capabilities';
import { attachableExtensions } from '../host/capability-keys';

export const IMAGE_EXTENSIONS = extensionsOf((f) => f.menus === 'all');
export const LINUX_IMAGE_EXTENSIONS = extensionsOf((f) => f.menus === 'linux');

/** The file picker's filter: what the worker's capability report says this user can attach (all known kinds before it answers). */
export function imageExtensions(): string[] {
  const caps = knownCapabilities();
  return caps ? attachableExtensions(caps) : [...IMAGE_EXTENSIONS, ...LINUX_IMAGE_EXTENSIONS];
}

function isUri(v: unknown): v is vscode.Uri { return v instanceof vscode.Uri; }

/** Explorer passes (clicked, selection); the palette passes nothing: then ask with a file picker. */
export async function imageTargets(args: unknown[], title: string): Promise<string[]> {
  const [first, second] = args;
  if (Array.isArray(second) && second.length && second.every(isUri)) return second.map((u) => fileOf(u));
  if (isUri(first)) return [fileOf(first)];
  if (typeof first === 'string' && first) return [path.resolve(first)];
  const fromNode = isNode(first) ? nodeImage(first) : undefined;
  if (fromNode) return [fromNode];
  const picked = await vscode.window.showOpenDialog({
    title, canSelectMany: true, canSelectFiles: true, canSelectFolders: false, openLabel: title.replace(/\.\.\.$/, ''),
    filters: { 'Disk images': imageExtensions(), 'All files': ['*'] },
    defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri,
  });
  if (!picked?.length) throw new vscode.CancellationError();
  return picked.map(fileOf);
}

function fileOf(u: vscode.Uri): string {
  if (u.scheme !== 'file' && u.scheme !== 'vscode-remote') {
    throw new UserError(`${u.toString()} is not a local file: disk images must be on the machine the extension runs on`);
  }
  return u.fsPath;
}

export function isNode(v: unknown): v is DiskTreeNode | RecentNode | WslNode {
  return typeof v === 'object' && v !== null && 'kind' in v && 'id' in v;
}

/** The image file a tree node stands for, if any. */
export function nodeImage(n: DiskTreeNode | RecentNode | WslNode): string | undefined {
  switch (n.kind) {
    case 'disk': return n.disk.image ?? undefined;
    case 'image': return n.link.path;
    case 'recent': return n.path;
    case 'recentLink': return n.link.path;
    case 'wslDisk': return n.path;
    default: return undefined;
  }
}

/** Devices to detach: from a tree node, an Explorer selection of images, or a pick among attached disks. */
export async function detachTargets(args: unknown[], attached: () => Promise<AttachedDisk[]>): Promise<string[]> {
  const [first, second] = args;
  if (isNode(first)) {
    if (first.kind === 'disk') return [first.disk.device];
    const image = nodeImage(first);
    if (image) return [image];
    throw new UserError('Select an attached disk to detach');
  }
  if (Array.isArray(second) && second.length && second.every(isUri)) return second.map((u) => u.fsPath);
  if (isUri(first)) return [first.fsPath];
  if (typeof first === 'string' && first) return [first];
  const disks = await attached();
  if (!disks.length) throw new UserError('No virtual disks are attached');
  const items = disks.map((d) => ({ label: d.image ? path.basename(d.image) : d.device, description: d.device, detail: d.image ?? undefined, picked: false, device: d.device }));
  const picked = await vscode.window.showQuickPick(items, { title: 'Detach Disk Image', canPickMany: true, placeHolder: 'Select the disks to detach' });
  if (!picked?.length) throw new vscode.CancellationError();
  return picked.map((p) => p.device);
}
