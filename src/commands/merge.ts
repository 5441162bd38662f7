// Merge Differencing Disk...: the child's data written into its parent (Merge-VHD), after a modal confirmation; a
// parent that other images use is only changed after a second, explicit "Merge Anyway".
import * as path from 'path';
import * as vscode from 'vscode';
import { ResponseError } from 'vscode-jsonrpc';
import { ErrorCode, Inspect, Merge, MergeParams, MergeResult } from '../common/protocol';
import { UserError } from '../host/run-command';
import type { CommandContext } from './context';
import { imageTargets } from './targets';
import { withWorkerProgress } from './progress';

/** `args`: the child (Uri, path or tree node), then optionally `{ into?, keepChild?, force? }` (tests: no dialogs). */
export async function merge(ctx: CommandContext, args: unknown[]): Promise<MergeResult> {
  if (!vscode.workspace.isTrusted) throw new UserError('Changing disk images is disabled in Restricted Mode: trust this workspace first.');
  const [child] = await imageTargets(args.slice(0, 1), 'Select the Differencing Disk to Merge...');
  const given = args[1] && typeof args[1] === 'object' ? args[1] as Omit<MergeParams, 'child'> : undefined;
  const info = await ctx.client.request(Inspect, { path: child });
  if (info.subtype !== 'differencing' || info.chain.length < 2) throw new UserError(`${path.basename(child)} is not a differencing disk with a parent: there is nothing to merge`);
  const params: MergeParams = { child, otherImages: ctx.recent.paths, ...(given ?? {}) };
  if (!given) {
    const into = info.chain[1].path;
    const ok = 'Merge';
    const pick = await vscode.window.showWarningMessage(`Merge ${path.basename(child)} into ${path.basename(into)}?`, {
      modal: true, detail: `Its data is written into ${into}, then ${path.basename(child)} is deleted. This cannot be undone.`,
    }, ok);
    if (pick !== ok) throw new vscode.CancellationError();
  }
  const run = (p: MergeParams) => withWorkerProgress(ctx, `Merging ${path.basename(child)}`, (progressToken, cancel) =>
    ctx.client.request(Merge, { ...p, progressToken }, cancel));
  let r: MergeResult;
  try {
    r = await run(params);
  } catch (e) {
    if (given || !(e instanceof ResponseError) || e.code !== ErrorCode.UnsupportedImage || !/also uses?/.test(e.message)) throw e;
    const anyway = 'Merge Anyway';
    if (await vscode.window.showWarningMessage(e.message, { modal: true }, anyway) !== anyway) throw new vscode.CancellationError();
    r = await run({ ...params, force: true });
  }
  ctx.log.info(`merged ${r.merged.join(', ')} into ${r.target}; removed ${r.removed.join(', ') || 'nothing'}`);
  for (const f of r.removed) await ctx.recent.remove(f);
  await ctx.recent.add(r.target);
  await ctx.refresher.now();
  if (!given) void vscode.window.showInformationMessage(`Merged into ${path.basename(r.target)}.`);
  return r;
}
