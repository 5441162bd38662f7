// Which elevation route "Retry as Root" / "Retry as Administrator" takes, from the worker's capability report and
// vdisk.linux.elevation; and the route that needs VS Code: sudo in a terminal, where the user types the password.
import * as vscode from 'vscode';
import { ResponseError } from 'vscode-jsonrpc';
import { Capabilities, ElevationRoute, ErrorCode } from '../common/protocol';
import { ElevationLauncher, elevatedWorkerArgs, elevationCommand, spawnLauncher, uacLauncher } from './elevation-launch';
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
export function chooseLauncher(caps: Capabilities | undefined, setting: 'ask' | 'pkexec' | 'sudo' | 'never', log?: (line: string) => void): ElevationLauncher {
  if (!caps) throw new UserError('The worker has not said yet what this machine allows; try again in a moment.');
  if (caps.elevated) throw new UserError('The worker already runs elevated.');
  const available = (r: ElevationRoute) => caps.elevation.find((e) => e.route === r && e.available);
  if (caps.platform === 'win32') {
    if (!available('uac')) throw new UserError('The worker already runs as administrator.');
    return uacLauncher;
  }
  if (!caps.elevation.length) throw new UserError(`vdisk cannot elevate on ${caps.platform}.`);
  if (setting === 'never') throw new UserError('Elevation is turned off (vdisk.linux.elevation is "never").');
  const pkexec = () => spawnLauncher('pkexec', { nodePath: process.execPath, interactive: false, onLog: log });
  if (setting === 'pkexec') return pkexec();
  if (setting === 'sudo') return terminalSudoLauncher();
  if (available('pkexec')) return pkexec();
  if (available('sudo')) return terminalSudoLauncher();
  throw new UserError(`vdisk cannot become root here: ${caps.elevation.map((e) => `${e.route}: ${e.detail}`).join('; ')}.`);
}

/** The action's title for this platform's route. */
export function retryTitle(caps: Capabilities | undefined): string {
  return caps?.platform === 'win32' ? 'Retry as Administrator' : 'Retry as Root';
}
