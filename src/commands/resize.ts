// Resize Virtual Disk...: grow an image, or shrink it as far as its partitions and data allow (Resize-VHD).
// The worker works out the smallest safe size (a dry run) so the prompt can offer it and refuse less up front.
import * as path from 'path';
import * as vscode from 'vscode';
import { ResponseError } from 'vscode-jsonrpc';
import { ErrorCode, Inspect, Resize, ResizeResult } from '../common/protocol';
import { formatSize, parseSize } from '../common/sizes';
import { UserError } from '../host/run-command';
import type { CommandContext } from './context';
import { imageTargets } from './targets';
import { withWorkerProgress } from './progress';

/** `args`: the image (Uri, path or tree node), then optionally `{ size }` (bytes) or `{ smallest: true }`, and `force` (no prompt). */
export async function resize(ctx: CommandContext, args: unknown[]): Promise<ResizeResult> {
  if (!vscode.workspace.isTrusted) throw new UserError('Changing disk images is disabled in Restricted Mode: trust this workspace first.');
  const [image] = await imageTargets(args.slice(0, 1), 'Select the Image to Resize...');
  const given = (args[1] && typeof args[1] === 'object' ? args[1] : {}) as { size?: number; smallest?: boolean; force?: boolean };
  let spec: { size?: number; smallest?: boolean } = { size: given.size, smallest: given.smallest };
  if (given.size === undefined && given.smallest !== true) {
    const info = await ctx.client.request(Inspect, { path: image });
    const current = info.virtualSize;
    const pick = await vscode.window.showQuickPick([
      { label: 'Enter a New Size...', id: 'size', description: `now ${formatSize(current)}` },
      { label: 'Shrink to the Smallest Safe Size', id: 'smallest', description: 'keeps every partition and every non-zero byte' },
    ], { title: `Resize ${path.basename(image)} (${formatSize(current)})`, ignoreFocusOut: true });
    if (!pick) throw new vscode.CancellationError();
    if (pick.id === 'smallest') {
      const plan = await withWorkerProgress(ctx, `Finding the smallest safe size of ${path.basename(image)}`, (progressToken, cancel) =>
        ctx.client.request(Resize, { path: image, smallest: true, dryRun: true, progressToken }, cancel));
      if (plan.after >= current) {
        void vscode.window.showInformationMessage(`${path.basename(image)} cannot be made smaller than ${formatSize(current)}: its partitions or data reach its end.`);
        return plan;
      }
      const ok = await vscode.window.showWarningMessage(`Shrink ${path.basename(image)} from ${formatSize(current)} to ${formatSize(plan.after)} (${plan.after} bytes)?`, { modal: true }, 'Shrink');
      if (ok !== 'Shrink') throw new vscode.CancellationError();
      spec = { size: plan.after };
    } else {
      const text = await vscode.window.showInputBox({
        title: `New size of ${path.basename(image)}`, value: formatSize(current).replace(/ (\w)iB$/, '$1').replace(/ bytes$/, ''),
        prompt: 'Bytes, or a number with K, M, G or T (powers of 1024). Larger grows the disk; smaller shrinks it only if no partition or data is cut.',
        ignoreFocusOut: true,
        validateInput: (v) => { try { parseSize(v); return undefined; } catch (e) { return (e as Error).message; } },
      });
      if (text === undefined) throw new vscode.CancellationError();
      spec = { size: parseSize(text) };
    }
  }
  const run = (force: boolean) => withWorkerProgress(ctx, `Resizing ${path.basename(image)}`, (progressToken, cancel) =>
    ctx.client.request(Resize, { path: image, ...spec, otherImages: ctx.recent.paths, ...(force ? { force } : {}), progressToken }, cancel));
  let r: ResizeResult;
  try {
    r = await run(given.force === true);
  } catch (e) {
    // a child of this image would break: say which, and resize only after an explicit "Resize Anyway"
    if (given.size !== undefined || given.smallest || !(e instanceof ResponseError) || e.code !== ErrorCode.UnsupportedImage || !/in (its|their) chain/.test(e.message)) throw e;
    const anyway = 'Resize Anyway';
    if (await vscode.window.showWarningMessage(e.message, { modal: true }, anyway) !== anyway) throw new vscode.CancellationError();
    r = await run(true);
  }
  ctx.log.info(`resized ${r.image}: ${r.before} -> ${r.after} bytes`);
  void ctx.refresher.now();
  if (!given.size && !given.smallest) {
    void vscode.window.showInformationMessage(`${path.basename(r.image)}: ${formatSize(r.before)} → ${formatSize(r.after)}.${r.notes.length ? ` ${r.notes.join(' ')}` : ''}`);
  }
  return r;
}
