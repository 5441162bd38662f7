// Handlers of the write operations on images (issue 13): create, set-parent, convert, merge, compact, resize.
// Every one refuses an image that is attached (the backend's own list), checks its parameters, and writes through
// the format layer, which never leaves a half-written output. On Windows they go
// through VirtDisk instead (src/worker/windows/manage.ts: CreateVirtualDisk, SetVirtualDiskInformation,
// MergeVirtualDisk, CompactVirtualDisk, ResizeVirtualDisk) for create, set-parent, merge, a zero-only compact and
// resizing VHD/VHDX; convert and the
// file-system-aware compact have no VirtDisk counterpart and use our writers there too.
import * as fs from 'fs';
import * as path from 'path';
import { CancellationToken, MessageConnection } from 'vscode-jsonrpc';
import * as P from '../common/protocol';
import type { Backend } from './backend';
import { WorkerError } from './errors';
import { userGuard } from './user-guard';
import { createImage } from '../formats/manage/create';
import { CancelledError, Progress } from '../formats/manage/output';
import { IdMismatchError, setParent } from '../formats/manage/set-parent';
import { convertImage } from '../formats/manage/convert';
import { mergeImage, planMerge } from '../formats/manage/merge';
import type { ImageManagement } from './windows/manage';
import { checkCreateSpec } from '../common/create-spec';
import { compactImage } from '../formats/manage/compact';
import { inspectImage } from '../formats';
import { FS_INFO, INIT_FILE_SYSTEMS, initUnavailable, InitSpec } from '../common/init-spec';
import { seekData } from './linux/libc';
import { which } from './linux/engines/process';
import { defaultSources, openElsewhere, wslDisks } from './wsl/service';
import { resizeImage } from '../formats/manage/resize';

export type Handle = <A, R>(fn: (params: A, token: CancellationToken) => Promise<R>) =>
  (params: A, token: CancellationToken) => Promise<unknown>;

export interface ManageOptions {
  connection: MessageConnection;
  backend: Backend;
  handle: Handle;
  fromFormatError: (e: unknown, p: string) => unknown;
}

export function registerManageHandlers({ connection, backend, handle, fromFormatError }: ManageOptions): void {
  const run = async <R>(p: string, fn: () => Promise<R>): Promise<R> => {
    try { return await fn(); } catch (e) {
      if (e instanceof CancelledError) throw new WorkerError(P.ErrorCode.Cancelled, 'Cancelled; nothing was written', { path: p });
      if (e instanceof IdMismatchError) throw new WorkerError(P.ErrorCode.ImageProblem, e.message, { path: p, reason: 'parent-id-mismatch' });
      throw fromFormatError(e, p);
    }
  };

  connection.onRequest(P.CreateImage, handle(async (p: P.CreateImageParams, token) => {
    if (!p || typeof p.path !== 'string' || !p.path || typeof p.size !== 'number') throw new WorkerError(P.ErrorCode.InvalidParams, 'create needs a path and a size');
    const abs = path.resolve(p.path);
    if (!fs.existsSync(path.dirname(abs))) throw new WorkerError(P.ErrorCode.NotFound, `the folder ${path.dirname(abs)} does not exist`, { path: abs });
    userGuard()?.require([{ path: path.dirname(abs), write: true }]); // an elevated worker writes only where its user may
    const init: InitSpec = { init: p.init, fileSystem: p.fileSystem, label: p.label };
    if (p.fileSystem !== undefined) {
      const platform = windowsManager(backend) ? 'win32' : process.platform;
      const why = INIT_FILE_SYSTEMS.includes(p.fileSystem) ? initUnavailable(platform, p.fileSystem, which(FS_INFO[p.fileSystem].tool) !== null) : null;
      if (why) {
        const linux = platform === 'linux';
        throw new WorkerError(linux ? P.ErrorCode.MissingDependency : P.ErrorCode.NotSupported, `Cannot initialise ${path.basename(abs)} with ${p.fileSystem}: ${why}`,
          { path: abs, reason: linux ? 'no-engine' : 'platform' });
      }
    }
    const win = windowsManager(backend);
    if (win && !init.init && !init.fileSystem) {
      const spec = await run(abs, async () => checkCreateSpec({ ...p, path: abs }));
      if (fs.existsSync(abs)) throw new WorkerError(P.ErrorCode.InvalidParams, `${abs} already exists; it will not be overwritten`, { path: abs, reason: 'exists' });
      await win.createDisk({ path: abs, format: spec.format, type: spec.type, sizeBytes: spec.size, blockSizeBytes: spec.type === 'fixed' && spec.format === 'vhd' ? 0 : spec.blockSize,
        logicalSectorBytes: spec.logicalSectorSize as 512 | 4096, physicalSectorBytes: spec.physicalSectorSize as 512 | 4096 });
      const i = await run(abs, () => inspectImage(abs));
      return { path: abs, format: spec.format, type: spec.type, size: i.virtualSize, blockSize: i.blockSize, logicalSectorSize: i.logicalSectorSize, physicalSectorSize: i.physicalSectorSize, id: i.id ?? '' };
    }
    // an empty GPT on Windows too: our writers (VirtDisk has no way to initialise a disk it did not attach)
    const spec = { path: abs, format: p.format, type: p.type, size: p.size, blockSize: p.blockSize, logicalSectorSize: p.logicalSectorSize, physicalSectorSize: p.physicalSectorSize };
    const r = await run(abs, () => createImage(spec, { progress: progress(connection, p.progressToken, token), init,
      seek: process.platform === 'linux' ? seekData : undefined }));
    userGuard()?.adopt(r.path);
    return r;
  }));

  connection.onRequest(P.SetParent, handle(async (p: P.SetParentParams) => {
    if (!p || typeof p.child !== 'string' || typeof p.parent !== 'string' || !p.child || !p.parent) throw new WorkerError(P.ErrorCode.InvalidParams, 'set-parent needs a child and a parent path');
    const child = path.resolve(p.child);
    if (!fs.existsSync(child)) throw new WorkerError(P.ErrorCode.NotFound, `${child} does not exist`, { path: child });
    await refuseAttached(backend, [child]);
    userGuard()?.require([{ path: child, write: true }, { path: path.resolve(p.parent), write: false }]);
    const win = windowsManager(backend);
    if (win) {
      const parent = path.resolve(p.parent);
      const was = (await run(child, () => inspectImage(child))).parent?.id;
      await win.setParent(child, parent, p.ignoreIdMismatch === true);
      const i = await run(child, () => inspectImage(child));
      return { child, parent, format: i.format as 'vhd' | 'vhdx', locators: { relative: i.parent?.locators.relative, absolute: i.parent?.locators.absolute }, idRewritten: i.parent?.id !== was };
    }
    return run(child, () => setParent(child, path.resolve(p.parent), { ignoreIdMismatch: p.ignoreIdMismatch === true }));
  }));

  connection.onRequest(P.Convert, handle(async (p: P.ConvertParams, token) => {
    if (!p || typeof p.source !== 'string' || typeof p.dest !== 'string' || !p.source || !p.dest) throw new WorkerError(P.ErrorCode.InvalidParams, 'convert needs a source and a destination path');
    const source = path.resolve(p.source), dest = path.resolve(p.dest);
    if (!fs.existsSync(source)) throw new WorkerError(P.ErrorCode.NotFound, `${source} does not exist`, { path: source });
    const chain = await run(source, () => inspectImage(source)).then((i) => i.chain.map((l) => l.path));
    await refuseAttached(backend, chain, true); // a read-write attach changes the data under the reader
    if (fs.existsSync(dest)) await refuseAttached(backend, [dest]);
    return run(source, () => convertImage({ ...p, source, dest }, progress(connection, p.progressToken, token)));
  }));

  connection.onRequest(P.Merge, handle(async (p: P.MergeParams, token) => {
    if (!p || typeof p.child !== 'string' || !p.child) throw new WorkerError(P.ErrorCode.InvalidParams, 'merge needs a child path');
    const child = path.resolve(p.child);
    if (!fs.existsSync(child)) throw new WorkerError(P.ErrorCode.NotFound, `${child} does not exist`, { path: child });
    const chain = await run(child, () => inspectImage(child)).then((i) => i.chain.map((l) => l.path));
    await refuseAttached(backend, chain);
    const spec = { child, into: p.into ? path.resolve(p.into) : undefined, keepChild: p.keepChild === true, force: p.force === true,
      otherImages: Array.isArray(p.otherImages) ? p.otherImages.filter((x) => typeof x === 'string') : [] };
    const win = windowsManager(backend);
    if (win) {
      const plan = await run(child, () => planMerge(spec));
      await win.merge(child, plan.depth);
      const removed = spec.keepChild ? [] : plan.merged;
      for (const f of removed) fs.rmSync(f);
      return { target: plan.target.path, merged: plan.merged, removed, bytes: 0 };
    }
    return run(child, () => mergeImage(spec, progress(connection, p.progressToken, token)));
  }));

  connection.onRequest(P.Compact, handle(async (p: P.CompactParams, token) => {
    if (!p || typeof p.path !== 'string' || !p.path) throw new WorkerError(P.ErrorCode.InvalidParams, 'compact needs an image path');
    const abs = path.resolve(p.path);
    if (!fs.existsSync(abs)) throw new WorkerError(P.ErrorCode.NotFound, `${abs} does not exist`, { path: abs });
    await refuseAttached(backend, [abs]); // a mounted file system is neither clean nor still
    if (openElsewhere(abs)) {
      throw new WorkerError(P.ErrorCode.Busy, `${abs} is open in another process (a running WSL distribution or Docker Desktop holds its disk): quit Docker Desktop and run \`wsl --shutdown\` first`, { path: abs, reason: 'in-use' });
    }
    const win = windowsManager(backend);
    if (win && p.zeroOnly === true) {
      const before = fs.statSync(abs).size;
      await win.compact(abs);
      return { image: abs, before, after: fs.statSync(abs).size, dataBytes: null, freedByFileSystem: 0, fileSystems: [] };
    }
    return run(abs, () => compactImage(abs, { zeroOnly: p.zeroOnly === true }, progress(connection, p.progressToken, token)));
  }));

  connection.onRequest(P.Resize, handle(async (p: P.ResizeParams, token) => {
    if (!p || typeof p.path !== 'string' || !p.path) throw new WorkerError(P.ErrorCode.InvalidParams, 'resize needs an image path');
    if (p.smallest !== true && (typeof p.size !== 'number' || !Number.isSafeInteger(p.size) || p.size <= 0)) throw new WorkerError(P.ErrorCode.InvalidParams, 'resize needs a new size in bytes, or smallest');
    const abs = path.resolve(p.path);
    if (!fs.existsSync(abs)) throw new WorkerError(P.ErrorCode.NotFound, `${abs} does not exist`, { path: abs });
    if (!p.dryRun) await refuseAttached(backend, [abs]); // the guest's file system and partition table change under it
    if (!p.dryRun && openElsewhere(abs)) {
      throw new WorkerError(P.ErrorCode.Busy, `${abs} is open in another process (a running WSL distribution or Docker Desktop holds its disk): quit Docker Desktop and run \`wsl --shutdown\` first`, { path: abs, reason: 'in-use' });
    }
    userGuard()?.require([{ path: abs, write: !p.dryRun }]);
    const spec = { size: p.size, smallest: p.smallest === true, dryRun: p.dryRun === true, force: p.force === true,
      otherImages: Array.isArray(p.otherImages) ? p.otherImages.filter((x) => typeof x === 'string') : [] };
    const win = windowsManager(backend);
    if (win && !spec.dryRun && /\.(a?vhdx?)$/i.test(abs)) {
      // VirtDisk resizes VHD and VHDX itself (and refuses what Windows refuses: shrinking a VHD, an unsafe shrink);
      // the size (and the smallest safe one) is worked out here, so both paths refuse the same data loss
      const plan = await run(abs, () => resizeImage(abs, { ...spec, dryRun: true }, progress(connection, p.progressToken, token)));
      if (plan.after !== plan.before) await win.resize(abs, plan.after);
      const i = await run(abs, () => inspectImage(abs));
      return { ...plan, after: i.virtualSize, fileAfter: fs.statSync(abs).size, dryRun: false,
        notes: ['Resized by Windows (ResizeVirtualDisk): the partition table is left as it was.'], gptBackupMoved: false };
    }
    return run(abs, () => resizeImage(abs, spec, progress(connection, p.progressToken, token)));
  }));
}

/** vdisk/wslDisks: the WSL and Docker Desktop disks of this machine (src/worker/wsl). */
export function registerWslHandlers({ connection, backend, handle }: Pick<ManageOptions, 'connection' | 'backend' | 'handle'>): void {
  connection.onRequest(P.WslDisks, handle(async (p: P.WslDisksParams | undefined) => wslDisks(backend, await defaultSources(), p?.checkAttached !== false)));
}

/** Progress to the client (at most every 200 ms, and at the end) and cancellation from the request's token. */
export function progress(connection: MessageConnection, t: string | undefined, token: CancellationToken): Progress {
  let last = 0;
  return {
    cancelled: () => token.isCancellationRequested,
    report: (done, total) => {
      if (!t) return;
      const now = Date.now();
      if (done < total && now - last < 200) return;
      last = now;
      void connection.sendNotification(P.ProgressNotification, { token: t, done, total });
    },
  };
}

/**
 * Refuses when any of `paths` is an attached disk's image or a layer of its chain: writing under a mounted file
 * system or a running daemon corrupts it. `readOnlyOk`: a read-only attach does not stop a reader (convert).
 */
export async function refuseAttached(backend: Backend, paths: string[], readOnlyOk = false): Promise<void> {
  const real = (p: string) => { try { return fs.realpathSync(p); } catch { return path.resolve(p); } };
  const want = new Set(paths.map(real));
  for (const d of await backend.list()) {
    if (readOnlyOk && d.readOnly) continue;
    const layers = [d.image, ...(d.chain ?? []).map((c) => c.path)].filter((x): x is string => !!x).map(real);
    const hit = layers.find((l) => want.has(l));
    if (hit) {
      throw new WorkerError(P.ErrorCode.Busy, `${hit} is in use by the attached disk ${d.device}${d.readOnly ? ' (read-only)' : ''}: detach it first`,
        { path: hit, reason: 'attached' });
    }
  }
}

/** The Windows backend's VirtDisk image management, when this worker runs it. */
export function windowsManager(b: Backend): ImageManagement | null {
  const m = b as Backend & Partial<ImageManagement>;
  return b.name === 'windows' && typeof m.createDisk === 'function' && typeof m.setParent === 'function' ? (m as unknown as ImageManagement) : null;
}
