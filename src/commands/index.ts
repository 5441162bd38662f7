// The one registration table: every command id with its body. package.json declares the same ids
// (a unit test checks the two agree), and every body runs through runCommand's error handling.
import * as vscode from 'vscode';
import { runCommand } from '../host/run-command';
import { config } from '../host/config';
import type { CommandContext } from './context';
import { attach } from './attach';
import { detach } from './detach';
import { detachAll } from './detach-all';
import { revealImage } from './reveal-image';
import { copyDevicePath } from './copy-device-path';
import { inspect } from './inspect';
import { createDiff } from './create-diff';
import { showChain } from './show-chain';
import { clearRecent, forgetRecent } from './recent';
import { mount } from './mount';
import { unmount } from './unmount';
import { openVolume } from './open-volume';
import { elevate } from './elevate';
import { showCapabilities } from './show-capabilities';
import { newDisk } from './new-disk';
import { locateParent } from './locate-parent';
import { convert } from './convert';
import { merge } from './merge';
import { compact } from './compact';
import { browse } from './browse';
import { extract } from './extract';
import { copyImagePath } from './copy-image-path';
import { compactWslDisk, findWslAndDockerDisks } from './wsl-disks';
import { resize } from './resize';

type Body = (ctx: CommandContext, args: unknown[]) => Promise<unknown>;

export const COMMANDS: Record<string, Body> = {
  'vdisk.attach': (ctx, args) => attach(ctx, false, args),
  'vdisk.attachReadOnly': (ctx, args) => attach(ctx, true, args),
  'vdisk.attachDefault': (ctx, args) => attach(ctx, config.defaultReadOnly(), args),
  'vdisk.detach': (ctx, args) => detach(ctx, args),
  'vdisk.detachAll': (ctx, args) => detachAll(ctx, args),
  'vdisk.inspect': (ctx, args) => inspect(ctx, args),
  'vdisk.showChain': (ctx, args) => showChain(ctx, args),
  'vdisk.createDiff': (ctx, args) => createDiff(ctx, args),
  'vdisk.mount': (ctx, args) => mount(ctx, args),
  'vdisk.unmount': (ctx, args) => unmount(ctx, args),
  'vdisk.openVolume': (ctx, args) => openVolume(ctx, args),
  'vdisk.refresh': async (ctx) => ctx.refresher.now(),
  'vdisk.showLog': async (ctx) => ctx.log.show(true),
  'vdisk.restartWorker': async (ctx) => { await ctx.client.restart(); await ctx.refresher.now(); },
  'vdisk.revealImage': (_ctx, args) => revealImage(args),
  'vdisk.copyDevicePath': (_ctx, args) => copyDevicePath(args),
  'vdisk.forgetRecent': (ctx, args) => forgetRecent(ctx, args),
  'vdisk.clearRecent': (ctx) => clearRecent(ctx),
  'vdisk.mountVolume': (ctx, args) => mount(ctx, args),
  'vdisk.showCapabilities': async () => showCapabilities(),
  'vdisk.elevate': (ctx) => elevate(ctx),
  'vdisk.newDisk': (ctx, args) => newDisk(ctx, args),
  'vdisk.locateParent': (ctx, args) => locateParent(ctx, args),
  'vdisk.convert': (ctx, args) => convert(ctx, args),
  'vdisk.merge': (ctx, args) => merge(ctx, args),
  'vdisk.compact': (ctx, args) => compact(ctx, args),
  'vdisk.browse': (ctx, args) => browse(ctx, args, false),
  'vdisk.browseInNewWindow': (ctx, args) => browse(ctx, args, true),
  'vdisk.extract': (ctx, args) => extract(ctx, args),
  'vdisk.copyPathInImage': (_ctx, args) => copyImagePath(args),
  'vdisk.findWslDisks': (ctx, args) => findWslAndDockerDisks(ctx, args),
  'vdisk.resize': (ctx, args) => resize(ctx, args),
  'vdisk.compactWslDisk': (ctx, args) => compactWslDisk(ctx, args),
  'vdisk.refreshWslDisks': async (ctx) => ctx.wsl?.refresh(),
};

const ATTACHES = new Set(['vdisk.attach', 'vdisk.attachReadOnly', 'vdisk.attachDefault']);

/** Failures of these offer "Retry Read-Only" with the same arguments. */
const RETRY_READ_ONLY: Record<string, string> = { 'vdisk.attach': 'vdisk.attachReadOnly', 'vdisk.attachDefault': 'vdisk.attachReadOnly' };

export function registerCommands(ctx: CommandContext,
  register: (id: string, run: (...args: unknown[]) => unknown) => vscode.Disposable = vscode.commands.registerCommand): vscode.Disposable[] {
  return Object.entries(COMMANDS).map(([id, body]) =>
    register(id, (...args: unknown[]) => runCommand(ctx.log, id, () => body(ctx, args), {
      // the failing file, not the arguments: from the palette those are empty and would open the file dialog again
      retryReadOnly: RETRY_READ_ONLY[id]
        ? (file) => vscode.commands.executeCommand(RETRY_READ_ONLY[id], ...(file ? [vscode.Uri.file(file)] : args)) : undefined,
      attachAsRaw: ATTACHES.has(id) ? (file) => vscode.commands.executeCommand(id, vscode.Uri.file(file), undefined, { asRaw: true }) : undefined,
      retry: () => vscode.commands.executeCommand(id, ...args),
      retryWithParentFolder: ATTACHES.has(id)
        ? (folder) => vscode.commands.executeCommand(id, args[0], args[1], { searchFolders: [folder] }) : undefined,
      elevate: () => elevate(ctx),
      caps: () => ctx.caps.current,
    })));
}
