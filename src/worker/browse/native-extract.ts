// Extraction from a file system vdisk reads itself (exFAT): the tree under `node` is written into `dest`, which must
// not exist, file by file in 1 MiB pieces. Never replaces anything (exclusive creates); the caller removes `dest`
// when this throws, so a cancelled or failed run leaves nothing behind.
import * as fs from 'fs';
import * as path from 'path';
import { ErrorCode } from '../../common/protocol';
import { WorkerError } from '../errors';
import type { NativeVolume } from './listers';
import type { FsNode } from './slt';

const PIECE = 1024 * 1024;
const CREATE = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | (fs.constants.O_NOFOLLOW ?? 0);

export async function extractNative(vol: NativeVolume, node: FsNode, dest: string, progress: (bytes: number) => void,
  cancelled: Promise<void>): Promise<{ files: number; bytes: number }> {
  let stop = false;
  void cancelled.then(() => { stop = true; });
  const stats = { files: 0, bytes: 0 };
  const check = () => { if (stop) throw new WorkerError(ErrorCode.Cancelled, 'Extraction cancelled; nothing was left behind'); };
  const out = async (n: FsNode, to: string): Promise<void> => {
    check();
    if (n.type === 'directory') {
      fs.mkdirSync(to);
      for (const c of n.children!.values()) await out(c, path.join(to, c.name));
    } else if (n.type === 'symlink') {
      fs.symlinkSync(n.target ?? '', to);
    } else {
      const fd = fs.openSync(to, CREATE, 0o644);
      try {
        for (let off = 0; off < n.size;) {
          check();
          const b = await vol.read(n, off, Math.min(PIECE, n.size - off));
          if (!b.length) throw new Error(`${n.name}: the file system gave no data at offset ${off} of ${n.size}`);
          fs.writeSync(fd, b);
          off += b.length; stats.bytes += b.length;
          progress(stats.bytes);
        }
      } finally { fs.closeSync(fd); }
      if (n.mtime) fs.utimesSync(to, new Date(n.mtime), new Date(n.mtime));
      stats.files++;
    }
  };
  await out(node, dest);
  return stats;
}
