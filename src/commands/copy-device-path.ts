import * as vscode from 'vscode';
import { UserError } from '../host/run-command';
import { isNode } from './targets';

/** Copy Device Path (tree only). */
export async function copyDevicePath(args: unknown[]): Promise<string> {
  const node = args[0];
  if (!isNode(node) || node.kind !== 'disk') throw new UserError('Select an attached disk');
  await vscode.env.clipboard.writeText(node.disk.device);
  vscode.window.setStatusBarMessage(`Copied ${node.disk.device}`, 3000);
  return node.disk.device;
}
