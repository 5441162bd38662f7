// The JSON-RPC side of one worker: the vdisk/initialize handshake, its notifications, and requests that all fail
// at once (WorkerDied) when the worker goes away instead of waiting forever.
import {
  CancellationToken, createMessageConnection, MessageConnection, RequestType, RequestType0,
} from 'vscode-jsonrpc/node';
import * as P from '../common/protocol';
import type { WorkerTransport } from './worker-transport';

/** A worker we talk to: our child process, or an elevated one that connected back over a pipe. */
export interface Running {
  pid: number | undefined;
  connection: MessageConnection;
  info: P.InitializeResult;
  elevated: boolean;
  stopping: boolean;
  /** Set once its going away has been handled. */
  gone?: boolean;
  /** Resolves when the process (or, for an elevated worker, its connection) is gone. */
  exited: Promise<void>;
  kill(): void;
}

export interface WorkerNotifications {
  disksChanged(p: P.DisksChangedParams): void;
  progress(p: P.ProgressParams): void;
  browseProgress(p: P.BrowseProgressParams): void;
}

/** Opens the JSON-RPC connection (listening before this returns its promise) and performs the handshake. */
export async function openConnection(t: WorkerTransport, init: P.InitializeParams, notify: WorkerNotifications): Promise<Running> {
  const connection = createMessageConnection(t.reader, t.writer);
  connection.onNotification(P.DisksChanged, (p) => notify.disksChanged(p));
  connection.onNotification(P.ProgressNotification, (p) => notify.progress(p));
  connection.onNotification(P.BrowseProgress, (p) => notify.browseProgress(p));
  connection.listen();
  t.died.catch(() => connection.dispose());
  const info = await Promise.race([connection.sendRequest(P.Initialize, init), t.died]);
  return { pid: t.pid ?? info.pid, elevated: t.elevated, exited: t.exited, kill: t.kill, connection, info, stopping: false };
}

/** Requests in flight, so that a worker's death rejects all of them at once. */
export class PendingRequests {
  private readonly rejects = new Set<(e: Error) => void>();

  send(connection: MessageConnection, type: RequestType<unknown, unknown, void> | RequestType0<unknown, void>, a?: unknown, b?: CancellationToken): Promise<unknown> {
    const zero = type.numberOfParams === 0;
    const token = (zero ? a : b) as CancellationToken | undefined;
    return new Promise((resolve, reject) => {
      this.rejects.add(reject);
      const p = zero
        ? connection.sendRequest(type as RequestType0<unknown, void>, token)
        : connection.sendRequest(type as RequestType<unknown, unknown, void>, a, token);
      p.then(resolve, reject).finally(() => this.rejects.delete(reject));
    });
  }

  failAll(err: Error): void {
    for (const reject of [...this.rejects]) reject(err);
    this.rejects.clear();
  }
}
