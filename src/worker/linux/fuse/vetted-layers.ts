// The FUSE server reads a chain only through files the worker opened for it (layers.ts's checks, for the requesting
// user) and handed down as inherited fds. This LayerOpener gives openDisk those fds and refuses every other file:
// whatever the image's metadata names, the server opens nothing by itself.
import * as fs from 'fs';
import { FormatError } from '../../../formats/errors';
import type { LayerFile, LayerOpener } from '../../../formats/layer-files';

/** One vetted layer: its real path, the fd it is inherited as, and the file's identity when the worker checked it. */
export interface VettedLayer { path: string; fd: number; dev: number; ino: number }

class SharedFdFile implements LayerFile {
  constructor(readonly path: string, private readonly fd: number, readonly size: number) {}
  readInto(buf: Uint8Array, off: number, len: number, pos: number): number {
    const n = Math.max(0, Math.min(len, this.size - pos));
    let done = 0;
    while (done < n) {
      const got = fs.readSync(this.fd, buf, off + done, n - done, pos + done);
      if (got === 0) break;
      done += got;
    }
    return done;
  }
  /** The fd is shared by every reading thread and lives as long as the server. */
  close(): void { /* the process owns it */ }
}

/** Checks every inherited fd is still the file the worker vetted; throws naming the first that is not. */
export function checkVetted(layers: VettedLayer[]): void {
  for (const l of layers) {
    let st: fs.Stats;
    try { st = fs.fstatSync(l.fd); } catch (e) { throw new Error(`layer ${l.path}: inherited fd ${l.fd} is not open (${(e as Error).message})`); }
    if (!st.isFile() || st.dev !== l.dev || st.ino !== l.ino) throw new Error(`layer ${l.path}: inherited fd ${l.fd} is not the file the worker checked`);
  }
}

export function vettedOpener(layers: VettedLayer[]): LayerOpener {
  const byPath = new Map(layers.map((l) => [l.path, l]));
  return async (req) => {
    let real: string;
    try { real = fs.realpathSync.native(req.path); } catch { real = req.path; }
    const l = byPath.get(real) ?? byPath.get(req.path);
    if (!l) throw new FormatError('refused-layer', `${req.path} (${req.role}${req.from ? ` of ${req.from}` : ''}) is not a layer the worker checked for this attach`);
    const st = fs.fstatSync(l.fd);
    return new SharedFdFile(l.path, l.fd, st.size);
  };
}
