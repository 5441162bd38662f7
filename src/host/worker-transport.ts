// How the client reaches a worker (model: vscode-languageserver-node's createMessageTransports): our child process
// over Node IPC or stdin/stdout with its stderr forwarded to the log, or an elevated worker's socket. Supervision
// (restarts, shutdown) is worker-client.ts's; the handshake and requests are worker-connection.ts's.
import * as cp from 'child_process';
import type * as net from 'net';
import {
  IPCMessageReader, IPCMessageWriter, MessageReader, MessageWriter, ResponseError,
  SocketMessageReader, SocketMessageWriter, StreamMessageReader, StreamMessageWriter,
} from 'vscode-jsonrpc/node';
import * as P from '../common/protocol';

export interface Logger {
  trace(msg: string): void; debug(msg: string): void; info(msg: string): void; warn(msg: string): void; error(msg: string): void;
}

/** One worker's message channel and process handle. */
export interface WorkerTransport {
  reader: MessageReader;
  writer: MessageWriter;
  pid: number | undefined;
  elevated: boolean;
  /** Resolves when the process (or, for an elevated worker, its connection) is gone. */
  exited: Promise<void>;
  kill(): void;
  /** Rejects, with the worker's own reason where it gave one, if the worker goes away during start-up. */
  died: Promise<never>;
  /** Calls `gone` with how the worker went away ("exit code 1", "killed by SIGKILL", ...); once the handshake is done. */
  onGone(gone: (how: string) => void): void;
}

export interface ForkOptions {
  workerPath: string;
  /** Node IPC (default) or stdin/stdout. */
  transport?: 'ipc' | 'stdio';
  env?: NodeJS.ProcessEnv;
  log: Logger;
}

/** Starts the worker as our child process. */
export function forkWorker(opts: ForkOptions): WorkerTransport {
  const stdio = opts.transport === 'stdio';
  const proc = cp.fork(opts.workerPath, stdio ? ['--stdio'] : [], {
    env: { ...process.env, ...opts.env, ELECTRON_RUN_AS_NODE: '1' },
    stdio: stdio ? ['pipe', 'pipe', 'pipe', 'ipc'] : ['ignore', 'ignore', 'pipe', 'ipc'],
    execArgv: [],
  });
  const stderr = forwardStderr(proc, opts.log);
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  proc.once('error', (e) => opts.log.error(`worker process error: ${e.message}`));
  return {
    reader: stdio ? new StreamMessageReader(proc.stdout!) : new IPCMessageReader(proc),
    writer: stdio ? new StreamMessageWriter(proc.stdin!) : new IPCMessageWriter(proc),
    pid: proc.pid, elevated: false, exited, kill: () => proc.kill('SIGKILL'),
    // 'close' (after stderr is drained, nothing else holds it during start-up): the worker's own reason is read
    died: quiet(new Promise<never>((_, reject) => proc.once('close', (code, signal) =>
      reject(new ResponseError(P.ErrorCode.WorkerDied,
        `The vdisk worker exited during start-up (${describeExit(code, signal)})${stderr.lastError ? `: ${stderr.lastError}` : ''}`))))),
    onGone: (gone) => {
      proc.once('exit', (code, signal) => gone(describeExit(code, signal)));
      if (proc.exitCode !== null || proc.signalCode !== null) gone(describeExit(proc.exitCode, proc.signalCode));
    },
  };
}

/**
 * An elevated worker that connected back (handed over paused by acceptElevatedWorker): start JSON-RPC on the
 * returned reader, then socket.resume(), so that no byte after the handshake is lost.
 */
export function socketTransport(socket: net.Socket): WorkerTransport {
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return {
    reader: new SocketMessageReader(socket), writer: new SocketMessageWriter(socket),
    pid: undefined, elevated: true, exited: closed, kill: () => socket.destroy(),
    died: quiet(closed.then(() => { throw new ResponseError(P.ErrorCode.WorkerDied, 'The elevated worker closed its connection during start-up'); })),
    onGone: (gone) => { void closed.then(() => gone('the elevated worker closed its connection')); },
  };
}

/** Worker stderr lines `[level] text` go to the log at that level; the last error line explains a failed start. */
function forwardStderr(proc: cp.ChildProcess, log: Logger): { lastError: string | undefined } {
  const seen: { lastError: string | undefined } = { lastError: undefined };
  let buf = '';
  proc.stderr?.setEncoding('utf8');
  proc.stderr?.on('data', (chunk: string) => {
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl); buf = buf.slice(nl + 1);
      const m = /^\[(trace|debug|info|warn|error)\] (.*)$/.exec(line);
      if (m) log[m[1] as keyof Logger](`[worker] ${m[2]}`);
      if (m?.[1] === 'error') seen.lastError = m[2].split('\n')[0];
      else if (line.trim()) log.info(`[worker] ${line}`);
    }
  });
  return seen;
}

/** `died` is only raced during start-up; a worker that goes away later must not be an unhandled rejection. */
function quiet<T>(p: Promise<T>): Promise<T> {
  p.catch(() => undefined);
  return p;
}

function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `killed by ${signal}` : `exit code ${code}`;
}
