// The merge's view of one image file: the sectors it holds itself, and writing sectors into it.
export interface MergeLayer {
  readonly virtualSize: number;
  readonly sectorSize: number;
  /** The granularity present() works in. */
  readonly blockSize: number;
  readonly differencing: boolean;
  /** The runs of block `i` this file holds itself: [virtual offset, bytes]; empty when it holds none. */
  present(i: number): Promise<[number, Buffer][]>;
  /** Writes `data` at virtual offset `off` (sector-aligned), allocating as needed; metadata waits for commit(). */
  write(off: number, data: Buffer): Promise<void>;
  /** Syncs the data, then makes the new blocks part of the disk. `step(n)` marks durable steps (crash tests). */
  commit(step?: (n: number) => void): Promise<void>;
  close(): Promise<void>;
}
