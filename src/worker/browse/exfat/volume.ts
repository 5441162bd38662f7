// A read-only exFAT reader over the block layer (no temporary copy): the boot region (boot.ts), the FAT, cluster
// chains and contiguous (NoFatChain) allocations, directory entry sets (file, stream extension, name entries, with
// their checksum), attributes and timestamps. Bytes between a file's valid data length and its size read as zeros.
// Hostile images end in an ExfatError: chains longer than the heap (loops), clusters outside it, folders that
// contain themselves or share clusters, sizes larger than the volume.
import type { BlockReader } from '../../../formats/block';
import type { Volume } from '../../../formats/volumes';
import type { FsNode, Listing } from '../slt';
import { newDir } from '../slt';
import { ExfatError, ExfatGeometry, readBoot, SIGNATURE } from './boot';
import { parseEntrySets, ExfatEntry } from './entries';

export { ExfatError };

/** Where a file's data is: its allocation as the stream extension entry gives it. */
interface Alloc { firstCluster: number; noFatChain: boolean; validLength: number; length: number }
/** A run of clusters: `count` clusters from `cluster`, holding the file's bytes from `fileOffset`. */
interface Run { fileOffset: number; cluster: number; count: number }

const END = 0xffffffff, BAD = 0xfffffff7;
/** A folder holds at most 256 MiB of entries (the specification's limit). */
const MAX_DIR_BYTES = 256 * 1024 * 1024;
const FAT_PAGE = 64 * 1024;
const FAT_PAGES_KEPT = 64;
/** Damaged entries named per folder (the rest are counted as one line). */
const MAX_PROBLEMS = 20;

export async function isExfat(disk: BlockReader, v: Volume): Promise<boolean> {
  if (v.size < 24 * 512) return false;
  const b = new Uint8Array(11);
  await disk.read(b, v.offset);
  return String.fromCharCode(...b.subarray(3, 11)) === SIGNATURE;
}

export async function openExfat(disk: BlockReader, v: Volume): Promise<ExfatVolume> {
  const fs = new ExfatVolume(disk, v);
  await fs.load();
  return fs;
}

export class ExfatVolume {
  private g!: ExfatGeometry;
  private readonly allocs = new WeakMap<FsNode, Alloc>();
  private readonly runs = new WeakMap<FsNode, Run[]>();
  private readonly fatPages = new Map<number, DataView>();
  private root = newDir('');
  private label: string | null = null;
  private count = 0;

  constructor(private readonly disk: BlockReader, private readonly v: Volume) { }

  listing(): Listing { return { type: 'exFAT', label: this.label, root: this.root, count: this.count }; }

  /**
   * Reads every folder. Damage inside a folder (a damaged entry set, an impossible size or cluster, a name twice, a
   * subfolder whose clusters loop or belong to another folder) skips only what it touches: the folder's `problems`
   * say what was skipped, and so does `problems` of the volume. Only a damaged root folder fails the volume.
   */
  async load(): Promise<void> {
    this.g = await readBoot((o, n) => this.readAt(o, n), this.v.size);
    const seen = new Set<number>();   // first clusters of the folders read: a folder that contains itself is damage
    const claimed = new Set<number>();   // every cluster of every folder: folders never share clusters
    const queue: { node: FsNode; parent?: FsNode; alloc: Alloc | null; path: string }[] = [{ node: this.root, alloc: null, path: '/' }];
    for (let q = 0; q < queue.length; q++) {
      const { node, parent, alloc, path } = queue[q];
      queue[q] = undefined!;
      let entries: ExfatEntry[];
      try {
        entries = await this.folder(alloc, path, seen, claimed, (what) => this.problem(node, path, what));
      } catch (e) {
        if (!parent || !(e instanceof ExfatError)) throw e;
        parent.children!.delete(node.name);
        this.count--;
        this.problem(parent, path.slice(0, path.slice(0, -1).lastIndexOf('/') + 1), `folder "${node.name}" skipped: ${e.message}`);
        continue;
      }
      for (const e of entries) {
        if (e.kind === 'label') { this.label = e.label; continue; }
        let child: FsNode;
        try { child = this.node(e, path); } catch (err) {
          if (!(err instanceof ExfatError)) throw err;
          this.problem(node, path, `${JSON.stringify(e.name)} skipped: ${err.message}`);
          continue;
        }
        if (node.children!.has(child.name)) { this.problem(node, path, `${JSON.stringify(child.name)} appears twice: the second one is skipped`); continue; }
        node.children!.set(child.name, child);
        this.count++;
        if (child.type === 'directory') queue.push({ node: child, parent: node, alloc: this.allocs.get(child)!, path: `${path}${child.name}/` });
      }
    }
  }

  /** What was skipped, by folder path (also on each folder's node, for listings). */
  readonly problems: string[] = [];

  private problem(dir: FsNode, path: string, what: string): void {
    const list = dir.problems ??= [];
    if (list.length < MAX_PROBLEMS) list.push(what);
    else if (list.length === MAX_PROBLEMS) list.push('more damaged entries are not named');
    if (this.problems.length < MAX_PROBLEMS * 4) this.problems.push(`folder ${path}: ${what}`);
  }

  /** A folder's entry sets (`alloc` null: the root). */
  private async folder(alloc: Alloc | null, path: string, seen: Set<number>, claimed: Set<number>, damaged: (what: string) => void): Promise<ExfatEntry[]> {
    const start = alloc ? alloc.firstCluster : this.g.rootCluster;
    if (!start) return [];   // an empty folder with no cluster
    if (seen.has(start)) throw new ExfatError(`folder ${path} starts at cluster ${start}, which another folder already uses (a loop)`);
    seen.add(start);
    const runs = alloc ? await this.runsOf(alloc, path) : await this.chain(start, Math.floor(MAX_DIR_BYTES / this.g.clusterSize), path, true);
    const mine: number[] = [];
    for (const r of runs) for (let c = r.cluster; c < r.cluster + r.count; c++) {
      if (claimed.has(c)) throw new ExfatError(`folder ${path}: cluster ${c} also belongs to another folder`);
      mine.push(c);
    }
    for (const c of mine) claimed.add(c);
    const bytes = await this.readRuns(runs, alloc ? Math.min(alloc.length, MAX_DIR_BYTES) : Infinity);
    return parseEntrySets(bytes, path, !alloc, damaged);
  }

  /** Up to `length` bytes of `node` from `offset`. */
  async read(node: FsNode, offset: number, length: number): Promise<Uint8Array> {
    const a = this.allocs.get(node);
    if (!a || node.type !== 'file') throw new ExfatError(`${node.name} is not a file of this exFAT volume`);
    const end = Math.min(a.length, offset + length);
    if (offset >= end) return new Uint8Array(0);
    let runs = this.runs.get(node);
    if (!runs) { runs = await this.runsOf(a, node.name); this.runs.set(node, runs); }
    const out = new Uint8Array(end - offset);   // zeros past the valid data length
    const cs = this.g.clusterSize;
    const validEnd = Math.min(end, a.validLength);
    let i = findRun(runs, offset, cs);
    for (let pos = offset; pos < validEnd && i < runs.length; i++) {
      const r = runs[i];
      const runEnd = r.fileOffset + r.count * cs;
      const from = pos - r.fileOffset;
      const n = Math.min(runEnd, validEnd) - pos;
      const b = await this.readAt(this.g.heapOffset + (r.cluster - 2) * cs + from, n);
      out.set(b, pos - offset);
      pos += n;
    }
    return out;
  }

  /** Where a file's data lies: contiguous (NoFatChain) or through the FAT, in how many runs of clusters. */
  async extents(node: FsNode): Promise<{ noFatChain: boolean; runs: { cluster: number; count: number }[] }> {
    const a = this.allocs.get(node);
    if (!a) throw new ExfatError(`${node.name} is not in this exFAT volume`);
    return { noFatChain: a.noFatChain, runs: (await this.runsOf(a, node.name)).map((r) => ({ cluster: r.cluster, count: r.count })) };
  }

  private node(e: Extract<ExfatEntry, { kind: 'file' }>, dir: string): FsNode {
    const cs = this.g.clusterSize;
    const heap = this.g.clusterCount * cs;
    const where = `${dir}${e.name}`;
    if (e.length > heap || e.validLength > e.length) {
      throw new ExfatError(`${where}: size ${e.length} (valid ${e.validLength}) does not fit in the ${heap}-byte cluster heap`);
    }
    if (e.directory && e.length > MAX_DIR_BYTES) throw new ExfatError(`${where}: a folder of ${e.length} bytes (at most 256 MiB)`);
    if (e.length > 0 && (e.firstCluster < 2 || e.firstCluster > this.g.clusterCount + 1)) {
      throw new ExfatError(`${where}: first cluster ${e.firstCluster} is outside 2..${this.g.clusterCount + 1}`);
    }
    const n: FsNode = e.directory ? newDir(e.name) : { name: e.name, type: 'file', size: e.length, mtime: 0 };
    n.mtime = e.mtime;
    this.allocs.set(n, { firstCluster: e.length ? e.firstCluster : 0, noFatChain: e.noFatChain, validLength: e.validLength, length: e.length });
    return n;
  }

  private async runsOf(a: Alloc, where: string): Promise<Run[]> {
    const clusters = Math.ceil(a.length / this.g.clusterSize);
    if (!clusters) return [];
    if (a.noFatChain) {
      if (a.firstCluster + clusters - 1 > this.g.clusterCount + 1) throw new ExfatError(`${where}: ${clusters} contiguous clusters from ${a.firstCluster} run past the cluster heap`);
      return [{ fileOffset: 0, cluster: a.firstCluster, count: clusters }];
    }
    return this.chain(a.firstCluster, clusters, where, false);
  }

  /**
   * The FAT chain from `start`: exactly `want` clusters (a file), or up to the end mark and at most `want` (the
   * root folder, `open`). A chain that loops is longer than the heap and ends in an error.
   */
  private async chain(start: number, want: number, where: string, open: boolean): Promise<Run[]> {
    const runs: Run[] = [];
    const cs = this.g.clusterSize;
    // a cluster met twice is a loop (a bit per cluster of the heap for long chains)
    const seen = want > 4096 ? new Uint8Array((this.g.clusterCount + 9) >> 3) : undefined;
    const few = new Set<number>();
    let c = start;
    for (let got = 0; got < want; got++) {
      if (c < 2 || c > this.g.clusterCount + 1) throw new ExfatError(`${where}: cluster chain leads to ${c}, outside 2..${this.g.clusterCount + 1}`);
      if (seen ? seen[c >> 3] & (1 << (c & 7)) : few.has(c)) throw new ExfatError(`${where}: cluster chain loops back to cluster ${c}`);
      if (seen) seen[c >> 3] |= 1 << (c & 7); else few.add(c);
      const last = runs[runs.length - 1];
      if (last && last.cluster + last.count === c) last.count++; else runs.push({ fileOffset: got * cs, cluster: c, count: 1 });
      if (got + 1 === want) break;
      const next = await this.fat(c);
      if (next === END) {
        if (open) return runs;
        throw new ExfatError(`${where}: cluster chain ends after ${got + 1} of ${want} clusters`);
      }
      if (next === BAD) throw new ExfatError(`${where}: cluster chain reaches a cluster marked bad`);
      c = next;
    }
    if (open && (await this.fat(c)) !== END) throw new ExfatError(`${where}: folder larger than 256 MiB or its cluster chain loops`);
    return runs;
  }

  private async fat(cluster: number): Promise<number> {
    const at = cluster * 4;
    const page = Math.floor(at / FAT_PAGE);
    let dv = this.fatPages.get(page);
    if (!dv) {
      const len = Math.min(FAT_PAGE, this.g.fatLength - page * FAT_PAGE);
      const b = await this.readAt(this.g.fatOffset + page * FAT_PAGE, len);
      dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
      if (this.fatPages.size >= FAT_PAGES_KEPT) this.fatPages.delete(this.fatPages.keys().next().value as number);
      this.fatPages.set(page, dv);
    }
    return dv.getUint32(at - page * FAT_PAGE, true);
  }

  private async readRuns(runs: Run[], limit: number): Promise<Uint8Array> {
    const cs = this.g.clusterSize;
    const total = Math.min(limit, runs.reduce((n, r) => n + r.count * cs, 0));
    const out = new Uint8Array(total);
    for (const r of runs) {
      if (r.fileOffset >= total) break;
      const n = Math.min(r.count * cs, total - r.fileOffset);
      out.set(await this.readAt(this.g.heapOffset + (r.cluster - 2) * cs, n), r.fileOffset);
    }
    return out;
  }

  private async readAt(offset: number, length: number): Promise<Uint8Array> {
    if (offset < 0 || offset + length > this.v.size) throw new ExfatError(`read of ${length} bytes at ${offset} is outside the ${this.v.size}-byte volume`);
    const b = new Uint8Array(length);
    const n = await this.disk.read(b, this.v.offset + offset);
    if (n !== length) throw new ExfatError(`the disk ended ${length - n} bytes into a read at ${offset} of the volume`);
    return b;
  }
}

function findRun(runs: Run[], offset: number, cs: number): number {
  let lo = 0, hi = runs.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (runs[mid].fileOffset <= offset) lo = mid; else hi = mid - 1;
  }
  return runs.length && offset < runs[lo].fileOffset + runs[lo].count * cs ? lo : runs.length;
}
