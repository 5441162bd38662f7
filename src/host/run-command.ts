// The one place where a command's failure becomes a message: the specific cause, and the actions that help.
import * as vscode from 'vscode';
import { ResponseError } from 'vscode-jsonrpc';
import { Capabilities, ErrorCode, ErrorData } from '../common/protocol';

/** Every error shown to the user, for the log and for tests (toasts are not observable from the API). */
export const shownErrors = new vscode.EventEmitter<{ command: string; message: string; actions: string[] }>();

/** A failure the user caused or can fix, with no log-worthy stack (e.g. "no file selected"). */
export class UserError extends Error {}

export interface ErrorAction { title: string; run: () => unknown }

/** Actions a failure offers; `retry` re-runs the command with other options where that makes sense. */
export interface FailureContext {
  /** Attaches read-only: the file that failed (`path`, known even when the palette's file dialog chose it), else the same arguments. */
  retryReadOnly?: (path?: string) => unknown;
  /** "Attach as Raw Disk" for a file whose content does not match its name (asks again, with a warning). */
  attachAsRaw?: (path: string) => unknown;
  /** Runs the same command again with the same arguments. */
  retry?: () => unknown;
  /** Runs the same command again, looking for missing parents in `folder` too. */
  retryWithParentFolder?: (folder: string) => unknown;
  /** Switches to an elevated worker; offered with retry on "needs-elevation" (Windows) and "not-root" (Linux). */
  elevate?: () => Promise<void>;
  /** The worker's capability report: whether an elevation route exists, and what it is called. */
  caps?: () => Capabilities | undefined;
}

/** Whether the browsing command (`vdisk.browse`, from the browsing feature) is part of this build. */
export interface ActionEnv { browse: boolean }

/** Reasons after which the user may want to browse the image's files instead, or see what is missing. */
const WAY_OUT = new Set(['not-root', 'needs-elevation', 'format-not-attachable-on-windows', 'raw-not-attachable-on-windows', 'platform', 'not-authorized', 'elevation-refused', 'sudo-needs-password']);

export function actionsFor(err: unknown, ctx: FailureContext = {}, env: ActionEnv = { browse: false }): ErrorAction[] {
  const showLog: ErrorAction = { title: 'Show Log', run: () => vscode.commands.executeCommand('vdisk.showLog') };
  if (!(err instanceof ResponseError)) return err instanceof UserError ? [] : [showLog];
  const data = (err.data ?? {}) as ErrorData;
  const out: ErrorAction[] = [];
  switch (err.code) {
    case ErrorCode.WorkerDied:
      out.push({ title: 'Restart Worker', run: () => vscode.commands.executeCommand('vdisk.restartWorker') });
      break;
    case ErrorCode.UnsupportedImage:
    case ErrorCode.NotSupported:
    case ErrorCode.PermissionDenied:
    case ErrorCode.ImageProblem:
      if ((data.reason === 'needs-elevation' || data.reason === 'not-root') && ctx.elevate && ctx.retry) {
        const caps = ctx.caps?.();
        // offered when the report names a route; before any report (Windows' own errors) as before
        if (!caps || caps.elevation.some((e) => e.available)) {
          const { elevate, retry } = ctx;
          const title = caps?.platform === 'win32' || (!caps && data.reason === 'needs-elevation') ? 'Retry as Administrator' : 'Retry as Root';
          out.push({ title, run: () => elevate().then(() => retry(), (e: unknown) => showFailure('vdisk.elevate', e)) });
        }
      }
      if (WAY_OUT.has(data.reason ?? '') && env.browse && data.path) {
        const image = vscode.Uri.file(data.path);
        out.push({ title: 'Browse Instead', run: () => vscode.commands.executeCommand('vdisk.browse', image) });
      }
      if (WAY_OUT.has(data.reason ?? '')) out.push({ title: 'Show What\'s Missing', run: () => vscode.commands.executeCommand('vdisk.showCapabilities') });
      if (data.reason === 'parent-missing' && ctx.retryWithParentFolder) {
        const retry = ctx.retryWithParentFolder;
        out.push({
          title: 'Attach Parent Folder...', run: async () => {
            const picked = await vscode.window.showOpenDialog({ title: 'Folder that holds the parent disk', canSelectFolders: true, canSelectFiles: false, openLabel: 'Look Here' });
            if (picked?.[0]) await retry(picked[0].fsPath);
          },
        });
      }
      if (ctx.retryReadOnly && ['iso-read-write', 'differencing-read-write', 'read-only-fs', 'not-root', 'parent-in-use'].includes(data.reason ?? '')) {
        const retry = ctx.retryReadOnly;
        out.push({ title: 'Retry Read-Only', run: () => retry(data.path) });
      }
      if (ctx.attachAsRaw && data.reason === 'content-does-not-match-extension' && data.path) {
        const raw = ctx.attachAsRaw; const file = data.path;
        out.push({ title: 'Attach as Raw Disk...', run: () => raw(file) });
      }
      break;
    case ErrorCode.MissingDependency:
      out.push({ title: 'Show What\'s Missing', run: () => vscode.commands.executeCommand('vdisk.showCapabilities') });
      out.push({ title: 'Open Settings', run: () => vscode.commands.executeCommand('workbench.action.openSettings', 'vdisk') });
      break;
  }
  out.push(showLog);
  return out;
}

export function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/**
 * Runs a command body; any failure is logged and shown once as an error message with its actions.
 * Returns the body's result, or undefined when it failed (the failure has been shown).
 */
export async function runCommand<T>(log: vscode.LogOutputChannel, name: string, body: () => Promise<T>, ctx: FailureContext = {}): Promise<T | undefined> {
  try {
    return await body();
  } catch (err) {
    if (err instanceof vscode.CancellationError || (err instanceof ResponseError && err.code === ErrorCode.Cancelled)) {
      log.info(`${name}: cancelled`);
      return undefined;
    }
    log.error(`${name}: ${messageOf(err)}`);
    showFailure(name, err, ctx);
    return undefined;
  }
}

function showFailure(name: string, err: unknown, ctx: FailureContext = {}): void {
  void vscode.commands.getCommands(true).then((all) => all.includes('vdisk.browse'), () => false)
    .then((browse) => showActions(name, err, actionsFor(err, ctx, { browse })));
}

function showActions(name: string, err: unknown, actions: ErrorAction[]): void {
  const msg = messageOf(err);
  shownErrors.fire({ command: name, message: msg, actions: actions.map((a) => a.title) });
  void vscode.window.showErrorMessage(msg, ...actions.map((a) => a.title)).then((picked) => {
    actions.find((a) => a.title === picked)?.run();
  });
}
