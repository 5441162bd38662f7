// "Retry as Administrator", worker side: start an elevated copy of the worker through the UAC prompt
// (ShellExecuteExW, verb "runas"); it connects back to the host's named pipe with --pipe and proves it read the
// per-session secret file (--secret-file) before any JSON-RPC. VS Code itself never runs elevated.
import * as fs from 'fs';
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
  /** The bundled worker (dist/worker.js). */
  workerPath: string;
  /** The host's named pipe, \\.\pipe\vdisk-elevated-<id>, already listening. */
  pipe: string;
  secretFile: string;
  /** A Node.js executable; defaults to this process's when it is plain Node (see nodeForElevation). */
  nodePath?: string;
}

/**
 * Elevation does not carry the caller's environment over, so an Electron binary started elevated would not see
 * ELECTRON_RUN_AS_NODE and would open a VS Code window instead of running the worker. Use a real node.exe:
 * this process's when it is one, else the first node.exe on PATH.
 */
export function nodeForElevation(env: NodeJS.ProcessEnv = process.env): string {
  if (!process.versions.electron) return process.execPath;
  for (const dir of (env.PATH ?? env.Path ?? '').split(';')) {
    const candidate = dir && path.join(dir.replace(/^"|"$/g, ''), 'node.exe');
    if (candidate && fs.existsSync(candidate)) return candidate;
  }
  throw new WorkerError(ErrorCode.MissingDependency,
    'Retry as Administrator needs Node.js: VS Code\'s own runtime cannot be started elevated as Node. Install Node.js 20 or later (node.exe on PATH) and retry.',
    { missing: 'node.exe', reason: 'elevation-needs-node' });
}

let shellExecuteExW: ((info: object) => number) | undefined;
let getProcessId: ((h: unknown) => number) | undefined;

/** Shows the UAC prompt; resolves with the elevated worker's PID once Windows has started it. */
export function launchElevatedWorker(o: ElevatedLaunch): { pid: number } {
  const api = loadApi();
  if (!shellExecuteExW) {
    shellExecuteExW = koffi.load('shell32.dll').func('int __stdcall ShellExecuteExW(_Inout_ SHELLEXECUTEINFOW *info)');
    getProcessId = koffi.load('kernel32.dll').func('uint32_t __stdcall GetProcessId(void *h)');
  }
  const node = o.nodePath ?? nodeForElevation();
  const params = [o.workerPath, '--pipe', o.pipe, '--secret-file', o.secretFile].map(quoteWindowsArg).join(' ');
  const info = {
    cbSize: koffi.sizeof(SHELLEXECUTEINFOW),
    fMask: C.SEE_MASK_NOCLOSEPROCESS | C.SEE_MASK_NOASYNC | C.SEE_MASK_FLAG_NO_UI,
    hwnd: null, lpVerb: 'runas', lpFile: node, lpParameters: params, lpDirectory: path.dirname(o.workerPath),
    nShow: C.SW_HIDE, hInstApp: null, lpIDList: null, lpClass: null, hkeyClass: null, dwHotKey: 0,
    u: { hIcon: null }, hProcess: null,
  };
  if (!shellExecuteExW(info)) {
    const code = api.GetLastError();
    if (code === C.ERROR.CANCELLED) {
      throw new WorkerError(ErrorCode.Cancelled, 'The administrator prompt was declined; nothing was changed.', { win32: code, reason: 'uac-declined' });
    }
    throw win32Error(code, `Starting the elevated worker (${node})`);
  }
  const h = (info as { hProcess: unknown }).hProcess;
  try {
    return { pid: h ? getProcessId!(h) : 0 };
  } finally {
    if (h) closeHandle(h as object);
  }
}
