// One open image per path: its disk through the block layer, its volumes and each volume's listing by 7-Zip.
// Kept while the stamps (size, mtime, inode) of every file of its chain are unchanged; a changed layer reopens it.
import * as fs from 'fs';
import * as path from 'path';
import { ErrorCode } from '../../common/protocol';
import type { BlockReader } from '../../formats/block';
import { openDisk } from '../../formats/open-disk';
import { FormatError } from '../../formats';
import { defaultLayerOpener } from '../../formats/layer-files';
import { findVolumes, Volume } from '../../formats/volumes';
import { WorkerError } from '../errors';
import { FILE_SYSTEMS } from './slt';
import { SevenZipFailure } from './sevenzip';
import { VolumeTree } from './volume-tree';
import { listerFor, NativeVolume } from './listers';

export interface VolumeView {
  volume: Volume;
  name: string;
  tree: VolumeTree;
  /** A file system vdisk reads itself (7-Zip cannot): its files are read and extracted through it. */
  native?: NativeVolume;
}
export interface OpenImage {
  path: string;
  disk: BlockReader;
  volumes: VolumeView[];
  chain: string[];
  stamps: string;
}

const MAX_OPEN = 8;
const WARM_AFTER_MS = 250;
const CRAWL_FILLS = 4;
const FS_NAMES: Record<string, string> = { Ext: 'ext', Iso: 'ISO 9660', Udf: 'UDF', HFS: 'HFS+', SquashFS: 'squashfs' };
export { QUIET } from './listers';

export class ImageCache {
  private readonly open = new Map<string, Promise<OpenImage>>();

  async get(image: string, searchFolders?: string[]): Promise<OpenImage> {
    const abs = path.resolve(image);
    const cached = this.open.get(abs);
    if (cached) {
      const e = await cached.catch(() => undefined);
      if (e && stampsOf(e.chain) === e.stamps) {
        this.open.delete(abs); this.open.set(abs, cached);   // most recently used last
        return e;
      }
      this.open.delete(abs);
      if (e) void e.disk.close();
    }
    const p = load(abs, searchFolders);
    this.open.set(abs, p);
    p.catch(() => { if (this.open.get(abs) === p) this.open.delete(abs); });
    while (this.open.size > MAX_OPEN) {
      const [k, old] = this.open.entries().next().value as [string, Promise<OpenImage>];
      this.open.delete(k);
      void old.then((o) => o.disk.close(), () => undefined);
    }
    return p;
  }

  /**
   * Starts the full listings of an image's volumes once no request has come for WARM_AFTER_MS (each is a 7-Zip
   * thread of its own, one at a time), so the answers a user waits for never share the CPU with them, and a
   * one-shot `ls` from the command line never pays for them; at once when requests keep listing new folders.
   */
  warm(img: OpenImage): void {
    if (this.warmTimer) clearTimeout(this.warmTimer);
    const start = () => {
      for (const v of img.volumes) {
        if (v.tree.started) continue;
        this.background = this.background.then(() => (this.open.has(img.path) ? v.tree.whole().then(() => undefined, () => undefined) : undefined));
      }
    };
    // a crawl (many folders one after another, e.g. a search) gets the full listing without waiting for a pause
    if (img.volumes.some((v) => v.tree.fills >= CRAWL_FILLS)) { start(); return; }
    this.warmTimer = setTimeout(start, WARM_AFTER_MS);
    this.warmTimer.unref?.();
  }
  private background: Promise<void> = Promise.resolve();
  private warmTimer: NodeJS.Timeout | undefined;

  async dispose(): Promise<void> {
    if (this.warmTimer) clearTimeout(this.warmTimer);
    const all = [...this.open.values()];
    this.open.clear();
    await Promise.all(all.map((p) => p.then((o) => o.disk.close(), () => undefined)));
  }
}

function stampsOf(files: string[]): string {
  return files.map((f) => { try { const s = fs.statSync(f); return `${s.size}:${s.mtimeMs}:${s.ino}`; } catch { return 'gone'; } }).join('|');
}

async function load(abs: string, searchFolders?: string[]): Promise<OpenImage> {
  let st: fs.Stats;
  try { st = fs.statSync(abs); } catch { throw new WorkerError(ErrorCode.NotFound, `${abs} does not exist`, { path: abs }); }
  if (!st.isFile()) throw new WorkerError(ErrorCode.UnsupportedImage, `${abs} is not a regular file`, { path: abs, reason: 'not-a-file' });
  let disk: BlockReader;
  // every file the block layer opens (parents, backing files, data files, extents): its stamps keep the cache valid
  const chain: string[] = [];
  try {
    disk = await openDisk(abs, { searchFolders, openLayer: async (req) => { const f = await defaultLayerOpener(req); chain.push(f.path); return f; } });
  } catch (e) { throw blockError(e, abs); }
  const stamps = stampsOf(chain);
  try {
    const volumes: VolumeView[] = [];
    const notes: string[] = [];
    for (const v of await findVolumes(disk)) {
      const r = await openVolume(disk, v).catch((e: Error) => e);
      if (r instanceof Error) notes.push(r.message);
      else volumes.push({ volume: v, tree: r.tree, native: r.native, name: volumeName(v, r.tree) });
    }
    if (!volumes.length) {
      throw new WorkerError(ErrorCode.UnsupportedImage, `${path.basename(abs)} holds no file system vdisk can browse: ${notes.join('; ') || 'no volumes'}`,
        { path: abs, reason: 'no-file-system' });
    }
    return { path: abs, disk, volumes, chain, stamps };
  } catch (e) {
    await disk.close();
    throw e;
  }
}

export function describeVolume(v: Volume): string {
  return v.index === 0 ? 'the disk' : `volume ${v.index} (offset ${v.offset})`;
}

async function openVolume(disk: BlockReader, v: Volume): Promise<{ tree: VolumeTree; native?: NativeVolume }> {
  const where = describeVolume(v);
  const { lister, native } = await listerFor(disk, v);
  let tree: VolumeTree;
  try { tree = await VolumeTree.open(lister); } catch (e) {
    // an APFS container (its superblock magic NXSB at byte 32) 7-Zip could not read: say what it is
    const magic = new Uint8Array(4);
    const apfs = v.size >= 4096 && await disk.read(magic, v.offset + 32).then(() => String.fromCharCode(...magic) === 'NXSB', () => false);
    throw new Error(`${where}${apfs ? ' (an APFS container)' : ''}: ${(e as Error).message}`);
  }
  if (!FILE_SYSTEMS.has(tree.type)) throw new Error(`${where} holds a ${tree.type}, not a file system`);
  return { tree, native };
}

function volumeName(v: Volume, l: { type: string; label: string | null }): string {
  const label = (l.label || v.partitionName || '').replace(/[/\\\0]/g, '_').trim();
  const fsName = FS_NAMES[l.type] ?? l.type;
  return `${v.index} · ${label ? `${label} (${fsName})` : fsName}`;
}

function blockError(e: unknown, abs: string): unknown {
  if (e instanceof FormatError) {
    const code = e.code === 'not-found' ? ErrorCode.NotFound : e.code === 'chain-broken' ? ErrorCode.ImageProblem
      : /no read permission/.test(e.message) ? ErrorCode.PermissionDenied : ErrorCode.UnsupportedImage;
    return new WorkerError(code, `block layer: ${e.message}`, { path: abs, reason: e.code });
  }
  return e;
}

export { SevenZipFailure };
