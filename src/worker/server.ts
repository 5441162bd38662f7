// The worker's JSON-RPC surface: validates requests, consults the format layer, delegates OS work to the backend.
import * as fs from 'fs';
import * as path from 'path';
import { CancellationToken, MessageConnection, ResponseError } from 'vscode-jsonrpc';
import * as P from '../common/protocol';
import type { ImageInfo } from '../common/image';
import type { Backend } from './backend';
import { WorkerError } from './errors';
import { createDifferencingDisk, FormatError, inspectImage } from '../formats';
import { asRawImage, blockingProblemsFor, browsingAvailable, capabilities, checkAttach, filesOpened, setBrowsingAvailable, tooSmall } from './policy';
import { chainConflict, createDiffConflict } from './chain-guard';
import { userGuard } from './user-guard';
import { ExternalChangeWatcher } from './watch';
import { applySettings } from './settings';
import { ChainCache } from './chain-cache';
import { registerManageHandlers, registerWslHandlers } from './manage';
import { registerBrowseHandlers } from './browse/handlers';
import { idle } from './idle';

export interface ServerOptions {
  connection: MessageConnection;
  backend: Backend;
  log: (level: P.LogLevel, msg: string) => void;
  onShutdown: () => void;
}

export function registerHandlers({ connection, backend, log, onShutdown }: ServerOptions): void {
  const chains = new ChainCache();
  const changed = (reason: P.DisksChangedParams['reason']) => void connection.sendNotification(P.DisksChanged, { reason });
  backend.onDidChange = changed;
  let watcher: ExternalChangeWatcher | undefined;
  // the reply goes first (the requester waits for it), and so does a request that follows at once (idle.ts); then
  // the watcher takes the new state as known (one full listing) and the client hears of each kind of change once
  const reasons = new Set<P.DisksChangedParams['reason']>();
  const afterReply = (reason: P.DisksChangedParams['reason']) => {
    if (reasons.size === 0) {
      idle.later(() => {
        watcher?.reset();
        const all = [...reasons];
        reasons.clear();
        for (const r of all) changed(r);
      });
    }
    reasons.add(reason);
  };

  const handle = <A, R>(fn: (params: A, token: CancellationToken) => Promise<R>) =>
    async (params: A, token: CancellationToken): Promise<R | ResponseError<P.ErrorData>> => {
      idle.touch();
      try {
        return await fn(params, token);
      } catch (e: unknown) {
        return toResponseError(e, log);
      } finally { idle.touch(); }
    };

  const currentCapabilities = async (): Promise<P.Capabilities> => capabilities({ ...await backend.environment(), browse: browsingAvailable() });

  connection.onRequest(P.Initialize, handle(async (p: P.InitializeParams): Promise<P.InitializeResult> => {
    if (p.protocolVersion !== P.PROTOCOL_VERSION) {
      throw new WorkerError(P.ErrorCode.VersionMismatch,
        `Protocol mismatch: the worker speaks version ${P.PROTOCOL_VERSION}, ${p.client} speaks ${p.protocolVersion}. Reinstall the extension.`);
    }
    applySettings(p.settings);
    // a change the watcher sees while our own notification waits (afterReply) is ours: that one refreshes the tree
    if (p.watch && !watcher) watcher = new ExternalChangeWatcher(backend, () => { if (!reasons.size) changed('external'); });
    return { protocolVersion: P.PROTOCOL_VERSION, pid: process.pid, platform: process.platform, backend: backend.name, limitations: backend.limitations(),
      capabilities: await currentCapabilities() };
  }));

  connection.onRequest(P.GetCapabilities, (token) => handle(currentCapabilities)(undefined, token));

  connection.onRequest(P.Configure, handle(async (p: P.WorkerSettings) => { applySettings(p); }));

  connection.onRequest(P.Attach, handle(async (p: P.AttachParams, token) => {
    const params = checkAttachParams(p);
    if (params.searchFolders?.length && backend.name === 'windows') {
      throw new WorkerError(P.ErrorCode.NotSupported,
        'Windows finds a parent disk only where the child\'s parent locators point: move the parent back, or reconnect the child to it in Hyper-V Manager (Edit Disk).',
        { reason: 'search-folders-windows' });
    }
    const inspected = await inspectForAttach(params.path, chains, params.searchFolders);
    const name = path.basename(inspected.path);
    if (inspected.virtualSize === 0 && !params.asRaw) {
      throw new WorkerError(P.ErrorCode.UnsupportedImage, `${name} is empty: a disk of 0 bytes cannot be attached`, { reason: 'empty', path: inspected.path });
    }
    const blocking = blockingProblemsFor(inspected, params.readOnly, params.asRaw === true);
    if (blocking.length) {
      throw new WorkerError(P.ErrorCode.ImageProblem, `Cannot attach ${name}: ${blocking.map((b) => b.message).join('; ')}`,
        { problems: blocking, path: inspected.path, reason: blocking[0].code });
    }
    const image = params.asRaw ? asRawImage(inspected) : inspected;
    checkAttach(image, params.readOnly, process.platform);
    const small = tooSmall(image);
    if (small) throw new WorkerError(P.ErrorCode.UnsupportedImage, `Cannot attach ${name}: ${small}`, { reason: 'too-small', path: inspected.path });
    // only a write, or a chain with parents, can collide with another disk: a read-only standalone image skips the listing
    if (!params.readOnly || image.chain.length > 1) {
      const listed = (await Promise.all((params.protectChainsOf ?? []).slice(0, 64).map((f) => chains.get(f)))).filter((i): i is ImageInfo => i !== null);
      const conflict = chainConflict(image, params.readOnly, await listWithChains(), listed);
      if (conflict) throw new WorkerError(P.ErrorCode.ImageProblem, conflict, { reason: 'parent-in-use', path: image.path });
    }
    const disk = await backend.attach(params, image, token);
    disk.chain = image.chain;
    afterReply('attach');
    return disk;
  }));

  connection.onRequest(P.Detach, handle(async (p: P.DetachParams, token) => {
    if (!p || typeof p.target !== 'string' || !p.target) throw new WorkerError(P.ErrorCode.InvalidParams, 'detach needs a device or image path');
    const r = await backend.detach(p.target, token);
    afterReply('detach');
    return r;
  }));

  const listWithChains = async (): Promise<P.AttachedDisk[]> => {
    const disks = await backend.list();
    await Promise.all(disks.map(async (d) => {
      if (!d.image || d.chain) return;
      const info = await chains.get(d.image);
      if (info) { d.chain = info.chain; if (info.problems.length) d.problems = info.problems; }
    }));
    return disks;
  };

  connection.onRequest(P.List, (token) => handle(listWithChains)(undefined, token));

  connection.onRequest(P.Inspect, handle(async (p: P.PathParams) => {
    if (!p || typeof p.path !== 'string' || !p.path) throw new WorkerError(P.ErrorCode.InvalidParams, 'inspect needs a path');
    return inspectForAttach(p.path, chains, p.searchFolders);
  }));

  connection.onRequest(P.CreateDiff, handle(async (p: P.CreateDiffParams) => {
    if (!p || typeof p.parent !== 'string' || typeof p.child !== 'string' || !p.parent || !p.child) {
      throw new WorkerError(P.ErrorCode.InvalidParams, 'create-diff needs a parent and a child path');
    }
    const conflict = createDiffConflict(path.resolve(p.parent), await backend.list());
    if (conflict) throw new WorkerError(P.ErrorCode.ImageProblem, conflict, { reason: 'parent-in-use', path: path.resolve(p.parent) });
    const guard = userGuard();
    guard?.require([{ path: path.resolve(p.parent), write: false }, { path: path.dirname(path.resolve(p.child)), write: true }]);
    try {
      const r = await createDifferencingDisk(path.resolve(p.parent), path.resolve(p.child));
      guard?.adopt(r.child);
      return r;
    } catch (e) { throw fromFormatError(e, p.parent); }
  }));

  registerManageHandlers({ connection, backend, handle, fromFormatError });
  registerWslHandlers({ connection, backend, handle });

  connection.onRequest(P.Deps, handle(async (p: P.DepsParams) => backend.deps(p.target)));
  connection.onRequest(P.Mount, handle(async (p: P.MountParams, token) => { const r = await backend.mount(p.device, token); changed('mount'); return r; }));
  connection.onRequest(P.Unmount, handle(async (p: P.MountParams, token) => { const r = await backend.unmount(p.device, token); changed('unmount'); return r; }));

  connection.onRequest(P.Elevate, handle(async (p: P.ElevateParams) => {
    if (!backend.elevate) {
      throw new WorkerError(P.ErrorCode.NotSupported, 'Running as administrator (UAC) is a Windows feature; on Linux, vdisk elevates through pkexec or sudo (Retry as Root)');
    }
    if (!p || typeof p.pipe !== 'string' || typeof p.secretFile !== 'string') throw new WorkerError(P.ErrorCode.InvalidParams, 'elevate needs a pipe and a secret file');
    return backend.elevate(p.pipe, p.secretFile);
  }));

  connection.onRequest(P.Sleep, handle(async (p: P.SleepParams, token) => {
    const start = Date.now();
    await new Promise<void>((resolve) => {
      // a cancel that arrives while the request is still queued gives the handler vscode-jsonrpc's static
      // Cancelled token, whose onCancellationRequested never fires: look before listening
      if (token.isCancellationRequested) { resolve(); return; }
      const timer = setTimeout(resolve, Math.max(0, Math.min(p.ms, 600_000)));
      token.onCancellationRequested(() => { clearTimeout(timer); resolve(); });
    });
    return { slept: Date.now() - start, cancelled: token.isCancellationRequested };
  }));

  const browse = registerBrowseHandlers(connection, handle);
  setBrowsingAvailable(true); // the capability report says so only because the handlers are registered here

  connection.onRequest(P.Shutdown, (token) => handle(async () => {
    idle.flush();
    watcher?.dispose();
    await browse.dispose();
    await backend.dispose();
    setImmediate(onShutdown);
  })(undefined, token));
}

function checkAttachParams(p: P.AttachParams): P.AttachParams {
  if (!p || typeof p.path !== 'string' || !p.path) throw new WorkerError(P.ErrorCode.InvalidParams, 'attach needs an image path');
  if (p.lifetime !== 'session' && p.lifetime !== 'permanent') throw new WorkerError(P.ErrorCode.InvalidParams, `lifetime must be "session" or "permanent", not ${JSON.stringify(p.lifetime)}`);
  if (p.protectChainsOf !== undefined && (!Array.isArray(p.protectChainsOf) || p.protectChainsOf.some((x) => typeof x !== 'string' || !x))) {
    throw new WorkerError(P.ErrorCode.InvalidParams, 'protectChainsOf must be a list of image paths');
  }
  return { path: path.resolve(p.path), readOnly: p.readOnly !== false, lifetime: p.lifetime, searchFolders: checkFolders(p.searchFolders),
    asRaw: p.asRaw === true, protectChainsOf: p.protectChainsOf?.map((x) => path.resolve(x)) };
}

async function inspectForAttach(p: string, chains: ChainCache, searchFolders?: string[]): Promise<ImageInfo> {
  const abs = path.resolve(p);
  let st: fs.Stats;
  try { st = fs.statSync(abs); } catch {
    throw new WorkerError(P.ErrorCode.NotFound, `${abs} does not exist`, { path: abs });
  }
  if (!st.isFile()) throw new WorkerError(P.ErrorCode.UnsupportedImage, `${abs} is not a regular file`, { path: abs, reason: 'not-a-file' });
  const folders = checkFolders(searchFolders);
  const guard = userGuard();
  guard?.require([{ path: abs, write: false }]); // an elevated worker reads nothing its user could not
  let info: ImageInfo;
  try {
    info = folders.length || guard ? await inspectImage(abs, { searchFolders: folders }) : await chains.inspect(abs);
  } catch (e) { throw fromFormatError(e, abs); }
  guard?.require(filesOpened(info, true));
  return info;
}

function checkFolders(f: unknown): string[] {
  if (f === undefined) return [];
  if (!Array.isArray(f) || f.some((x) => typeof x !== 'string' || !x)) throw new WorkerError(P.ErrorCode.InvalidParams, 'searchFolders must be a list of folder paths');
  return (f as string[]).map((x) => path.resolve(x));
}

function fromFormatError(e: unknown, p: string): unknown {
  if (e instanceof FormatError) {
    const code = e.code === 'not-found' ? P.ErrorCode.NotFound
      : e.code === 'exists' ? P.ErrorCode.InvalidParams
        : e.code === 'chain-broken' ? P.ErrorCode.ImageProblem : P.ErrorCode.UnsupportedImage;
    return new WorkerError(code, e.message, { path: p, reason: e.code });
  }
  return e;
}

export function toResponseError(e: unknown, log: ServerOptions['log']): ResponseError<P.ErrorData> {
  if (e instanceof WorkerError) {
    log('debug', `${P.ErrorCode[e.code]}: ${e.message}`);   // the client reports it (once) to the user and its log
    return new ResponseError(e.code, e.message, e.data);
  }
  const err = e as NodeJS.ErrnoException;
  if (err && typeof err.code === 'string' && typeof err.errno === 'number') {
    log('error', err.stack ?? String(err));
    const code = err.code === 'ENOENT' ? P.ErrorCode.NotFound : err.code === 'EACCES' || err.code === 'EPERM' ? P.ErrorCode.PermissionDenied : P.ErrorCode.OsError;
    return new ResponseError(code, err.message, { errno: -err.errno, path: err.path });
  }
  log('error', `internal error: ${(err && err.stack) || String(e)}`);
  return new ResponseError(P.ErrorCode.OsError, `Internal error in the worker: ${(err && err.message) || String(e)}`, {});
}
