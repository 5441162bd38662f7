// Registers vdisk/browse/* on the worker's connection (docs/protocol.md, "Browsing").
import { CancellationToken, MessageConnection, ResponseError } from 'vscode-jsonrpc';
import * as P from '../../common/protocol';
import { BrowseService } from './service';

type Handle = <A, R>(fn: (params: A, token: CancellationToken) => Promise<R>) =>
  (params: A, token: CancellationToken) => Promise<R | ResponseError<P.ErrorData>>;

export function registerBrowseHandlers(connection: MessageConnection, handle: Handle): BrowseService {
  const service = new BrowseService();
  connection.onRequest(P.BrowseList, handle((p: P.BrowseListParams) => service.list(p)));
  connection.onRequest(P.BrowseStat, handle((p: P.BrowsePathParams) => service.stat(p)));
  connection.onRequest(P.BrowseRead, handle((p: P.BrowseReadParams) => service.read(p)));
  connection.onRequest(P.BrowseExtract, handle((p: P.BrowseExtractParams, token) => {
    const cancelled = new Promise<void>((resolve) => token.onCancellationRequested(() => resolve()));
    let last = 0;
    return service.extract(p, (bytes, total) => {
      const now = Date.now();
      if (p.progressId && (now - last > 200 || bytes === total)) {
        last = now;
        void connection.sendNotification(P.BrowseProgress, { progressId: p.progressId, bytes, total });
      }
    }, cancelled);
  }));
  return service;
}
