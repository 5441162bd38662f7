// vdisk/browse/*: an image's files without attaching it. Listings come from the ImageCache; file data from 7-Zip
// runs that stream (read) or write into the destination (extract). Nothing here writes to an image.
import * as fs from 'fs';
import * as path from 'path';
import * as P from '../../common/protocol';
import { WorkerError } from '../errors';
import { FsNode, HIDDEN_TOP, resolve } from './slt';
import { describeVolume, ImageCache, OpenImage, QUIET, VolumeView } from './image-cache';
import { run7z, SevenZipFailure } from './sevenzip';
import { ReadSessions } from './read-session';

/** `names`: the path from the volume's root to `node` (empty for the volume root or the multi-volume root). */
interface Located { img: OpenImage; vol?: VolumeView; names: string[]; node: FsNode; path: string }

export class BrowseService {
  readonly images = new ImageCache();
  private readonly reads = new ReadSessions();

  async list(p: P.BrowseListParams): Promise<P.BrowseEntry[]> {
    const at = await this.locate(p, true);
    if (at.node.type !== 'directory') throw new WorkerError(P.ErrorCode.InvalidParams, `${p.path} is not a folder in ${path.basename(at.img.path)}`, { reason: 'not-a-directory' });
    const out: P.BrowseEntry[] = [];
    const walk = (dir: FsNode, dirPath: string, names: string[], vol: VolumeView | undefined) => {
      for (const child of [...dir.children!.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
        const childPath = `${dirPath === '/' ? '' : dirPath}/${child.name}`;
        const childVol = vol ?? at.img.volumes.find((v) => v.name === child.name);
        out.push(entry(childPath, child, names, childVol));
        if (p.recursive && child.type === 'directory') walk(child, childPath, vol ? [...names, child.name] : [], childVol);
      }
    };
    walk(at.node, at.path, at.names, at.vol);
    return out;
  }

  async stat(p: P.BrowsePathParams): Promise<P.BrowseEntry> {
    const at = await this.locate(p, false);
    return entry(at.path, at.node, at.names.slice(0, -1), at.vol);
  }

  async read(p: P.BrowseReadParams): Promise<P.BrowseReadResult> {
    if (!Number.isSafeInteger(p.offset) || p.offset < 0 || !Number.isSafeInteger(p.length) || p.length < 0) {
      throw new WorkerError(P.ErrorCode.InvalidParams, 'read needs a non-negative offset and length');
    }
    const at = await this.locate(p, true);
    const { vol, inner } = this.fileOf(at, p.path);
    const key = `${at.img.path}\0${at.img.stamps}\0${vol.name}\0${inner}`;
    const data = await this.reads.read(key, at.node.size, p.offset, Math.min(p.length, P.BROWSE_READ_CHUNK), (onData, cancelled) =>
      run7z({ disk: at.img.disk, volume: vol.volume, args: ['e', ...QUIET, '-spd', '-aos', '/in/volume', '-o/out', '--', inner], op: { kind: 'stream' }, onData, cancelled }),
    (e) => this.failure(e, at, vol, inner));
    return { data: Buffer.from(data).toString('base64'), size: at.node.size, eof: p.offset + data.length >= at.node.size };
  }

  async extract(p: P.BrowseExtractParams, progress: (bytes: number, total: number) => void, cancelled: Promise<void>): Promise<P.BrowseExtractResult> {
    if (typeof p.dest !== 'string' || !p.dest) throw new WorkerError(P.ErrorCode.InvalidParams, 'extract needs a destination path');
    const dest = path.resolve(p.dest);
    const at = await this.locate(p, false);
    if (fs.existsSync(dest) || isLink(dest)) throw new WorkerError(P.ErrorCode.InvalidParams, `${dest} already exists: vdisk never replaces files when extracting`, { reason: 'exists', path: dest });
    if (!fs.existsSync(path.dirname(dest))) throw new WorkerError(P.ErrorCode.NotFound, `${path.dirname(dest)} does not exist`, { path: path.dirname(dest) });
    try { fs.accessSync(path.dirname(dest), fs.constants.W_OK); } catch {
      throw new WorkerError(P.ErrorCode.PermissionDenied, `${path.dirname(dest)} is not writable by this user: choose another folder to extract to`, { path: path.dirname(dest), reason: 'destination' });
    }
    const total = sizeOf(at.node);
    const result = { dest, files: 0, bytes: 0 };
    // the whole multi-volume disk: one folder per volume, each extracted whole
    const jobs: { vol: VolumeView; inner: string; dest: string; skip: number }[] = [];
    if (!at.vol) {
      fs.mkdirSync(dest);
      for (const v of at.img.volumes) jobs.push({ vol: v, inner: '', dest: path.join(dest, v.name), skip: -1 });
    } else {
      const inner = at.names.join('/');
      jobs.push({ vol: at.vol, inner, dest, skip: inner ? inner.split('/').length - 1 : -1 });
    }
    try {
      for (const j of jobs) {
        const base = result.bytes;
        const r = await run7z({
          disk: at.img.disk, volume: j.vol.volume, op: { kind: 'dest', dest: j.dest, skip: j.skip },
          args: ['x', ...QUIET, '-spd', '-aos', '-snld', '/in/volume', '-o/out', ...(j.inner ? ['--', j.inner] : [...HIDDEN_TOP].map((h) => `-x!${h}`))],
          onProgress: (bytes) => progress(base + bytes, total), cancelled,
        }).done.catch((e) => { throw this.failure(e, at, j.vol, j.inner); });
        if (r.rc !== 0) throw this.failure(new Error(summary(r.errors, r.rc)), at, j.vol, j.inner);
        result.files += r.files; result.bytes += r.bytes;
        progress(result.bytes, total);
      }
      return result;
    } catch (e) {
      fs.rmSync(dest, { recursive: true, force: true });   // it did not exist before: nothing half-written stays
      throw e;
    }
  }

  dispose(): Promise<void> { this.reads.dispose(); return this.images.dispose(); }

  private async locate(p: P.BrowsePathParams, followLast: boolean): Promise<Located> {
    if (!p || typeof p.image !== 'string' || !p.image || typeof p.path !== 'string' || !p.path.startsWith('/')) {
      throw new WorkerError(P.ErrorCode.InvalidParams, 'browse needs an image and a path inside it starting with /');
    }
    const img = await this.images.get(p.image, p.searchFolders);
    const parts = p.path.split('/').filter((x) => x && x !== '.');
    const notFound = () => new WorkerError(P.ErrorCode.NotFound, `${p.path} is not in ${path.basename(img.path)}`, { reason: 'not-in-image', path: p.path });
    if (parts.includes('..')) throw notFound();
    const shown = '/' + parts.join('/');
    let vol: VolumeView | undefined = img.volumes[0];
    if (img.volumes.length > 1) {
      if (!parts.length) return { img, names: [], node: img.root, path: '/' };
      vol = img.volumes.find((v) => v.name === parts[0]);
      if (!vol) throw notFound();
      parts.shift();
    }
    const found = resolve(vol.listing.root, parts, followLast);
    if (!found) throw notFound();
    return { img, vol, names: found.slice(1).map((n) => n.name), node: found[found.length - 1], path: shown };
  }

  private fileOf(at: Located, shown: string): { vol: VolumeView; inner: string } {
    if (!at.vol || at.node.type !== 'file') {
      throw new WorkerError(P.ErrorCode.InvalidParams, `${shown} is ${at.node.type === 'directory' ? 'a folder' : 'a link that leads nowhere inside the image'}, not a file`, { reason: 'not-a-file' });
    }
    return { vol: at.vol, inner: at.names.join('/') };
  }

  private failure(e: unknown, at: Located, vol: VolumeView, inner: string): WorkerError {
    if (e instanceof WorkerError) return e;
    const where = `${inner || '/'} in ${describeVolume(vol.volume)} (${vol.listing.type}) of ${path.basename(at.img.path)}`;
    if (e instanceof SevenZipFailure) {
      if (e.reason === 'cancelled') return new WorkerError(P.ErrorCode.Cancelled, 'Extraction cancelled; nothing was left behind');
      const code = e.reason === 'block-read' ? P.ErrorCode.ImageProblem : P.ErrorCode.OsError;
      return new WorkerError(code, `${where}: ${e.message}`, { reason: `browse-${e.reason}`, path: at.img.path });
    }
    const msg = (e as Error).message;
    if (/can'?not allocate|out of memory/i.test(msg)) {
      return new WorkerError(P.ErrorCode.OsError, `${where}: 7-Zip needed more memory than its cap: ${msg}`, { reason: 'browse-memory', path: at.img.path });
    }
    // 7-Zip names its output paths /out/...: those failures are the destination's, not the image's
    if (/cannot (open output file|create folder|create symbolic link|set)|no space left|\/out\//i.test(msg)) {
      return new WorkerError(P.ErrorCode.OsError, `destination: writing ${inner || '/'} from ${path.basename(at.img.path)}: 7-Zip: ${msg}`, { reason: 'destination', path: at.img.path });
    }
    return new WorkerError(P.ErrorCode.ImageProblem, `file system: ${where}: 7-Zip: ${msg}`, { reason: 'file-system', path: at.img.path });
  }
}

function entry(p: string, node: FsNode, dirNames: string[], vol: VolumeView | undefined): P.BrowseEntry {
  const e: P.BrowseEntry = { path: p, name: p === '/' ? '' : node.name, type: node.type, size: node.type === 'directory' ? 0 : node.size, mtime: node.mtime };
  if (node.type === 'symlink' && vol) {
    e.target = node.target;
    const r = resolve(vol.listing.root, [...dirNames, node.name], true);
    const t = r?.[r.length - 1];
    if (t && t.type !== 'symlink') e.targetType = t.type;
  }
  return e;
}

/** 7-Zip's first error and how many more: one line for the user. */
function summary(errors: string[], rc: number): string {
  const first = errors.find((e) => /error/i.test(e)) ?? errors[0];
  if (!first) return `exit code ${rc}`;
  const more = errors.filter((e) => /error/i.test(e)).length - 1;
  return more > 0 ? `${first} (and ${more} more)` : first;
}

function sizeOf(n: FsNode): number {
  if (n.type !== 'directory') return n.size;
  let s = 0;
  for (const c of n.children!.values()) s += sizeOf(c);
  return s;
}

function isLink(p: string): boolean { try { return fs.lstatSync(p).isSymbolicLink(); } catch { return false; } }
