// Elevation routes as launchers of one transport: each starts `node dist/worker.js --pipe <socket> --secret-file <f>`
// elevated (UAC through the current worker, pkexec, sudo); the elevated worker connects back and proves the secret
// (common/elevation.ts). No `vscode` here: the CLI uses it too; the VS Code terminal route lives in elevate-terminal.ts.
import * as cp from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ResponseError } from 'vscode-jsonrpc';
import * as P from '../common/protocol';
import { newElevationSession } from './elevation';

export interface ElevationSession { dir: string; pipe: string; secret: string; secretFile: string; dispose(): void }

/** The secret file and the socket live in a private folder (0700, the user's own); Windows: the user's temp folder. */
export function openElevationSession(): ElevationSession {
  const own = process.platform !== 'win32';
  let dir = os.tmpdir();
  if (own) {
    // mkdtemp: mode 0700, ours; the runtime dir when this user has a usable one, else the temp folder
    const bases = [process.env.XDG_RUNTIME_DIR, os.tmpdir()].filter((b): b is string => !!b);
    dir = '';
    for (const b of bases) { try { dir = fs.mkdtempSync(path.join(b, 'vdisk-elevate-')); break; } catch { /* next */ } }
    if (!dir) throw new Error(`no private folder for the elevation socket could be made in ${bases.join(' or ')}`);
  }
  const s = newElevationSession(dir);
  return {
    dir, ...s,
    dispose: () => {
      fs.rmSync(s.secretFile, { force: true });
      if (own) { fs.rmSync(s.pipe, { force: true }); try { fs.rmdirSync(dir); } catch { /* not empty: leave it */ } }
    },
  };
}

export interface LaunchContext {
  session: ElevationSession;
  workerPath: string;
  /** The running (unelevated) worker, for the UAC route that starts the elevated copy itself. */
  request<A, R>(type: import('vscode-jsonrpc').RequestType<A, R, void>, params: A): Promise<R>;
}
export interface Launched {
  pid?: number;
  /** Rejects when the launch fails before the worker connects (prompt dismissed, not authorised...). */
  failed?: Promise<never>;
}
export interface ElevationLauncher {
  readonly route: P.ElevationRoute;
  launch(ctx: LaunchContext): Promise<Launched>;
}

/** The worker's own arguments for an elevated start. */
export function elevatedWorkerArgs(workerPath: string, s: Pick<ElevationSession, 'pipe' | 'secretFile'>): string[] {
  return [workerPath, '--pipe', s.pipe, '--secret-file', s.secretFile, '--elevated'];
}

/**
 * The command a Linux route runs. Electron (VS Code's runtime) runs as Node only with ELECTRON_RUN_AS_NODE, and sudo
 * and pkexec clear the environment: /usr/bin/env sets it on the other side. The VS Code terminal runs exactly this.
 */
export function elevationCommand(route: 'sudo' | 'pkexec', nodePath: string, workerArgs: string[], nonInteractive = false): { file: string; args: string[] } {
  const tail = ['/usr/bin/env', 'ELECTRON_RUN_AS_NODE=1', nodePath, ...workerArgs];
  return route === 'sudo' ? { file: 'sudo', args: [...(nonInteractive ? ['-n'] : []), '--', ...tail] } : { file: 'pkexec', args: tail };
}

export type ElevationSetting = 'ask' | 'pkexec' | 'sudo' | 'never';

/**
 * Which route "Retry as Root" / "Retry as Administrator" takes, from the worker's capability report and
 * vdisk.linux.elevation (no `vscode`: elevate-terminal.ts turns it into a launcher, tests call it as the host does).
 * A named route is taken even when the report doubts it (pkexec without an agent still works where a polkit rule
 * needs no password); `ask` takes pkexec when an agent answers, else sudo.
 */
export function elevationRoute(caps: P.Capabilities | undefined, setting: ElevationSetting): { route: P.ElevationRoute } | { refusal: string } {
  if (!caps) return { refusal: 'The worker has not said yet what this machine allows; try again in a moment.' };
  if (caps.elevated) return { refusal: 'The worker already runs elevated.' };
  const available = (r: P.ElevationRoute) => caps.elevation.some((e) => e.route === r && e.available);
  if (caps.platform === 'win32') return available('uac') ? { route: 'uac' } : { refusal: 'The worker already runs as administrator.' };
  if (!caps.elevation.length) return { refusal: `vdisk cannot elevate on ${caps.platform}.` };
  if (setting === 'never') return { refusal: 'Elevation is turned off (vdisk.linux.elevation is "never").' };
  if (setting === 'pkexec' || setting === 'sudo') return { route: setting };
  if (available('pkexec')) return { route: 'pkexec' };
  if (available('sudo')) return { route: 'sudo' };
  return { refusal: `vdisk cannot become root here: ${caps.elevation.map((e) => `${e.route}: ${e.detail}`).join('; ')}.` };
}

/** Windows: the current worker shows the UAC prompt (ShellExecuteExW "runas"). */
export const uacLauncher: ElevationLauncher = {
  route: 'uac',
  launch: async (ctx) => ({ pid: (await ctx.request(P.Elevate, { pipe: ctx.session.pipe, secretFile: ctx.session.secretFile })).pid || undefined }),
};

const PKEXEC_WAYS_OUT = 'set vdisk.linux.elevation to "sudo" (it asks for your password in a terminal), or Browse Instead';

/**
 * pkexec's exit 127, by what it printed (polkit 122): polkit said no; nobody could be asked (no agent and no terminal
 * for its text agent); or there is no polkit on the system bus to ask. Each names the way out.
 */
export function pkexecRefusal(stderr: string): string {
  const said = stderr.split('\n').map((l) => l.trim()).filter((l) => l && !/^\[(trace|debug|info|warn|error)\]/.test(l) && !/incident has been reported/.test(l));
  const last = said.slice(-1)[0] ?? '';
  if (/Not authorized/i.test(last)) {
    return `pkexec refused: polkit does not allow you to run vdisk's worker as root (org.freedesktop.policykit.exec). Ask an administrator for a polkit rule, or ${PKEXEC_WAYS_OUT}.`;
  }
  if (said.some((l) => /textual authentication agent|controlling terminal|No authentication agent/i.test(l))) {
    return `pkexec could not ask for your password: no polkit authentication agent runs in this session (desktops start one; SSH and WSL do not). Start one (e.g. pkttyagent in a terminal), or ${PKEXEC_WAYS_OUT}.`;
  }
  if (said.some((l) => /Error getting authority|Could not connect/i.test(l))) {
    return `pkexec cannot reach polkit (${last.replace(/^Error getting authority:\s*/, '')}): polkitd must run on the system D-Bus. Start it (systemctl start polkit), or ${PKEXEC_WAYS_OUT}.`;
  }
  return `pkexec refused${last ? `: ${last}` : ''}. ${PKEXEC_WAYS_OUT[0].toUpperCase()}${PKEXEC_WAYS_OUT.slice(1)}.`;
}

function launchFailure(route: string, code: number | null, signal: string | null, stderr: string): ResponseError<P.ErrorData> {
  const tail = stderr.trim().split('\n').filter((l) => !/^\[(trace|debug|info|warn|error)\]/.test(l)).slice(-2).join(' ');
  if (route === 'pkexec' && code === 126) return new ResponseError(P.ErrorCode.Cancelled, 'The administrator prompt was dismissed; nothing was changed.', { reason: 'elevation-dismissed' });
  if (route === 'pkexec' && code === 127) return new ResponseError(P.ErrorCode.PermissionDenied, pkexecRefusal(stderr), { reason: 'elevation-refused' });
  if (route === 'sudo' && /password is required/i.test(tail)) {
    return new ResponseError(P.ErrorCode.PermissionDenied, 'sudo needs your password: run the command in a terminal (it prompts there), or add a sudo rule', { reason: 'sudo-needs-password' });
  }
  return new ResponseError(P.ErrorCode.PermissionDenied,
    `${route} did not start the elevated worker (${signal ? `killed by ${signal}` : `exit code ${code}`})${tail ? `: ${tail}` : ''}`, { reason: 'elevation-refused' });
}

/**
 * pkexec (a polkit agent asks), or sudo run by the CLI (it prompts on the terminal, or `-n` without one). Lines the
 * worker logs on stderr go to `onLog`; sudo's and pkexec's own messages end up in the failure.
 */
export function spawnLauncher(route: 'sudo' | 'pkexec', o: { nodePath: string; interactive: boolean; onLog?: (line: string) => void }): ElevationLauncher {
  return {
    route,
    launch: async (ctx) => {
      const { file, args } = elevationCommand(route, o.nodePath, elevatedWorkerArgs(ctx.workerPath, ctx.session), route === 'sudo' && !o.interactive);
      const child = cp.spawn(file, args, { stdio: [o.interactive ? 'inherit' : 'ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr!.setEncoding('utf8');
      child.stderr!.on('data', (d: string) => {
        stderr = (stderr + d).slice(-4000);
        for (const line of d.split('\n')) if (line.trim()) o.onLog?.(line);
      });
      const failed = new Promise<never>((_, reject) => {
        child.once('error', (e) => reject(new ResponseError(P.ErrorCode.MissingDependency, `${file} could not be started: ${e.message}`, { missing: file })));
        child.once('exit', (code, signal) => reject(launchFailure(route, code, signal, stderr)));
      });
      failed.catch(() => undefined);
      return { pid: child.pid, failed };
    },
  };
}
