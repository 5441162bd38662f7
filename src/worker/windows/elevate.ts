// "Retry as Administrator", worker side: start an elevated copy of the worker through the UAC prompt
// (ShellExecuteExW, verb "runas"); it connects back to the host's named pipe with --pipe and proves it read the
// per-session secret file (--secret-file) before any JSON-RPC. VS Code itself never runs elevated.
import * as path from 'path';
import koffi from 'koffi';
import { ErrorCode } from '../../common/protocol';
import { WorkerError } from '../errors';
import { closeHandle, loadApi } from './api';
import * as C from './constants';
import { quoteWindowsArg } from '../../common/elevation';
import { SHELLEXECUTEINFOW } from './structs';
import { win32Error } from './win32-errors';

export interface ElevatedLaunch {
  /** The bundled worker (dist/worker.js in the extension's folder). */
  workerPath: string;
  /** The host's named pipe, \\.\pipe\vdisk-elevated-<id>, already listening. */
  pipe: string;
  secretFile: string;
}

/** What runs the worker: this process's own executable, and whether it is Electron (VS Code) or plain Node. */
export interface Runtime { execPath: string; electron: boolean; systemRoot: string | undefined }

export function currentRuntime(env: NodeJS.ProcessEnv = process.env): Runtime {
  return { execPath: process.execPath, electron: !!process.versions.electron, systemRoot: env.SystemRoot ?? env.windir };
}

export interface ElevationCommand { file: string; parameters: string; directory: string; startsWorkerDirectly: boolean }

/**
 * What ShellExecuteExW "runas" starts: always this process's own executable (VS Code's, never a node.exe found on
 * PATH) with the worker from the extension's folder.
 * - Plain Node (the CLI, tests): `<node> <worker> --pipe P --secret-file F`.
 * - VS Code (Electron): an elevated process does not get the caller's environment, so ELECTRON_RUN_AS_NODE is set
 *   for it by cmd.exe from System32, as VS Code's own `bin\code.cmd` does:
 *   `cmd.exe /d /v:off /s /c "set "ELECTRON_RUN_AS_NODE=1" && "<Code.exe>" "<worker>" ..."`. /d skips AutoRun
 *   commands, /v:off delayed expansion; every argument is quoted, so & | < > ^ stay literal. cmd.exe still expands
 *   %NAME% inside quotes, and nothing escapes that: a path with % (or ") is refused with a clear error.
 */
export function elevationCommand(o: ElevatedLaunch, rt: Runtime): ElevationCommand {
  const args = [o.workerPath, '--pipe', o.pipe, '--secret-file', o.secretFile];
  const directory = path.win32.dirname(o.workerPath);
  if (!rt.electron) return { file: rt.execPath, parameters: args.map(quoteWindowsArg).join(' '), directory, startsWorkerDirectly: true };
  if (!rt.systemRoot) {
    throw new WorkerError(ErrorCode.MissingDependency, 'Retry as Administrator needs cmd.exe, and SystemRoot is not set in this environment.', { missing: 'cmd.exe', reason: 'no-systemroot' });
  }
  const unsafe = [rt.execPath, ...args].find((a) => /[%"\r\n]/.test(a));
  if (unsafe !== undefined) {
    throw new WorkerError(ErrorCode.NotSupported, `Retry as Administrator cannot pass ${JSON.stringify(unsafe)} through cmd.exe (it contains % or a quote). Move VS Code or the temporary folder to a path without them, or run VS Code's worker from an administrator prompt.`,
      { reason: 'elevation-unsafe-path' });
  }
  const quoted = [rt.execPath, ...args].map((a) => `"${a.replace(/(\\+)$/, '$1$1')}"`).join(' ');
  return {
    file: path.win32.join(rt.systemRoot, 'System32', 'cmd.exe'),
    parameters: `/d /v:off /s /c "set "ELECTRON_RUN_AS_NODE=1" && ${quoted}"`,
    directory,
    startsWorkerDirectly: false,
  };
}

let shellExecuteExW: ((info: object) => number) | undefined;
let getProcessId: ((h: unknown) => number) | undefined;

/**
 * Shows the UAC prompt; returns the elevated worker's PID once Windows has started it, or 0 when cmd.exe started
 * it (the host then takes the PID from the worker's initialize answer).
 */
export function launchElevatedWorker(o: ElevatedLaunch, rt: Runtime = currentRuntime()): { pid: number } {
  const api = loadApi();
  if (!shellExecuteExW) {
    shellExecuteExW = koffi.load('shell32.dll').func('int __stdcall ShellExecuteExW(_Inout_ SHELLEXECUTEINFOW *info)');
    getProcessId = koffi.load('kernel32.dll').func('uint32_t __stdcall GetProcessId(void *h)');
  }
  const cmd = elevationCommand(o, rt);
  const info = {
    cbSize: koffi.sizeof(SHELLEXECUTEINFOW),
    fMask: C.SEE_MASK_NOCLOSEPROCESS | C.SEE_MASK_NOASYNC | C.SEE_MASK_FLAG_NO_UI,
    hwnd: null, lpVerb: 'runas', lpFile: cmd.file, lpParameters: cmd.parameters, lpDirectory: cmd.directory,
    nShow: C.SW_HIDE, hInstApp: null, lpIDList: null, lpClass: null, hkeyClass: null, dwHotKey: 0,
    u: { hIcon: null }, hProcess: null,
  };
  if (!shellExecuteExW(info)) {
    const code = api.GetLastError();
    if (code === C.ERROR.CANCELLED) {
      throw new WorkerError(ErrorCode.Cancelled, 'The administrator prompt was declined; nothing was changed.', { win32: code, reason: 'uac-declined' });
    }
    throw win32Error(code, `Starting the elevated worker (${cmd.file})`);
  }
  const h = (info as { hProcess: unknown }).hProcess;
  try {
    return { pid: h && cmd.startsWorkerDirectly ? getProcessId!(h) : 0 };
  } finally {
    if (h) closeHandle(h as object);
  }
}
