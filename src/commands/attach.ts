import * as path from 'path';
import * as vscode from 'vscode';
import { ResponseError } from 'vscode-jsonrpc';
import { Attach, AttachedDisk, ErrorData } from '../common/protocol';
import { config } from '../host/config';
import { confirm, inform, preConfirmed } from '../host/notify';
import { UserError } from '../host/run-command';
import type { CommandContext } from './context';
import { imageTargets } from './targets';

/** Options a caller may pass as the third argument (the first two are the Explorer's Uri and selection). */
interface AttachOptions {
  /** From "Attach Parent Folder...": more places to look for a missing parent. */
  searchFolders?: string[];
  /** From "Attach as Raw Disk...": the file's bytes as they are, after a warning. */
  asRaw?: boolean;
}

/** Attach Disk Image (Read-Write / Read-Only)...: Explorer selection, a path, or a file picker. */
export async function attach(ctx: CommandContext, readOnly: boolean, args: unknown[]): Promise<AttachedDisk[]> {
  if (!vscode.workspace.isTrusted) {
    throw new UserError('Attaching disk images is disabled in Restricted Mode: trust this workspace to attach images from it.');
  }
  const images = await imageTargets(args, readOnly ? 'Attach Disk Image (Read-Only)...' : 'Attach Disk Image (Read-Write)...');
  const lifetime = config.lifetime();
  const { searchFolders, asRaw } = (args[2] ?? {}) as AttachOptions;
  if (asRaw && !preConfirmed(args) && !(await confirm(`Attach ${images.map((i) => path.basename(i)).join(', ')} as a raw disk?`,
    'Its content is not the format its name says. As a raw disk, the file\'s bytes are exposed exactly as they are: if it really is '
    + 'a damaged image of that format, what you see is its internal structure, not its data.' + (readOnly ? '' : ' Writes change the file directly.'),
    'Attach as Raw Disk'))) throw new vscode.CancellationError();
  const out: AttachedDisk[] = [];
  try {
    for (const image of images) {
      const access = readOnly ? 'read-only' : 'read-write';
      const disk = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `Attaching ${path.basename(image)} (${access}${asRaw ? ', raw' : ''})...`, cancellable: true },
        (_progress, token) => ctx.client.request(Attach, { path: image, readOnly, lifetime, searchFolders, asRaw, protectChainsOf: ctx.recent.paths }, token)
          .catch((e: unknown) => { throw withPath(e, image); }));
      out.push(disk);
      if (config.mountAfterAttach()) await vscode.commands.executeCommand('vdisk.mount', disk.device);
      await ctx.recent.add(image);
    }
  } finally {
    await ctx.refresher.now();
    // the worker logs each attach with its engine and timing: one line per action in the log
    if (out.length) {
      void inform(out.map((d) => `Attached ${d.image ? path.basename(d.image) : d.device} ${d.readOnly ? 'read-only' : 'read-write'} as ${d.device}.`).join(' '));
    }
  }
  return out;
}

/** Every attach failure names its file, so "Retry Read-Only" retries that file even when a dialog chose it. */
function withPath(e: unknown, image: string): unknown {
  if (!(e instanceof ResponseError)) return e;
  const data = (e.data ?? {}) as ErrorData;
  return data.path ? e : new ResponseError(e.code, e.message, { ...data, path: image });
}
