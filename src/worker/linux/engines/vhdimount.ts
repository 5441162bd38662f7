// Differencing VHD / AVHDX, read-only: libvhdi's vhdimount serves the child, reading through its parents, as
// <mountpoint>/vhdiN (N = the chain's depth; vhdi1 is the base). It finds each parent only by file name in the folder of the path it was given, so we
// give it a private folder of symlinks: the child plus every ancestor the format layer resolved, under each
// name libvhdi might look for. A chain spread over several folders then works.
import * as cp from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { ErrorCode } from '../../../common/protocol';
import type { ImageInfo, ParentLink } from '../../../common/image';
import { inspectImage } from '../../../formats';
import { openLayerFile, LayerRefused } from '../../../formats/layers';
import { WorkerError } from '../../errors';
import { EngineHandle, scratchDir, abandon } from './engine';
import { alive, processIdentity, requireTool, waitFor } from './process';
import { settings } from '../../settings';
import { allowOtherRefused } from '../fuse-conf';

const READY_TIMEOUT_MS = 15_000;

const winBase = (s: string) => s.replace(/\0+$/, '').split(/[\\/]/).filter(Boolean).pop() ?? '';

/** Every file name a child's parent link may be looked up under. */
export function parentNames(p: ParentLink): string[] {
  const names = [p.name, p.locators.relative, p.locators.absolute, p.locators.volume]
    .filter((x): x is string => !!x).map(winBase).filter((n) => n && n !== '.' && n !== '..');
  return [...new Set(names)];
}

/** name -> target for the symlink folder; throws when two ancestors need the same name. */
export async function linkPlan(image: ImageInfo): Promise<Map<string, string>> {
  const links = new Map<string, string>();
  const ext = path.extname(image.path).toLowerCase() || '.vhd';
  links.set(`vdisk-child${ext}`, image.path);
  let parent = image.parent;
  for (let i = 1; i < image.chain.length; i++) {
    const target = image.chain[i].path;
    if (!parent) break;
    for (const name of parentNames(parent)) {
      const had = links.get(name);
      if (had !== undefined && had !== target) {
        throw new WorkerError(ErrorCode.NotSupported,
          `vhdimount finds parents by file name only, and two disks of this chain are both named "${name}" (${had} and ${target}); rename one of them`,
          { reason: 'chain-name-clash', path: image.path });
      }
      links.set(name, target);
    }
    if (i + 1 < image.chain.length) parent = (await inspectImage(target)).parent;
  }
  return links;
}

/**
 * `allowOther`: as for startQemu (the udisks route). libfuse2 offers the narrower `allow_root` (the kernel mount is
 * allow_other, and the library refuses everyone but root and the user; measured: uid 1 gets EACCES); fusermount asks
 * for user_allow_other in /etc/fuse.conf for it all the same.
 */
export async function startVhdimount(image: ImageInfo, o: { allowOther?: boolean } = {}): Promise<EngineHandle> {
  const tool = requireTool(settings().vhdimount, 'libvhdi-utils', 'Attaching differencing VHD/AVHDX disks', 'vdisk.paths.vhdimount');
  const links = await linkPlan(image);
  const dir = scratchDir('vhdi');
  const linkDir = path.join(dir, 'links');
  const mnt = path.join(dir, 'fuse');
  // vhdimount lists the chain bottom-up: vhdi1 is the base parent and the last one is the child read through them all
  const exportFile = path.join(mnt, `vhdi${image.chain.filter((l) => l.format === 'vhd' || l.format === 'vhdx').length}`);
  let pid: number | undefined;
  const layerFds: number[] = [];
  const closeAll = () => { for (const fd of layerFds.splice(0)) { try { fs.closeSync(fd); } catch { /* closed */ } } };
  try {
    fs.mkdirSync(linkDir, { mode: 0o700 });
    fs.mkdirSync(mnt, { mode: 0o700 });
    // every file of the chain opened by us (layers.ts) and inherited by vhdimount: each link names its /dev/fd/N,
    // which resolves inside vhdimount to that very file, so it never opens a path by name
    const targets = [...new Set(links.values())];
    for (const t of targets) layerFds.push(openLayerFile(t, false).fd);
    for (const [name, target] of links) fs.symlinkSync(`/dev/fd/${3 + targets.indexOf(target)}`, path.join(linkDir, name));
    const log = fs.openSync(path.join(dir, 'log'), 'w', 0o600);
    const child = [...links.keys()][0];
    // -v keeps it in the foreground (so we know its pid); it prints nothing per read
    const proc = cp.spawn(tool, [...(o.allowOther ? ['-X', 'allow_root'] : []), '-v', path.join(linkDir, child), mnt], { stdio: ['ignore', log, log, ...layerFds], detached: true });
    fs.closeSync(log);
    closeAll();
    proc.unref();
    pid = proc.pid;
    let exited = false;
    proc.once('exit', () => { exited = true; });
    proc.once('error', () => { exited = true; });
    const ready = await waitFor(() => exited || sizeOf(exportFile) === image.virtualSize, READY_TIMEOUT_MS, 10);
    if (exited || !ready || !pid || !alive(pid)) {
      const text = readLog(path.join(dir, 'log'));
      if (/allow_other only allowed if 'user_allow_other'/.test(text)) throw allowOtherRefused(image, text);
      const size = sizeOf(exportFile);
      throw new WorkerError(ErrorCode.ImageProblem,
        `vhdimount could not serve ${image.path}${size !== null ? ` (it exported ${size} bytes, expected ${image.virtualSize})` : ''}: ${text || 'no message'}`,
        { reason: 'vhdimount-open', path: image.path });
    }
    const marker = processIdentity(pid);
    if (!marker) throw new WorkerError(ErrorCode.ImageProblem, `vhdimount exited while serving ${image.path}`, { reason: 'vhdimount-open', path: image.path });
    return { daemon: 'vhdimount', pid, marker, fuseMount: mnt, exportFile, dir };
  } catch (e) {
    closeAll();
    await abandon(dir, pid, mnt);
    if (e instanceof LayerRefused) throw new WorkerError(ErrorCode.ImageProblem, `Cannot attach ${path.basename(image.path)}: ${e.message}`, { reason: e.code, path: image.path });
    throw e;
  }
}

function sizeOf(p: string): number | null {
  try { return fs.statSync(p).size; } catch { return null; }
}

function readLog(p: string): string {
  try { return fs.readFileSync(p, 'utf8').replace(/^vhdimount \d+\s*/, '').trim().split('\n').slice(-6).join(' ').slice(0, 600); } catch { return ''; }
}
