import * as vscode from 'vscode';
import * as P from '../common/protocol';
import { browseFolderName, imageUri } from '../views/image-fs';
import type { CommandContext } from './context';
import { imageTargets } from './targets';

/**
 * Browse Disk Image: the image's files as a read-only workspace folder (`vdisk-image:`), or in a new window.
 * Nothing is attached or written, so this works in Restricted Mode and for users who cannot attach.
 */
export async function browse(ctx: CommandContext, args: unknown[], newWindow: boolean): Promise<vscode.Uri[]> {
  const images = await imageTargets(args, 'Browse Disk Image...');
  const uris: vscode.Uri[] = [];
  for (const image of images) {
    // fail here, with the reason, rather than as an empty folder in the Explorer
    await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: `Reading ${browseFolderName(image)}` },
      () => ctx.client.request(P.BrowseStat, { image, path: '/' }));
    uris.push(imageUri(image));
    await ctx.recent.add(image);
  }
  if (newWindow) {
    if (uris.length === 1) await vscode.commands.executeCommand('vscode.openFolder', uris[0], { forceNewWindow: true });
    else await vscode.commands.executeCommand('vscode.newWindow');
    return uris;
  }
  const folders = vscode.workspace.workspaceFolders ?? [];
  const fresh = uris.filter((u) => !folders.some((f) => f.uri.toString() === u.toString()));
  if (fresh.length) {
    const ok = vscode.workspace.updateWorkspaceFolders(folders.length, 0,
      ...fresh.map((uri) => ({ uri, name: browseFolderName(Buffer.from(uri.authority, 'hex').toString('utf8')) })));
    if (!ok) throw new Error('VS Code refused to add the image as a workspace folder');
  }
  await vscode.commands.executeCommand('workbench.view.explorer');
  return uris;
}
