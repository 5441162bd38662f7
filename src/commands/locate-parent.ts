// Locate Parent...: reconnect a differencing disk whose parent moved or was replaced (Set-VHD -ParentPath).
// From the inspector, a problem row in a tree, the Explorer or the palette. The worker checks the picked parent's
// identity; a mismatch is only accepted after an explicit, modal "Reconnect Anyway".
import * as path from 'path';
import * as vscode from 'vscode';
import { ResponseError } from 'vscode-jsonrpc';
import { ErrorData, Inspect, SetParent, SetParentResult } from '../common/protocol';
import { PARENT_LINK_CODES } from '../common/parent-link';
import { UserError } from '../host/run-command';
import type { CommandContext } from './context';
import { imageTargets, isNode } from './targets';


/** `args`: the image (Uri, path or tree node), then optionally the parent path and `{ ignoreIdMismatch }` (tests). */
export async function locateParent(ctx: CommandContext, args: unknown[]): Promise<SetParentResult> {
  if (!vscode.workspace.isTrusted) throw new UserError('Changing disk images is disabled in Restricted Mode: trust this workspace first.');
  const first = args[0];
  const image = isNode(first) && (first.kind === 'recentProblem' || first.kind === 'problem')
    ? (first.kind === 'recentProblem' ? first.of : first.disk.image) : (await imageTargets(args.slice(0, 1), 'Select the Differencing Disk...'))[0];
  if (!image) throw new UserError('This disk has no image file to change');
  const info = await ctx.client.request(Inspect, { path: image });
  const broken = info.problems.find((p) => PARENT_LINK_CODES.has(p.code));
  // the layer whose parent link is broken: the problem names it (no layer: the image itself)
  const child = broken?.layer?.path ?? info.path;
  if (info.subtype !== 'differencing') throw new UserError(`${path.basename(image)} is not a differencing disk: it has no parent`);
  const given = typeof args[1] === 'string' ? args[1] : undefined;
  const opts = (args[2] ?? {}) as { ignoreIdMismatch?: boolean };
  const parent = given ?? (await vscode.window.showOpenDialog({
    title: `Locate the parent of ${path.basename(child)}${broken ? ` (${broken.code})` : ''}`, openLabel: 'Reconnect',
    canSelectFiles: true, canSelectFolders: false, canSelectMany: false, defaultUri: vscode.Uri.file(path.dirname(child)),
    filters: { 'VHD and VHDX images': ['vhd', 'vhdx', 'avhdx'] },
  }))?.[0]?.fsPath;
  if (!parent) throw new vscode.CancellationError();
  let r: SetParentResult;
  try {
    r = await ctx.client.request(SetParent, { child, parent, ignoreIdMismatch: opts.ignoreIdMismatch === true });
  } catch (e) {
    if (given || !(e instanceof ResponseError) || (e.data as ErrorData | undefined)?.reason !== 'parent-id-mismatch') throw e;
    const anyway = 'Reconnect Anyway';
    const pick = await vscode.window.showWarningMessage(e.message, { modal: true, detail: 'Reconnecting to a disk with other data makes the child read wrong data.' }, anyway);
    if (pick !== anyway) throw new vscode.CancellationError();
    r = await ctx.client.request(SetParent, { child, parent, ignoreIdMismatch: true });
  }
  ctx.log.info(`reconnected ${r.child} to ${r.parent}${r.idRewritten ? ' (identity mismatch ignored)' : ''}`);
  await ctx.recent.add(image);
  await ctx.refresher.now();
  if (!given) void vscode.window.showInformationMessage(`${path.basename(r.child)} now uses ${r.parent}.`);
  return r;
}
