import * as path from 'path';
import * as vscode from 'vscode';
import { CreateDiff, CreateDiffResult } from '../common/protocol';
import { UserError } from '../host/run-command';
import { config } from '../host/config';
import { inform } from '../host/notify';
import type { CommandContext } from './context';
import { imageTargets } from './targets';

/** Create Differencing Disk...: a scratch VHD/VHDX layer over a parent that must not change. */
export async function createDiff(ctx: CommandContext, args: unknown[]): Promise<CreateDiffResult | undefined> {
  if (!vscode.workspace.isTrusted) {
    throw new UserError('Creating disk images is disabled in Restricted Mode: trust this workspace first.');
  }
  const [parent] = await imageTargets(args.slice(0, 1), 'Select the Parent Disk...');
  const ext = path.extname(parent).toLowerCase() === '.vhd' ? '.vhd' : '.vhdx';
  const childArg = typeof args[1] === 'string' ? args[1] : undefined;
  const child = childArg ?? (await vscode.window.showSaveDialog({
    title: `Create Differencing Disk of ${path.basename(parent)}`,
    defaultUri: vscode.Uri.file(uniqueName(parent, ext)),
    filters: ext === '.vhd' ? { 'VHD images': ['vhd'] } : { 'VHDX images': ['vhdx', 'avhdx'], 'VHD images': ['vhd'] },
    saveLabel: 'Create',
  }))?.fsPath;
  if (!child) throw new vscode.CancellationError();
  const r = await ctx.client.request(CreateDiff, { parent, child });
  ctx.log.info(`created ${r.format} differencing disk ${r.child} over ${parent}`);
  await ctx.recent.add(r.child);
  if (!childArg) {
    // every button names its access mode; on Linux a differencing disk attaches read-only only
    const modes = process.platform === 'linux' ? ['Attach Read-Only'] : config.defaultReadOnly() ? ['Attach Read-Only', 'Attach Read-Write'] : ['Attach Read-Write', 'Attach Read-Only'];
    void inform(`Created ${path.basename(r.child)}: writes go to it, ${path.basename(parent)} stays unchanged.`, ...modes, 'Inspect')
      .then((pick) => {
        if (pick === 'Attach Read-Only') void vscode.commands.executeCommand('vdisk.attachReadOnly', vscode.Uri.file(r.child));
        if (pick === 'Attach Read-Write') void vscode.commands.executeCommand('vdisk.attach', vscode.Uri.file(r.child));
        if (pick === 'Inspect') void vscode.commands.executeCommand('vdisk.inspect', vscode.Uri.file(r.child));
      });
  }
  return r;
}

function uniqueName(parent: string, ext: string): string {
  const base = path.join(path.dirname(parent), `${path.basename(parent, path.extname(parent))}-diff`);
  return `${base}${ext}`;
}
