import * as vscode from 'vscode';
import { IMAGE_SCHEME, parseImageUri } from '../views/image-fs';
import { UserError } from '../host/run-command';

/** Copy Path Inside Image: the `/`-separated path of a browsed file or folder inside its image. */
export async function copyImagePath(args: unknown[]): Promise<string> {
  const uri = args[0] instanceof vscode.Uri ? args[0] : vscode.window.activeTextEditor?.document.uri;
  if (!uri || uri.scheme !== IMAGE_SCHEME) throw new UserError('Select a file or folder of a browsed disk image');
  const { inner } = parseImageUri(uri);
  await vscode.env.clipboard.writeText(inner);
  vscode.window.setStatusBarMessage(`Copied ${inner}`, 3000);
  return inner;
}
