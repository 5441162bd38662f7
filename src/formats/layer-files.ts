// The files a virtual disk is read from: the image itself, its parents and backing files, qcow2 data files and VMDK
// extents. Every one is opened through one injectable function (LayerOpener); the default applies the project's one
// rule for acceptable layers (layers.ts: regular files only, never under /proc, /sys or /dev, with the requester's
// rights, verified to be the very file checked) and opens it read-only.
import * as fs from 'fs';
import type { LayerRole } from '../common/image';
import { FormatError } from './errors';
import { LayerRefused, openLayerFile, resolveLayerName } from './layers';

export type { LayerRole };

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
  /** The open file descriptor, where the file has one of its own for its whole life (vetted-layers.ts's files). */
  readonly fd?: number;
  /** Reads up to `len` bytes at `pos` into `buf` at `off`; fewer only where the file ends. */
  readInto(buf: Uint8Array, off: number, len: number, pos: number): number;
  close(): void;
}

export type LayerOpener = (req: LayerRequest) => Promise<LayerFile>;

const roleName: Record<LayerRole, string> = {
  image: 'image', parent: 'parent', backing: 'backing file', 'data-file': 'data file', extent: 'extent',
};

function describe(req: LayerRequest): string {
  return req.from ? `${roleName[req.role]} ${req.path} (named by ${req.from})` : req.path;
}

/** The default LayerOpener: layers.ts decides whether the file may be a layer; it is opened read-only. */
export const defaultLayerOpener: LayerOpener = async (req) => {
  const what = describe(req);
  let opened: { fd: number; path: string };
  try {
    opened = openLayerFile(req.path, false);
  } catch (e) {
    if (e instanceof LayerRefused) {
      const code = e.code === 'layer-missing' ? 'not-found' : e.code === 'layer-not-a-file' ? 'refused-layer' : 'unreadable';
      throw new FormatError(code, `${what}: ${e.message}`);
    }
    throw new FormatError('unreadable', `${what}: ${(e as Error).message}`);
  }
  const st = fs.fstatSync(opened.fd);
  return new FdLayerFile(opened.path, opened.fd, st.size);
};

/** Reads `n` bytes at `pos` into `buf[off..]`, looping over short reads; fewer only at the end of the file. */
export function readFullyAt(fd: number, buf: Uint8Array, off: number, n: number, pos: number): number {
  let done = 0;
  while (done < n) {
    const got = fs.readSync(fd, buf, off + done, n - done, pos + done);
    if (got === 0) break;
    done += got;
  }
  return done;
}

class FdLayerFile implements LayerFile {
  private closed = false;
  constructor(readonly path: string, readonly fd: number, readonly size: number) {}

  readInto(buf: Uint8Array, off: number, len: number, pos: number): number {
    if (this.closed) throw new FormatError('unreadable', `${this.path}: read after close`);
    return readFullyAt(this.fd, buf, off, Math.max(0, Math.min(len, this.size - pos)), pos);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    fs.closeSync(this.fd);
  }
}

/**
 * A file named inside an image, as an absolute path (relative to the naming file's folder), by layers.ts's rule:
 * protocol and json: names and Windows paths are refused, not followed.
 */
export function resolveNamed(from: string, name: string): string {
  const r = resolveLayerName(name, from);
  if ('refused' in r) throw new FormatError('unsupported', `${from}: names ${JSON.stringify(name.slice(0, 200))}, ${r.refused}`);
  return r.path;
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
