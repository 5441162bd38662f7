import * as vscode from 'vscode';
import { config } from '../host/config';
import { chooseLauncher, retryTitle } from '../host/elevate-terminal';
import type { CommandContext } from './context';

/** "Restart Worker Elevated" / Retry as Root / Retry as Administrator: every later request goes to an elevated worker. */
export async function elevate(ctx: CommandContext): Promise<void> {
  const caps = ctx.caps.current ?? await ctx.caps.refresh();
  const launcher = chooseLauncher(caps, config.linuxElevation(), (line) => ctx.log.info(`[elevated worker] ${line}`));
  await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `${retryTitle(caps)}: waiting for ${launcher.route === 'sudo' ? 'your password in the terminal' : launcher.route === 'pkexec' ? 'the authentication dialog' : 'the UAC prompt'}...` },
    () => ctx.client.elevate({ launcher }));
  await ctx.refresher.now();
}
