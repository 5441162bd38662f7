import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import * as P from '../common/protocol';
import { IMAGE_SCHEME, parseImageUri } from '../views/image-fs';
import { UserError } from '../host/run-command';
import type { CommandContext } from './context';

/**
 * Extract...: copies files and folders of a browsed image into a folder the user picks, streaming (any size), with
 * progress and Cancel. Never replaces anything: an existing name is offered as "name (2)" or skipped.
 * `args[2]` (tests): `{ folder }` instead of the folder picker.
 */
export async function extract(ctx: CommandContext, args: unknown[]): Promise<P.BrowseExtractResult[]> {
  const [first, second, opts] = args as [unknown, unknown, { folder?: string } | undefined];
  const uris = (Array.isArray(second) && second.length ? second : [first ?? vscode.window.activeTextEditor?.document.uri])
    .filter((u): u is vscode.Uri => u instanceof vscode.Uri && u.scheme === IMAGE_SCHEME);
  if (!uris.length) throw new UserError('Select files or folders of a browsed disk image to extract');
  let folder = opts?.folder;
  if (!folder) {
    const picked = await vscode.window.showOpenDialog({ title: 'Extract to Folder', canSelectFiles: false, canSelectFolders: true, canSelectMany: false, openLabel: 'Extract Here' });
    if (!picked?.length) throw new vscode.CancellationError();
    folder = picked[0].fsPath;
  }
  const results: P.BrowseExtractResult[] = [];
  for (const uri of uris) {
    const { image, inner } = parseImageUri(uri);
    const name = path.posix.basename(inner) || path.basename(image).replace(/\.[^.]+$/, '');
    let dest = path.join(folder, name);
    if (exists(dest)) {
      const other = freeName(folder, name);
      const pick = await vscode.window.showWarningMessage(`${name} already exists in ${folder}.`, { modal: true, detail: 'vdisk never replaces files when extracting.' },
        `Keep Both (as ${path.basename(other)})`, 'Skip');
      if (!pick) throw new vscode.CancellationError();
      if (pick === 'Skip') continue;
      dest = other;
    }
    const progressId = `${Date.now()}-${Math.random().toString(36).slice(2)}`;
    results.push(await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Extracting ${name}`, cancellable: true },
      async (progress, token) => {
        let shown = 0;
        const onProgress = (p: P.BrowseProgressParams) => {
          if (p.progressId !== progressId || !p.total) return;
          const pct = Math.min(100, (p.bytes / p.total) * 100);
          progress.report({ increment: pct - shown, message: `${(p.bytes / 1048576).toFixed(1)} of ${(p.total / 1048576).toFixed(1)} MiB` });
          shown = pct;
        };
        ctx.client.on('browseProgress', onProgress);
        try {
          return await ctx.client.request(P.BrowseExtract, { image, path: inner, dest, progressId }, token);
        } finally { ctx.client.off('browseProgress', onProgress); }
      }));
  }
  const problems = results.flatMap((r) => r.problems ?? []);
  if (problems.length) {
    void vscode.window.showWarningMessage(`${problems.length} damaged entr${problems.length === 1 ? 'y was' : 'ies were'} skipped: the image's file system is damaged there.`,
      { modal: false, detail: problems.slice(0, 10).join('\n') });
  }
  if (results.length) {
    const last = results[results.length - 1];
    void vscode.window.showInformationMessage(`Extracted ${results.reduce((n, r) => n + r.files, 0)} file(s) to ${folder}.`, 'Reveal').then((pick) => {
      if (pick) void vscode.commands.executeCommand('revealFileInOS', vscode.Uri.file(last.dest));
    });
  }
  return results;
}

function exists(p: string): boolean { try { fs.lstatSync(p); return true; } catch { return false; } }

function freeName(folder: string, name: string): string {
  const ext = path.extname(name), stem = name.slice(0, name.length - ext.length);
  for (let i = 2; ; i++) { const p = path.join(folder, `${stem} (${i})${ext}`); if (!exists(p)) return p; }
}
