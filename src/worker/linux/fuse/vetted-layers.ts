// The FUSE server reads a chain only through files the worker opened for it (layers.ts's checks, for the requesting
// user) and handed down as inherited fds. This LayerOpener gives openDisk those fds and refuses every other file:
// whatever the image's metadata names, the server opens nothing by itself.
import * as fs from 'fs';
import { FormatError } from '../../../formats/errors';
import { readFullyAt } from '../../../formats/layer-files';
import type { LayerFile, LayerOpener } from '../../../formats/layer-files';

/** One vetted layer: its real path, the fd it is inherited as, and the file's identity when the worker checked it. */
export interface VettedLayer { path: string; fd: number; dev: number; ino: number }

class SharedFdFile implements LayerFile {
  constructor(readonly path: string, readonly fd: number, readonly size: number) {}
  readInto(buf: Uint8Array, off: number, len: number, pos: number): number {
    return readFullyAt(this.fd, buf, off, Math.max(0, Math.min(len, this.size - pos)), pos);
  }
  /** The fd is shared by every reading thread and lives as long as the server. */
  close(): void { /* the process owns it */ }
}

function reopen(l: VettedLayer): VettedLayer {
  const fd = fs.openSync(`/proc/self/fd/${l.fd}`, fs.constants.O_RDONLY | (fs.constants.O_NOCTTY ?? 0));
  const st = fs.fstatSync(fd);
  if (!st.isFile() || st.dev !== l.dev || st.ino !== l.ino) { fs.closeSync(fd); throw new Error(`layer ${l.path}: re-opened fd is not the file the worker checked`); }
  return { ...l, fd };
}

/** Checks every inherited fd is still the file the worker vetted; throws naming the first that is not. */
export function checkVetted(layers: VettedLayer[]): void {
  for (const l of layers) {
    let st: fs.Stats;
    try { st = fs.fstatSync(l.fd); } catch (e) { throw new Error(`layer ${l.path}: inherited fd ${l.fd} is not open (${(e as Error).message})`); }
    if (!st.isFile() || st.dev !== l.dev || st.ino !== l.ino) throw new Error(`layer ${l.path}: inherited fd ${l.fd} is not the file the worker checked`);
  }
}

/**
 * `ownFds`: each reading thread re-opens the inherited fds through /proc/self/fd (the same inode, checked again, no
 * path lookup) so that it has its own file position and readahead state: threads reading different parts of the
 * disk then do not break each other's sequential readahead on the image.
 */
export function vettedOpener(layers: VettedLayer[], ownFds = false): LayerOpener {
  const byPath = new Map(layers.map((l) => [l.path, ownFds ? reopen(l) : l]));
  return async (req) => {
    let real: string;
    try { real = fs.realpathSync.native(req.path); } catch { real = req.path; }
    const l = byPath.get(real) ?? byPath.get(req.path);
    if (!l) throw new FormatError('refused-layer', `${req.path} (${req.role}${req.from ? ` of ${req.from}` : ''}) is not a layer the worker checked for this attach`);
    const st = fs.fstatSync(l.fd);
    return new SharedFdFile(l.path, l.fd, st.size);
  };
}
