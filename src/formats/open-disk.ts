// openDisk: the virtual disk of an image file, through its whole chain, as a BlockReader.
// Owned by the block layer: each format's folder provides its reader; this picks one by content.
import * as fs from 'fs';
import type { BlockReader } from './block';
import { FormatError } from './errors';
import { inspectImage } from './inspect';

export interface OpenDiskOptions {
  /** More folders to look for missing parents in (as inspectImage). */
  searchFolders?: string[];
}

/** Raw images read straight from the file. Other formats are added by the block layer. */
export async function openDisk(file: string, opts: OpenDiskOptions = {}): Promise<BlockReader> {
  const info = await inspectImage(file, { searchFolders: opts.searchFolders });
  if (info.format !== 'raw' && info.format !== 'iso' && info.format !== 'udf') {
    throw new FormatError('unsupported', `${info.path}: reading ${info.format} disks is not supported yet`);
  }
  const fd = fs.openSync(info.path, 'r');
  return {
    size: info.virtualSize,
    sectorSize: info.logicalSectorSize,
    async read(buf: Uint8Array, offset: number): Promise<number> {
      const n = Math.max(0, Math.min(buf.length, info.virtualSize - offset));
      let done = 0;
      while (done < n) {
        const got = fs.readSync(fd, buf, done, n - done, offset + done);
        if (got === 0) { buf.fill(0, done, n); done = n; break; }
        done += got;
      }
      return n;
    },
    async close(): Promise<void> { fs.closeSync(fd); },
  };
}
