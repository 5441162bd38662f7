// vdisk/browse/*: an image's files without attaching it. Listings come from the ImageCache; file data from 7-Zip
// runs that stream (read) or write into the destination (extract). Nothing here writes to an image.
import * as fs from 'fs';
import * as path from 'path';
import * as P from '../../common/protocol';
import { WorkerError } from '../errors';
import { FsNode, HIDDEN_TOP, newDir } from './slt';
import { describeVolume, ImageCache, OpenImage, QUIET, VolumeView } from './image-cache';
import { run7z, SevenZipFailure } from './sevenzip';
import { ReadSessions } from './read-session';
import { extractNative } from './native-extract';
import { dirLinks, linksUnder, makeLinks, refuseUnknownTargets } from './links-out';
import { ExfatError } from './exfat/boot';
import { FormatError } from '../../formats';

/** `names`: the path from the volume's root to `node` (empty for the volume root or the multi-volume root). */
interface Located { img: OpenImage; vol?: VolumeView; names: string[]; node: FsNode; path: string }

export class BrowseService {
  readonly images = new ImageCache();
  private readonly reads = new ReadSessions();

  async list(p: P.BrowseListParams): Promise<P.BrowseEntry[]> {
    // a recursive listing needs every entry: the full listings first, then the path is found in them
    if (p.recursive) await this.wholeVolumes(p);
    const at = await this.locate(p, true);
    try {
      if (at.node.type !== 'directory') throw new WorkerError(P.ErrorCode.InvalidParams, `${p.path} is not a folder in ${path.basename(at.img.path)}`, { reason: 'not-a-directory' });
      const out: P.BrowseEntry[] = [];
      const budget = { left: 8 };
      const walk = async (dir: FsNode, dirPath: string, names: string[], vol: VolumeView | undefined) => {
        if (vol && dir.partial) {
          // its entries are listed now (or the full listing arrives): found again, in whichever tree holds them
          await vol.tree.fill((await vol.tree.find(names, false, budget))!, budget);
          dir = (await vol.tree.find(names, false, budget))!.at(-1)!;
        }
        const kids = vol || !at.img.volumes.length ? [...dir.children!.values()] : at.img.volumes.map((v) => ({ ...v.tree.root, name: v.name }));
        for (const child of kids.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
          const childPath = `${dirPath === '/' ? '' : dirPath}/${child.name}`;
          const childVol = vol ?? at.img.volumes.find((v) => v.name === child.name);
          out.push(await entry(childPath, child, names, childVol, budget));
          if (p.recursive && child.type === 'directory') await walk(child, childPath, vol ? [...names, child.name] : [], childVol);
        }
      };
      await walk(at.node, at.path, at.names, at.vol);
      return out;
    } finally { this.images.warm(at.img); }
  }

  async stat(p: P.BrowsePathParams): Promise<P.BrowseEntry> {
    const at = await this.locate(p, false);
    try { return await entry(at.path, at.node, at.names.slice(0, -1), at.vol); } finally { this.images.warm(at.img); }
  }

  async read(p: P.BrowseReadParams): Promise<P.BrowseReadResult> {
    if (!Number.isSafeInteger(p.offset) || p.offset < 0 || !Number.isSafeInteger(p.length) || p.length < 0) {
      throw new WorkerError(P.ErrorCode.InvalidParams, 'read needs a non-negative offset and length');
    }
    const at = await this.locate(p, true);
    const { vol, inner } = this.fileOf(at, p.path);
    if (vol.native) {
      const data = await vol.native.read(at.node, p.offset, Math.min(p.length, P.BROWSE_READ_CHUNK)).catch((e) => { throw this.failure(e, at, vol, inner); });
      return { data: Buffer.from(data).toString('base64'), size: at.node.size, eof: p.offset + data.length >= at.node.size };
    }
    const key = `${at.img.path}\0${at.img.stamps}\0${vol.name}\0${inner}`;
    const data = await this.reads.read(key, at.node.size, p.offset, Math.min(p.length, P.BROWSE_READ_CHUNK), (onData, cancelled) =>
      run7z({ disk: at.img.disk, volume: vol.volume, args: ['e', ...QUIET, '-spd', '-aos', '/in/volume', '-o/out', '--', inner], op: { kind: 'stream' }, onData, cancelled }),
    (e) => this.failure(e, at, vol, inner));
    return { data: Buffer.from(data).toString('base64'), size: at.node.size, eof: p.offset + data.length >= at.node.size };
  }

  async extract(p: P.BrowseExtractParams, progress: (bytes: number, total: number) => void, cancelled: Promise<void>): Promise<P.BrowseExtractResult> {
    if (typeof p.dest !== 'string' || !p.dest) throw new WorkerError(P.ErrorCode.InvalidParams, 'extract needs a destination path');
    const dest = path.resolve(p.dest);
    let at = await this.locate(p, false);
    // a folder comes out whole: its size and every entry from the full listing
    if (at.node.type === 'directory') { await this.wholeVolumes(p); at = await this.locate(p, false); }
    if (fs.existsSync(dest) || isLink(dest)) throw new WorkerError(P.ErrorCode.InvalidParams, `${dest} already exists: vdisk never replaces files when extracting`, { reason: 'exists', path: dest });
    if (!fs.existsSync(path.dirname(dest))) throw new WorkerError(P.ErrorCode.NotFound, `${path.dirname(dest)} does not exist`, { path: path.dirname(dest) });
    try { fs.accessSync(path.dirname(dest), fs.constants.W_OK); } catch {
      throw new WorkerError(P.ErrorCode.PermissionDenied, `${path.dirname(dest)} is not writable by this user: choose another folder to extract to`, { path: path.dirname(dest), reason: 'destination' });
    }
    const result: P.BrowseExtractResult = { dest, files: 0, bytes: 0 };
    // the whole multi-volume disk: one folder per volume, each extracted whole
    const jobs: { vol: VolumeView; node: FsNode; names: string[]; inner: string; dest: string; skip: number }[] = [];
    if (!at.vol) {
      fs.mkdirSync(dest);
      for (const v of at.img.volumes) jobs.push({ vol: v, node: v.tree.root, names: [], inner: '', dest: path.join(dest, v.name), skip: -1 });
    } else {
      const inner = at.names.join('/');
      jobs.push({ vol: at.vol, node: at.node, names: at.names, inner, dest, skip: inner ? inner.split('/').length - 1 : -1 });
    }
    const total = jobs.reduce((n, j) => n + sizeOf(j.node), 0);
    const problems = jobs.flatMap((j) => problemsUnder(j.node, at.vol ? p.path : `/${j.vol.name}`));
    if (problems.length) result.problems = problems;
    try {
      for (const j of jobs) {
        const base = result.bytes;
        if (j.vol.native) {
          const r = await extractNative(j.vol.native, j.node, j.dest, (bytes) => progress(base + bytes, total), cancelled)
            .catch((e) => { throw this.failure(e, at, j.vol, j.inner); });
          result.files += r.files; result.bytes += r.bytes;
          continue;
        }
        const links = linksUnder(j.node);
        refuseUnknownTargets(links, p.path);
        const r = j.node.type === 'symlink' ? { rc: 0, errors: [], files: 0, bytes: 0 } : await run7z({
          disk: at.img.disk, volume: j.vol.volume, op: { kind: 'dest', dest: j.dest, skip: j.skip },
          args: ['x', ...QUIET, '-spd', '-aos', '-snl-', '/in/volume', '-o/out', ...(j.inner ? ['--', j.inner] : [...HIDDEN_TOP].map((h) => `-x!${h}`))],
          onProgress: (bytes) => progress(base + bytes, total), cancelled,
        }).done.catch((e) => { throw this.failure(e, at, j.vol, j.inner); });
        if (r.rc !== 0) throw this.failure(new Error(summary(r.errors, r.rc)), at, j.vol, j.inner);
        result.files += r.files + makeLinks(links, j.dest, await dirLinks(j.vol, j.names, links));
        result.bytes += r.bytes;
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
      if (!parts.length) return { img, names: [], node: newDir(''), path: '/' };
      vol = img.volumes.find((v) => v.name === parts[0]);
      if (!vol) throw notFound();
      parts.shift();
    }
    const found = await vol.tree.find(parts, followLast).catch((e) => { throw this.failure(e, { img, vol, names: parts, node: vol!.tree.root, path: shown }, vol!, parts.join('/')); });
    if (!found) {
      // a link whose target is outside the volume (or missing): say so, still NotFound (links are never followed out)
      const link = followLast ? (await vol.tree.find(parts, false).catch(() => null))?.at(-1) : undefined;
      if (link?.type === 'symlink') {
        throw new WorkerError(P.ErrorCode.NotFound, `${p.path} is a symbolic link to ${link.target ?? 'an unknown target'}, which is not inside ${path.basename(img.path)}: links are never followed out of the image`,
          { reason: 'not-in-image', path: p.path });
      }
      throw notFound();
    }
    return { img, vol, names: found.slice(1).map((n) => n.name), node: found[found.length - 1], path: shown };
  }

  /** Waits for the full listings of the volumes under `p.path`. */
  private async wholeVolumes(p: P.BrowsePathParams): Promise<void> {
    if (!p || typeof p.image !== 'string' || typeof p.path !== 'string') return;   // locate() says what is wrong
    const img = await this.images.get(p.image, p.searchFolders);
    const top = p.path.split('/').filter((x) => x && x !== '.')[0];
    for (const v of img.volumes) {
      if (img.volumes.length > 1 && top !== undefined && v.name !== top) continue;
      await v.tree.whole().catch((e) => { throw this.failure(e, { img, vol: v, names: [], node: v.tree.root, path: p.path }, v, ''); });
    }
  }

  private fileOf(at: Located, shown: string): { vol: VolumeView; inner: string } {
    if (!at.vol || at.node.type !== 'file') {
      throw new WorkerError(P.ErrorCode.InvalidParams, `${shown} is ${at.node.type === 'directory' ? 'a folder' : 'a link that leads nowhere inside the image'}, not a file`, { reason: 'not-a-file' });
    }
    return { vol: at.vol, inner: at.names.join('/') };
  }

  private failure(e: unknown, at: Located, vol: VolumeView, inner: string): WorkerError {
    if (e instanceof WorkerError) return e;
    const where = `${inner || '/'} in ${describeVolume(vol.volume)} (${vol.tree.type}) of ${path.basename(at.img.path)}`;
    if (e instanceof SevenZipFailure) {
      if (e.reason === 'cancelled') return new WorkerError(P.ErrorCode.Cancelled, 'Extraction cancelled; nothing was left behind');
      const code = e.reason === 'block-read' ? P.ErrorCode.ImageProblem : P.ErrorCode.OsError;
      return new WorkerError(code, `${where}: ${e.message}`, { reason: `browse-${e.reason}`, path: at.img.path });
    }
    if (e instanceof ExfatError) return new WorkerError(P.ErrorCode.ImageProblem, `file system: ${where}: ${e.message}`, { reason: 'file-system', path: at.img.path });
    if (e instanceof FormatError) return new WorkerError(P.ErrorCode.ImageProblem, `block layer: ${where}: ${e.message}`, { reason: e.code, path: at.img.path });
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

async function entry(p: string, node: FsNode, dirNames: string[], vol: VolumeView | undefined, budget?: { left: number }): Promise<P.BrowseEntry> {
  const e: P.BrowseEntry = { path: p, name: p === '/' ? '' : node.name, type: node.type, size: node.type === 'directory' ? 0 : node.size, mtime: node.mtime };
  if (node.problems?.length) e.problems = [...node.problems];
  if (node.type === 'symlink' && vol) {
    e.target = node.target;
    const r = await vol.tree.find([...dirNames, node.name], true, budget);
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

/** Damaged entries skipped in the folders at or under `n` (shown at `shown`). */
function problemsUnder(n: FsNode, shown: string, out: string[] = []): string[] {
  if (n.type !== 'directory') return out;
  for (const p of n.problems ?? []) out.push(`${shown}: ${p}`);
  for (const c of n.children!.values()) problemsUnder(c, `${shown === '/' ? '' : shown}/${c.name}`, out);
  return out;
}

function sizeOf(n: FsNode): number {
  if (n.type !== 'directory') return n.size;
  let s = 0;
  for (const c of n.children!.values()) s += sizeOf(c);
  return s;
}

function isLink(p: string): boolean { try { return fs.lstatSync(p).isSymbolicLink(); } catch { return false; } }
