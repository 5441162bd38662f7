// The files a virtual disk is read from: the image itself, its parents and backing files, qcow2 data files and VMDK
// extents. Every one is opened through one injectable function (LayerOpener) so that the rule for which pulled-in
// files are acceptable lives in one place; `openLayerFile` is the default rule: regular files only, never a device,
// a FIFO, /proc or /sys, opened read-only.
import * as fs from 'fs';
import * as path from 'path';
import { FormatError } from './errors';

export type LayerRole = 'image' | 'parent' | 'backing' | 'data-file' | 'extent';

export interface LayerRequest {
  /** Absolute path as the image names it (after resolving it against the naming file's folder). */
  path: string;
  role: LayerRole;
  /** The layer that names this file (null for the image the user opened). */
  from: string | null;
}

/** One open, read-only file of a chain. Reads are positional and synchronous (see reader.ts for why). */
export interface LayerFile {
  /** The real path (symbolic links resolved): what the chain shows. */
  readonly path: string;
  readonly size: number;
  /** Reads up to `len` bytes at `pos` into `buf` at `off`; fewer only where the file ends. */
  readInto(buf: Uint8Array, off: number, len: number, pos: number): number;
  close(): void;
}

export type LayerOpener = (req: LayerRequest) => Promise<LayerFile>;

const FORBIDDEN_ROOTS = ['/proc', '/sys', '/dev'];

const roleName: Record<LayerRole, string> = {
  image: 'image', parent: 'parent', backing: 'backing file', 'data-file': 'data file', extent: 'extent',
};

function describe(req: LayerRequest): string {
  return req.from ? `${roleName[req.role]} ${req.path} (named by ${req.from})` : req.path;
}

/** The default rule: a regular file the process can read, outside /proc, /sys and /dev, opened O_RDONLY. */
export const openLayerFile: LayerOpener = async (req) => {
  const what = describe(req);
  let real: string;
  try {
    real = fs.realpathSync.native(req.path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new FormatError('not-found', `${what}: no such file`);
    throw new FormatError('unreadable', `${what}: ${(e as Error).message}`);
  }
  if (process.platform !== 'win32' && FORBIDDEN_ROOTS.some((r) => real === r || real.startsWith(`${r}/`))) {
    throw new FormatError('refused-layer', `${what}: resolves to ${real}, under ${real.split('/').slice(0, 2).join('/')}, which vdisk never reads as a disk layer`);
  }
  let fd: number;
  try {
    // O_NONBLOCK: a FIFO swapped in after the check must not hang the open; O_NOFOLLOW: the real path has no links
    fd = fs.openSync(real, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0) | (fs.constants.O_NOFOLLOW ?? 0));
  } catch (e) {
    throw new FormatError('unreadable', `${what}: ${(e as Error).message}`);
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) {
      throw new FormatError('refused-layer', `${what} is not a regular file (${st.isDirectory() ? 'a directory' : st.isBlockDevice() || st.isCharacterDevice() ? 'a device' : 'a special file'})`);
    }
    return new FdLayerFile(real, fd, st.size);
  } catch (e) {
    fs.closeSync(fd);
    throw e;
  }
};

class FdLayerFile implements LayerFile {
  private closed = false;
  constructor(readonly path: string, private readonly fd: number, readonly size: number) {}

  readInto(buf: Uint8Array, off: number, len: number, pos: number): number {
    if (this.closed) throw new FormatError('unreadable', `${this.path}: read after close`);
    const n = Math.max(0, Math.min(len, this.size - pos));
    let done = 0;
    while (done < n) {
      const got = fs.readSync(this.fd, buf, off + done, n - done, pos + done);
      if (got === 0) break;
      done += got;
    }
    return done;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    fs.closeSync(this.fd);
  }
}

/** A file named inside an image, as an absolute path: relative names are relative to the naming file's folder. */
export function resolveNamed(from: string, name: string): string {
  return path.resolve(path.dirname(from), name);
}

/** What a format's block reader may ask of openDisk: files it pulls in, and whole images beneath it (backing files). */
export interface LayerContext {
  openFile(req: LayerRequest): Promise<LayerFile>;
  /**
   * Another image beneath this one (a qcow2 backing file, a VMDK parent) as a whole disk, one level deeper in the
   * chain. `format` forces the format (qcow2's backing format 'raw' is never probed); otherwise it is detected.
   */
  openImage(req: LayerRequest, format?: string): Promise<OpenedLayer>;
}

export interface OpenedLayer {
  disk: import('./block').BlockReader;
  /** The real path opened. */
  path: string;
  /** The identity a child names it by (VHD unique id, VHDX DataWriteGuid, VMDK CID), lowercase, or null. */
  id: string | null;
}
