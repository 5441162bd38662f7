// The block layer's contract: the virtual disk of an image (through its whole chain) as positional reads.
// Browsing, convert, merge and compact read disks through this; each format's folder provides one opener.

import type { LayerFile } from './layer-files';

export type Located = { kind: 'zero'; length: number } | { kind: 'file'; length: number; file: LayerFile; pos: number };

export interface BlockReader {
  /** The virtual disk's size in bytes. */
  readonly size: number;
  /** The logical sector size the image declares (512 or 4096). */
  readonly sectorSize: number;
  /**
   * Fills `buf` from the virtual disk at `offset` and returns the bytes filled: `buf.length`, or fewer only where
   * the disk ends. Never writes. Unallocated ranges read as zeros (or from the parent for a differencing layer).
   */
  read(buf: Uint8Array, offset: number): Promise<number>;
  /**
   * Where the run of the virtual disk at `offset` lives, at most `length` bytes, through the whole chain: a range of
   * one layer file (wholly inside it), zeros, or null when it is neither (bytes decoded in memory, a run past a
   * layer file's end). Lets a server hand a file range to the kernel without copying it (fuse/splice.ts).
   */
  locate?(offset: number, length: number): Promise<Located | null>;
  /** Closes every file this reader opened (each layer of the chain). */
  close(): Promise<void>;
}
