// Dynamic VHD, VHDX, qcow2, VMDK, VDI: qemu-storage-daemon exports the image as a raw file over FUSE, and the
// loop device sits on that file. Blockdev and export options are passed as JSON, so no image name (commas,
// quotes, newlines) can be misparsed; the daemon runs with --daemonize, which exits the parent only once the
// export is served (or with the reason it is not).
import * as cp from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { ErrorCode } from '../../../common/protocol';
import type { ImageInfo } from '../../../common/image';
import { WorkerError } from '../../errors';
import { EngineHandle, scratchDir, abandon } from './engine';
import { alive, processIdentity, requireTool, waitFor } from './process';
import { qemuGraph } from './qemu-graph';
import { settings } from '../../settings';
import { allowOtherRefused } from '../fuse-conf';

export type QemuDriver = 'vpc' | 'vhdx' | 'qcow2' | 'vmdk' | 'vdi';

const START_TIMEOUT_MS = 20_000;

/**
 * `driver` is the top layer's; the layers below come from the chain (qemu-graph.ts). `allowOther`: the export may be
 * read by other users, root included (the udisks route: the loop driver reads it as root); it is still reachable only
 * through our 0700 scratch folder. A non-root user may ask for it only when /etc/fuse.conf has user_allow_other.
 */
export async function startQemu(image: ImageInfo, driver: QemuDriver, readOnly: boolean, o: { allowOther?: boolean } = {}): Promise<EngineHandle> {
  const qsd = requireTool(settings().qemuStorageDaemon, 'qemu-system-common', `Attaching ${image.format.toUpperCase()} images`, 'vdisk.paths.qemuStorageDaemon');
  const dir = scratchDir('qemu');
  const exportFile = path.join(dir, 'export.raw');
  const pidFile = path.join(dir, 'pid');
  const ro = readOnly;
  try {
    fs.writeFileSync(exportFile, '', { mode: 0o600 }); // the FUSE export mountpoint must be an existing regular file
    const graph = qemuGraph(image, ro, dir);
    const top = graph.blockdevs[graph.blockdevs.length - 1];
    if (top.driver !== driver) { graph.close(); throw new Error(`qemu graph top driver ${String(top.driver)} is not ${driver}`); }
    const args = [
      ...graph.blockdevs.flatMap((b) => ['--blockdev', JSON.stringify(b)]),
      '--export', JSON.stringify({ type: 'fuse', id: 'exp0', 'node-name': 'disk0', mountpoint: exportFile, writable: !ro, growable: false,
        ...(o.allowOther ? { 'allow-other': 'on' } : {}) }),
      '--chardev', `socket,id=qmp0,path=${path.join(dir, 'qmp.sock').replace(/,/g, ',,')},server=on,wait=off`,
      '--monitor', 'chardev=qmp0',
      '--pidfile', pidFile,
      '--daemonize',
    ];
    let result: { code: number | null; stderr: string };
    try { result = await spawnAndWait(qsd, args, graph.fds); } finally { graph.close(); }
    const { code, stderr } = result;
    if (code !== 0) throw startError(image, stderr);
    const pid = Number(fs.readFileSync(pidFile, 'utf8').trim());
    // the export is served once the daemon's parent exits; its size is the disk's virtual size
    const ready = await waitFor(() => alive(pid) && sizeOf(exportFile) === image.virtualSize, 5000);
    const marker = processIdentity(pid);
    if (!ready || !marker) {
      const size = sizeOf(exportFile);
      await abandon(dir, pid, exportFile);
      throw new WorkerError(ErrorCode.OsError,
        `qemu-storage-daemon exported ${size ?? 'nothing'} bytes for ${image.path}, expected ${image.virtualSize}`, { reason: 'export-size', path: image.path });
    }
    return { daemon: 'qemu-storage-daemon', pid, marker, fuseMount: exportFile, exportFile, dir };
  } catch (e) {
    let pid: number | undefined;
    try { pid = Number(fs.readFileSync(pidFile, 'utf8').trim()) || undefined; } catch { /* never started */ }
    await abandon(dir, pid, exportFile);
    throw e;
  }
}

function sizeOf(p: string): number | null {
  try { return fs.statSync(p).size; } catch { return null; }
}

function spawnAndWait(file: string, args: string[], fds: number[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    // the layer fds become the daemon's fds 3, 4, ... (`/dev/fd/N` in its blockdevs)
    const child = cp.spawn(file, args, { stdio: ['ignore', 'ignore', 'pipe', ...fds], detached: true });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => { if (stderr.length < 8192) stderr += d.toString(); });
    const timer = setTimeout(() => { child.kill('SIGKILL'); resolve({ code: null, stderr: `${stderr}\n(timed out after ${START_TIMEOUT_MS} ms)` }); }, START_TIMEOUT_MS);
    child.once('error', (e) => { clearTimeout(timer); reject(e); });
    // 'exit', not 'close': the daemonized grandchild may hold stderr a moment longer
    child.once('exit', (code) => { clearTimeout(timer); setImmediate(() => resolve({ code, stderr: stderr.trim() })); });
  });
}

function startError(image: ImageInfo, stderr: string): WorkerError {
  const msg = stderr.replace(/^qemu-storage-daemon: /gm, '').trim() || 'no message';
  if (/allow_other only allowed if 'user_allow_other'/.test(msg)) return allowOtherRefused(image, msg);
  if (/Failed to get "?\w+"? lock|Is another process using the image/i.test(msg)) {
    return new WorkerError(ErrorCode.Busy, `${image.path} is in use by another program (qemu could not lock it): ${msg}`, { reason: 'locked', path: image.path });
  }
  if (/fuse|\/dev\/fuse/i.test(msg) && /not permitted|denied|No such device/i.test(msg)) {
    return new WorkerError(ErrorCode.MissingDependency, `qemu-storage-daemon could not create its FUSE export: ${msg}`, { missing: 'fuse3', path: image.path });
  }
  return new WorkerError(ErrorCode.ImageProblem, `qemu-storage-daemon could not open ${image.path}: ${msg}`, { reason: 'qemu-open', path: image.path });
}
