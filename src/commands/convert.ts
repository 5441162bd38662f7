// Convert Disk Image...: one standalone VHD, VHDX or raw image from an image and its whole chain, with progress and
// Cancel (the worker stops between blocks and removes its temporary file).
import * as path from 'path';
import * as vscode from 'vscode';
import { Convert, ConvertParams, ConvertResult } from '../common/protocol';
import { formatSize } from '../common/sizes';
import { UserError } from '../host/run-command';
import type { CommandContext } from './context';
import { imageTargets } from './targets';
import { withWorkerProgress } from './progress';

type Item<T> = vscode.QuickPickItem & { value: T };

/** `args`: the source (Uri, path or tree node), then optionally `{ dest, format, type?, force? }` (tests). */
export async function convert(ctx: CommandContext, args: unknown[]): Promise<ConvertResult> {
  if (!vscode.workspace.isTrusted) throw new UserError('Writing disk images is disabled in Restricted Mode: trust this workspace first.');
  const [source] = await imageTargets(args.slice(0, 1), 'Select the Image to Convert...');
  const given = args[1] && typeof args[1] === 'object' ? args[1] as Omit<ConvertParams, 'source'> : undefined;
  const params: ConvertParams = given ? { ...given, source } : await ask(source);
  const r = await withWorkerProgress(ctx, `Converting ${path.basename(source)} to ${path.basename(params.dest)}`,
    (progressToken, cancel) => ctx.client.request(Convert, { ...params, progressToken }, cancel));
  ctx.log.info(`converted ${source} to ${r.type} ${r.format} ${r.dest} (${r.dataBytes} bytes of data)`);
  if (r.format !== 'raw') await ctx.recent.add(r.dest);
  if (!given) {
    void vscode.window.showInformationMessage(`Wrote ${path.basename(r.dest)}: ${formatSize(r.virtualSize)} disk, file ${formatSize(r.fileSize)}.`, 'Inspect')
      .then((p) => { if (p === 'Inspect') void vscode.commands.executeCommand('vdisk.inspect', vscode.Uri.file(r.dest)); });
  }
  return r;
}

async function ask(source: string): Promise<ConvertParams> {
  const pick = async <T>(title: string, items: Item<T>[]): Promise<T> => {
    const r = await vscode.window.showQuickPick(items, { title, ignoreFocusOut: true });
    if (!r) throw new vscode.CancellationError();
    return r.value;
  };
  const format = await pick(`Convert ${path.basename(source)}: to`, [
    { label: 'VHDX', value: 'vhdx' as const }, { label: 'VHD', value: 'vhd' as const }, { label: 'Raw image (.img)', value: 'raw' as const },
  ]);
  const type = await pick(`Convert ${path.basename(source)}: type`, [
    { label: format === 'raw' ? 'Sparse' : 'Dynamically expanding', description: 'only the data that is not zeros', value: 'dynamic' as const },
    { label: format === 'raw' ? 'Fully written' : 'Fixed size', value: 'fixed' as const },
  ]);
  const ext = format === 'raw' ? 'img' : format;
  const base = path.join(path.dirname(source), `${path.basename(source, path.extname(source))}-${type}.${ext}`);
  const target = await vscode.window.showSaveDialog({ title: 'Convert: save as', saveLabel: 'Convert', defaultUri: vscode.Uri.file(base), filters: { [format.toUpperCase()]: [ext] } });
  if (!target) throw new vscode.CancellationError();
  // the save dialog already asked whether to replace an existing file
  return { source, dest: target.fsPath, format, type, force: true };
}
