import * as vscode from 'vscode';
import { reportUri } from '../views/report-provider';
import type { CommandContext } from './context';
import { imageTargets } from './targets';

/** Inspect Disk Image: the image's metadata, chain and problems as a read-only `vdisk-report` document. */
export async function inspect(ctx: CommandContext, args: unknown[]): Promise<vscode.TextDocument[]> {
  const images = await imageTargets(args, 'Inspect Disk Image...');
  const docs: vscode.TextDocument[] = [];
  for (const image of images) {
    const doc = await vscode.workspace.openTextDocument(reportUri(image));
    await vscode.window.showTextDocument(doc, { preview: images.length === 1 });
    docs.push(doc);
    await ctx.recent.add(image);
  }
  return docs;
}
