// vdisk's own FUSE server (../fuse/server-main.ts) as an engine: read-only attach of differencing VHD/VHDX/AVHDX
// chains (and the kinds policy.ts routes here), read by vdisk's block layer, the reader proven equal to qemu-img
// convert. Like qemu-storage-daemon it runs as its own detached process, so a worker crash leaves the mount served;
// every file of the chain is opened here (layers.ts: checked for the requesting user) and inherited as an fd; the
// server refuses any file it was not handed.
import * as cp from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { ErrorCode } from '../../../common/protocol';
import type { ImageInfo } from '../../../common/image';
import { openLayerFile, LayerRefused } from '../../../formats/layers';
import { WorkerError } from '../../errors';
import { EngineHandle, scratchDir, abandon } from './engine';
import { alive, processIdentity, waitFor } from './process';
import type { ServerConfig } from '../fuse/serve';

const READY_TIMEOUT_MS = 20_000;
const REPO = path.join(__dirname, '..', '..', '..', '..', '..');
/** Reading threads and request size: measured in bench/linux (BENCHMARKS.md, "vdisk's FUSE server"). */
export const FUSE_THREADS = Number(process.env.VDISK_FUSE_THREADS) || 2;
export const FUSE_MAX_READ = Number(process.env.VDISK_FUSE_MAX_READ) || 1024 * 1024;
/** VDISK_FUSE_SPLICE=0 copies every reply through the server's memory (the measured alternative; fuse/splice.ts). */
const FUSE_SPLICE = process.env.VDISK_FUSE_SPLICE !== '0';

/** The server's bundle: next to the worker's bundle, or the repository's dist/ (tests run the compiled sources). */
export function fuseServerScript(): string {
  const bundled = path.join(__dirname, 'fuse-server.js');
  return fs.existsSync(bundled) ? bundled : path.join(REPO, 'dist', 'fuse-server.js');
}

/** Why vdisk's server cannot run here, or null. */
export function vdiskFuseMissing(): string | null {
  if (!fs.existsSync('/dev/fuse')) return '/dev/fuse is missing (modprobe fuse)';
  if (!fs.existsSync(fuseServerScript())) return `vdisk's FUSE server (${fuseServerScript()}) is not part of this build`;
  return null;
}

export async function startVdiskFuse(image: ImageInfo): Promise<EngineHandle> {
  const missing = vdiskFuseMissing();
  if (missing) throw new WorkerError(ErrorCode.MissingDependency, `Cannot attach ${path.basename(image.path)}: ${missing}`, { missing: 'fuse', path: image.path });
  if ((process.getuid?.() ?? -1) !== 0) throw new Error('vdisk-fuse engine started by a worker that is not root');
  const dir = scratchDir('vfuse');
  const exportFile = path.join(dir, 'disk.raw');
  const fds: number[] = [];
  const closeAll = () => { for (const fd of fds.splice(0)) { try { fs.closeSync(fd); } catch { /* closed */ } } };
  let pid: number | undefined;
  try {
    fs.writeFileSync(exportFile, '', { mode: 0o600 }); // the mount point: the root of the mount is this one file
    const paths = [...new Set((image.chain.length ? image.chain.map((l) => l.path) : [image.path]))];
    const layers: ServerConfig['layers'] = [];
    for (const p of paths) {
      const o = openLayerFile(p, false);
      fds.push(o.fd);
      const st = fs.fstatSync(o.fd);
      layers.push({ path: o.path, fd: 3 + layers.length, dev: st.dev, ino: st.ino });
    }
    const config: ServerConfig = {
      image: layers[0].path, size: image.virtualSize, mount: exportFile, layers,
      searchFolders: [...new Set(layers.map((l) => path.dirname(l.path)))],
      threads: FUSE_THREADS, maxRead: FUSE_MAX_READ, ownFds: true, splice: FUSE_SPLICE, uid: 0, gid: 0,
    };
    const log = fs.openSync(path.join(dir, 'log'), 'w', 0o600);
    const proc = cp.spawn(process.execPath, [fuseServerScript(), JSON.stringify(config)], {
      stdio: ['ignore', log, log, ...fds], detached: true, env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
    });
    fs.closeSync(log);
    closeAll();
    proc.unref();
    pid = proc.pid;
    let exited = false;
    proc.once('exit', () => { exited = true; });
    proc.once('error', () => { exited = true; });
    const ready = await waitFor(() => exited || sizeOf(exportFile) === image.virtualSize, READY_TIMEOUT_MS, 10);
    if (exited || !ready || !pid || !alive(pid)) {
      throw new WorkerError(ErrorCode.ImageProblem, `vdisk's FUSE server could not serve ${image.path}: ${readLog(path.join(dir, 'log')) || 'no message'}`,
        { reason: 'fuse-server-open', path: image.path });
    }
    const marker = processIdentity(pid);
    if (!marker) throw new WorkerError(ErrorCode.ImageProblem, `vdisk's FUSE server exited while serving ${image.path}`, { reason: 'fuse-server-open', path: image.path });
    return { daemon: 'vdisk-fuse', pid, marker, fuseMount: exportFile, exportFile, dir };
  } catch (e) {
    closeAll();
    await abandon(dir, pid, exportFile);
    if (e instanceof LayerRefused) throw new WorkerError(ErrorCode.ImageProblem, `Cannot attach ${path.basename(image.path)}: ${e.message}`, { reason: e.code, path: image.path });
    throw e;
  }
}

function sizeOf(p: string): number | null {
  try { return fs.statSync(p).size; } catch { return null; }
}

function readLog(p: string): string {
  try { return fs.readFileSync(p, 'utf8').replace(/^vdisk-fuse \d+: /gm, '').trim().split('\n').slice(-6).join(' ').slice(0, 600); } catch { return ''; }
}
