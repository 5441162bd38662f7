// The merge's view of one image file: the sectors it holds itself, and writing sectors into it.
export interface MergeLayer {
  readonly virtualSize: number;
  readonly sectorSize: number;
  /** The granularity present() works in. */
  readonly blockSize: number;
  readonly differencing: boolean;
  /** The runs of block `i` this file holds itself: [virtual offset, bytes]; empty when it holds none. The bytes may
   *  share buffers the layer reuses in turn: they are valid until the second present() call after this one. */
  present(i: number): Promise<[number, Buffer][]>;
  /** Where present() would read block `i` from, unread: [virtual offset, file offset (-1: zeros), bytes]. */
  extents?(i: number): Promise<[number, number, number][]>;
  /** Reads `into.length` bytes of the file at `off` (for extents()). */
  readFile?(off: number, into: Buffer): Promise<Buffer>;
  /** Writes `data` at virtual offset `off` (sector-aligned), allocating as needed; metadata waits for commit(). */
  write(off: number, data: Buffer): Promise<void>;
  /** Syncs the data, then makes the new blocks part of the disk. `step(n)` marks durable steps (crash tests). */
  commit(step?: (n: number) => void): Promise<void>;
  close(): Promise<void>;
}

/** A one-file layer (dynamic or fixed, no parent) as a BlockReader; `drop(i, data)` true makes block i read as zeros. */
export function layerReader(l: MergeLayer, drop: (i: number, data: Buffer) => boolean = () => false): import('../block').BlockReader {
  let cached: { i: number; data: Buffer } | null = null;
  const block = async (i: number): Promise<Buffer> => {
    if (cached?.i === i) return cached.data;
    const data = Buffer.alloc(Math.min(l.blockSize, l.virtualSize - i * l.blockSize));
    const runs = await l.present(i);
    for (const [off, run] of runs) run.copy(data, off - i * l.blockSize);
    if (runs.length && drop(i, data)) data.fill(0); // a block the file does not hold reads as zeros anyway
    cached = { i, data };
    return data;
  };
  return {
    size: l.virtualSize, sectorSize: l.sectorSize,
    async read(buf, offset) {
      const n = Math.max(0, Math.min(buf.length, l.virtualSize - offset));
      for (let done = 0; done < n;) {
        const v = offset + done, i = Math.floor(v / l.blockSize), b = await block(i);
        const k = Math.min(n - done, b.length - (v - i * l.blockSize));
        buf.set(b.subarray(v - i * l.blockSize, v - i * l.blockSize + k), done);
        done += k;
      }
      return n;
    },
    close: () => l.close(),
  };
}
