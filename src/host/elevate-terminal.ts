// Which elevation route "Retry as Root" / "Retry as Administrator" takes, from the worker's capability report and
// vdisk.linux.elevation; and the route that needs VS Code: sudo in a terminal, where the user types the password.
import * as vscode from 'vscode';
import { ResponseError } from 'vscode-jsonrpc';
import { Capabilities, ErrorCode } from '../common/protocol';
import { ElevationLauncher, elevatedWorkerArgs, elevationCommand, elevationRoute, ElevationSetting, spawnLauncher, uacLauncher } from './elevation-launch';
import { UserError } from './run-command';

/**
 * sudo runs in a terminal as its own process (shellPath, no shell, nothing to quote): the password prompt is there,
 * and the elevated worker lives as long as that terminal; closing it ends the elevated worker and its session disks.
 */
export function terminalSudoLauncher(nodePath = process.execPath): ElevationLauncher {
  return {
    route: 'sudo',
    launch: async (ctx) => {
      const { file, args } = elevationCommand('sudo', nodePath, elevatedWorkerArgs(ctx.workerPath, ctx.session));
      const term = vscode.window.createTerminal({
        name: 'vdisk: Retry as Root', shellPath: file, shellArgs: args, isTransient: true,
        message: 'vdisk needs root: type your password for sudo below. The elevated worker runs in this terminal for the rest of the window; closing it detaches session disks.',
      });
      term.show();
      const failed = new Promise<never>((_, reject) => {
        const sub = vscode.window.onDidCloseTerminal((t) => {
          if (t !== term) return;
          sub.dispose();
          reject(new ResponseError(ErrorCode.PermissionDenied, `sudo ended before the elevated worker connected (exit code ${t.exitStatus?.code ?? 'unknown'})`, { reason: 'elevation-refused' }));
        });
      });
      failed.catch(() => undefined);
      return { failed };
    },
  };
}

/** The route for this machine and setting, or a UserError saying why there is none. */
export function chooseLauncher(caps: Capabilities | undefined, setting: ElevationSetting, log?: (line: string) => void): ElevationLauncher {
  const pick = elevationRoute(caps, setting);
  if ('refusal' in pick) throw new UserError(pick.refusal);
  if (pick.route === 'uac') return uacLauncher;
  if (pick.route === 'pkexec') return spawnLauncher('pkexec', { nodePath: process.execPath, interactive: false, onLog: log });
  return terminalSudoLauncher();
}

/** The action's title for this platform's route. */
export function retryTitle(caps: Capabilities | undefined): string {
  return caps?.platform === 'win32' ? 'Retry as Administrator' : 'Retry as Root';
}
