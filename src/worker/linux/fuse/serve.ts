// One reading thread of vdisk's FUSE server: it opens the virtual disk through the vetted layers (its own block
// reader, so no state is shared between threads), then takes requests from the /dev/fuse fd the main thread mounted.
// The kernel hands each request to exactly one reader, so several threads serve reads in parallel.
import * as fs from 'fs';
import { openDisk } from '../../../formats/open-disk';
import type { BlockReader } from '../../../formats/block';
import * as K from './kernel';
import { VettedLayer, vettedOpener } from './vetted-layers';
import { Splicer } from './splice';

export interface ServerConfig {
  image: string;
  size: number;
  /** The regular file the export is mounted on. */
  mount: string;
  layers: VettedLayer[];
  searchFolders: string[];
  threads: number;
  /** Largest read request asked of the kernel (max_pages and max_read). */
  maxRead: number;
  /** Each thread reads the layers through its own file descriptions (vetted-layers.ts). */
  ownFds?: boolean;
  /** READ replies spliced from the layer files (splice.ts): false never; otherwise the server decides (when pipes allow it). */
  splice?: boolean;
  /** Owner of the exported file. */
  uid: number;
  gid: number;
}

/** Opens this thread's reader of the disk and checks its size against the worker's inspection. */
export async function openServedDisk(c: ServerConfig): Promise<BlockReader> {
  const disk = await openDisk(c.image, { openLayer: vettedOpener(c.layers, !!c.ownFds), searchFolders: c.searchFolders });
  if (disk.size !== c.size) {
    await disk.close();
    throw new Error(`${c.image}: the disk reads ${disk.size} bytes here, but the worker inspected ${c.size}`);
  }
  return disk;
}

const errnoOf = (e: unknown) => (e as NodeJS.ErrnoException).code;

/** Serves requests until the connection ends (unmount, abort); `log` gets one line per unexpected event. */
export async function serveLoop(fuseFd: number, disk: BlockReader, c: ServerConfig, log: (s: string) => void): Promise<void> {
  const req = Buffer.allocUnsafe(Math.max(256 * 1024, c.maxRead + 8192));
  const out = Buffer.allocUnsafe(K.OUT_HEADER + c.maxRead);
  const fileAttr: K.FileAttr = { ino: K.ROOT_ID, size: c.size, mode: 0o100400, uid: c.uid, gid: c.gid, mtimeSec: Math.floor(Date.now() / 1000) };
  let maxRead = c.maxRead;
  let readErrors = 0;
  const send = (len: number): boolean => {
    try { fs.writeSync(fuseFd, out, 0, len); return true; } catch (e) {
      const code = errnoOf(e);
      if (code === 'ENOENT') return true; // the request was interrupted meanwhile: the kernel dropped it
      if (code === 'ENODEV') return false;
      log(`reply failed: ${(e as Error).message}`);
      return true;
    }
  };
  const error = (unique: bigint, errno: number) => send(K.outHeader(out, unique, 0, errno));
  let splicer: Splicer | null = null;
  if (c.splice) {
    try { splicer = new Splicer(fuseFd, c.maxRead); } catch (e) { log(`replies copied, not spliced: ${(e as Error).message}`); }
  }
  for (;;) {
    let n: number;
    try { n = fs.readSync(fuseFd, req, 0, req.length, null); } catch (e) {
      const code = errnoOf(e);
      if (code === 'ENOENT' || code === 'EINTR' || code === 'EAGAIN') continue; // interrupted before we read it
      if (code === 'ENODEV') return; // unmounted, or the connection was aborted
      throw e;
    }
    if (n < K.IN_HEADER) continue;
    const h = K.inHeader(req);
    const body = req.subarray(K.IN_HEADER, n);
    let ok = true;
    switch (h.opcode) {
      case K.Op.INIT: {
        const k = K.initIn(body);
        if (k.major !== 7) { ok = error(h.unique, K.EIO); break; }
        const r = K.initOut(out, K.OUT_HEADER, k, c.maxRead);
        if (!(r.flags & K.INIT_MAX_PAGES)) maxRead = Math.min(maxRead, 128 * 1024);
        ok = send(K.outHeader(out, h.unique, r.bytes));
        break;
      }
      case K.Op.GETATTR:
        ok = h.nodeid === BigInt(K.ROOT_ID) ? send(K.outHeader(out, h.unique, K.attrOut(out, K.OUT_HEADER, fileAttr, 3600))) : error(h.unique, K.ENOENT);
        break;
      case K.Op.OPEN: {
        const accmode = body.readUInt32LE(0) & 3;
        ok = accmode !== 0 ? error(h.unique, K.EROFS) : send(K.outHeader(out, h.unique, K.openOut(out, K.OUT_HEADER, 1, K.FOPEN_KEEP_CACHE)));
        break;
      }
      case K.Op.READ: {
        const r = K.readIn(body);
        const len = r.offset >= c.size ? 0 : Math.min(r.size, maxRead, c.size - r.offset);
        try {
          if (splicer && len && disk.locate) {
            const at = await disk.locate(r.offset, len);
            if (at?.kind === 'file' && at.length === len && at.file.fd !== undefined) {
              const sent = splicer.reply(h.unique, at.file.fd, at.pos, len);
              if (sent === 'gone') return;
              if (sent === 'sent') break;
            }
          }
          const got = len ? await disk.read(out.subarray(K.OUT_HEADER, K.OUT_HEADER + len), r.offset) : 0;
          ok = send(K.outHeader(out, h.unique, got));
        } catch (e) {
          if (readErrors++ < 20) log(`read ${r.offset}+${len}: ${(e as Error).message}`);
          ok = error(h.unique, K.EIO);
        }
        break;
      }
      case K.Op.STATFS: ok = send(K.outHeader(out, h.unique, K.statfsOut(out, K.OUT_HEADER, c.size))); break;
      case K.Op.RELEASE: case K.Op.FLUSH: case K.Op.RELEASEDIR: case K.Op.FSYNC: ok = send(K.outHeader(out, h.unique, 0)); break;
      case K.Op.DESTROY: send(K.outHeader(out, h.unique, 0)); return;
      case K.Op.FORGET: case K.Op.BATCH_FORGET: case K.Op.INTERRUPT: break; // no reply (reads finish on their own)
      case K.Op.LOOKUP: ok = error(h.unique, K.ENOTDIR); break; // the root is the file itself
      case K.Op.OPENDIR: case K.Op.READDIR: ok = error(h.unique, K.ENOTDIR); break;
      case K.Op.SETATTR: case K.Op.WRITE: ok = error(h.unique, K.EROFS); break;
      default: ok = error(h.unique, K.ENOSYS); break; // xattrs, locks, lseek, bmap...: the kernel stops asking
    }
    if (!ok) return;
  }
}
