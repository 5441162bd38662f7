// Registers vdisk/browse/* on the worker's connection (docs/protocol.md, "Browsing").
import { CancellationToken, MessageConnection, ResponseError } from 'vscode-jsonrpc';
import * as P from '../../common/protocol';
import { BrowseService } from './service';
import * as path from 'path';
import { userGuard } from '../user-guard';

type Handle = <A, R>(fn: (params: A, token: CancellationToken) => Promise<R>) =>
  (params: A, token: CancellationToken) => Promise<R | ResponseError<P.ErrorData>>;

export function registerBrowseHandlers(connection: MessageConnection, handle: Handle): BrowseService {
  const service = new BrowseService();
  // an elevated worker browses only images its user may read, and extracts only where that user may write
  const mayRead = (p: P.BrowsePathParams) => userGuard()?.require([{ path: path.resolve(p.image), write: false }]);
  connection.onRequest(P.BrowseList, handle((p: P.BrowseListParams) => { mayRead(p); return service.list(p); }));
  connection.onRequest(P.BrowseStat, handle((p: P.BrowsePathParams) => { mayRead(p); return service.stat(p); }));
  connection.onRequest(P.BrowseRead, handle((p: P.BrowseReadParams) => { mayRead(p); return service.read(p); }));
  connection.onRequest(P.BrowseExtract, handle(async (p: P.BrowseExtractParams, token) => {
    mayRead(p);
    userGuard()?.require([{ path: path.dirname(path.resolve(p.dest)), write: true }]);
    const cancelled = new Promise<void>((resolve) => token.onCancellationRequested(() => resolve()));
    let last = 0;
    const r = await service.extract(p, (bytes, total) => {
      const now = Date.now();
      if (p.progressId && (now - last > 200 || bytes === total)) {
        last = now;
        void connection.sendNotification(P.BrowseProgress, { progressId: p.progressId, bytes, total });
      }
    }, cancelled);
    userGuard()?.adopt(r.dest);
    return r;
  }));
  return service;
}
