// Compact Disk Image...: a dynamic VHD/VHDX without its blocks of zeros and the blocks a clean ext4 or NTFS marks free.
import * as path from 'path';
import * as vscode from 'vscode';
import { Compact, CompactResult } from '../common/protocol';
import { formatSize } from '../common/sizes';
import { UserError } from '../host/run-command';
import type { CommandContext } from './context';
import { imageTargets } from './targets';
import { withWorkerProgress } from './progress';

/** `args`: the image (Uri, path or tree node), then optionally `{ zeroOnly }`. */
export async function compact(ctx: CommandContext, args: unknown[]): Promise<CompactResult> {
  if (!vscode.workspace.isTrusted) throw new UserError('Changing disk images is disabled in Restricted Mode: trust this workspace first.');
  const [image] = await imageTargets(args.slice(0, 1), 'Select the Image to Compact...');
  const opts = (args[1] && typeof args[1] === 'object' ? args[1] : {}) as { zeroOnly?: boolean };
  const r = await withWorkerProgress(ctx, `Compacting ${path.basename(image)}`, (progressToken, cancel) =>
    ctx.client.request(Compact, { path: image, zeroOnly: opts.zeroOnly === true, progressToken }, cancel));
  ctx.log.info(`compacted ${r.image}: ${r.before} -> ${r.after} bytes`);
  if (!args[1]) void vscode.window.showInformationMessage(`${path.basename(r.image)}: ${formatSize(r.before)} → ${formatSize(r.after)} (${formatSize(Math.max(0, r.before - r.after))} reclaimed).`);
  return r;
}
