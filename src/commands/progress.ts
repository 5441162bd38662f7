// A long worker request under a notification with a progress bar and Cancel (which cancels the request).
import * as vscode from 'vscode';
import type { ProgressParams } from '../common/protocol';
import type { CommandContext } from './context';

let next = 0;

export function withWorkerProgress<R>(ctx: CommandContext, title: string, fn: (token: string, cancel: vscode.CancellationToken) => Promise<R>): Promise<R> {
  return Promise.resolve(vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title, cancellable: true }, async (progress, cancel) => {
    const token = `p${process.pid}-${++next}`;
    let shown = 0;
    const on = (p: ProgressParams) => {
      if (p.token !== token || p.total <= 0) return;
      const pct = Math.min(100, (100 * p.done) / p.total);
      progress.report({ increment: pct - shown, message: `${Math.floor(pct)}%` });
      shown = pct;
    };
    ctx.client.on('progress', on);
    try { return await fn(token, cancel); } finally { ctx.client.off('progress', on); }
  }));
}
