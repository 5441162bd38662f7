import * as path from 'path';
import * as vscode from 'vscode';
import { UserError } from '../host/run-command';
import { isNode, nodeImage } from './targets';

/**
 * Reveal Image in Explorer (tree only): selects the image file in the Explorer when it is in the workspace.
 * Returns the file revealed there, or undefined when it is outside the workspace (the user is offered its path).
 */
export async function revealImage(args: unknown[]): Promise<string | undefined> {
  const node = args[0];
  const file = isNode(node) ? nodeImage(node) : undefined;
  if (!file) throw new UserError('This disk has no image file to reveal');
  const uri = vscode.Uri.file(file);
  if (vscode.workspace.getWorkspaceFolder(uri)) {
    await vscode.commands.executeCommand('revealInExplorer', uri);
    return file;
  }
  const pick = await vscode.window.showInformationMessage(`${path.basename(file)} is outside this workspace (${path.dirname(file)}).`, 'Copy Path', 'Open Folder in New Window');
  if (pick === 'Copy Path') await vscode.env.clipboard.writeText(file);
  if (pick === 'Open Folder in New Window') await vscode.commands.executeCommand('vscode.openFolder', vscode.Uri.file(path.dirname(file)), { forceNewWindow: true });
  return undefined;
}
