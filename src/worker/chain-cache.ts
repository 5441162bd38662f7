// Inspections for `vdisk/list` and `vdisk/inspect`: the tree, the inspector and the palette ask about the same images
// again and again, so keep each answer while no file of its chain changed (identity, size, mtime and ctime).
import * as fs from 'fs';
import type { ImageInfo } from '../common/image';
import { inspectImage } from '../formats';
import { inspectOne, OneFile } from '../formats/inspect-one';
import { sameBytes } from '../formats/same-bytes';

const MAX = 256;
const MAX_LAYERS = 1024;
/** The bytes kept to compare layers with (same-bytes.ts): a VHDX keeps about 8 KiB. Layers past this keep none. */
const MAX_KEPT_BYTES = 32 * 1024 * 1024;

const stampOf = (s: fs.Stats) => (s.isFile() ? `${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}` : 'not-a-file');

function stamp(file: string): string {
  try { return stampOf(fs.statSync(file)); } catch { return 'gone'; }
}

export class ChainCache {
  private readonly entries = new Map<string, { stamps: string[]; info: ImageInfo }>();
  private readonly layers = new Map<string, OneFile>();
  private keptBytes = 0;
  /** How layer readings were obtained: parsed, or reused because the file's bytes read last time are unchanged. */
  readonly counts = { parsed: 0, sameBytes: 0 };

  /** The image's reading, or null when it cannot be read (deleted, not a file). */
  async get(file: string): Promise<ImageInfo | null> {
    try { return await this.inspect(file); } catch { return null; }
  }

  /** inspectImage, answered from the cache while the chain's files are unchanged; throws what inspectImage throws. */
  async inspect(file: string): Promise<ImageInfo> {
    const hit = this.entries.get(file);
    // file by file, so a changed tip costs one stat, not one per layer
    if (hit && this.files(hit.info).every((f, i) => stamp(f) === hit.stamps[i])) return structuredClone(hit.info);
    const opened = new Map<string, string>();
    // the image itself goes through this.layer as well: its reading is reused like a parent's
    const info = await inspectImage(file, { stamps: opened, openLayer: (f, checked) => this.layer(f, checked) });
    // an answer with problems is never kept: a missing or mismatching parent can be fixed without any file of the
    // resolved chain changing
    if (info.problems.length) { this.entries.delete(file); return info; }
    if (this.entries.size >= MAX) this.entries.delete(this.entries.keys().next().value as string);
    this.entries.set(file, { stamps: this.stamps(info, opened), info: structuredClone(info) });
    return info;
  }

  /**
   * One layer file's own reading (no chain), kept while the file is unchanged: when a differencing disk changes (the
   * common case: only the top layer is written), its parents are not parsed again. When a file's stamp moved (mtime,
   * ctime, a copy) but its size and every byte range the last parse read are identical, that parse still holds
   * (same-bytes.ts) and is reused. layers.ts still checks every layer file on every inspection; this only saves
   * parsing an unchanged one.
   */
  private async layer(f: string, checked?: fs.Stats): Promise<OneFile> {
    const now = checked ? stampOf(checked) : stamp(f); // layers.ts' stat of the file, taken just before
    const hit = this.layers.get(f);
    if (hit && hit.stamp === now) return hit;
    let one: OneFile | null = null;
    if (hit?.kept) {
      const same = sameBytes(f, hit.fileSize, hit.kept);
      if (same !== null) { one = { ...hit, stamp: same }; this.counts.sameBytes++; }
    }
    // the bytes are kept from a file's second parse on: a file seen once (a chain opened once, a worker's first
    // inspection) pays nothing for them
    if (!one) { one = await inspectOne(f, { record: hit !== undefined }); this.counts.parsed++; }
    this.drop(f);
    // kept only when the file as read is the file layers.ts checked
    if (one.stamp === now) this.keep(f, one);
    return one;
  }

  private keep(f: string, one: OneFile): void {
    if (this.layers.size >= MAX_LAYERS) this.drop(this.layers.keys().next().value as string);
    const bytes = one.kept?.bytes.length ?? 0;
    if (bytes && this.keptBytes + bytes > MAX_KEPT_BYTES) { const { kept: _, ...rest } = one; one = rest; } else this.keptBytes += bytes;
    this.layers.set(f, one);
  }

  private drop(f: string): void {
    const old = this.layers.get(f);
    if (!old) return;
    this.keptBytes -= old.kept?.bytes.length ?? 0;
    this.layers.delete(f);
  }

  private files(info: ImageInfo): string[] { return [info.path, ...info.chain.slice(1).map((l) => l.path)]; }

  /** Every file of the chain: as the inspection opened it (a change since then is a miss next time), else stat now. */
  private stamps(info: ImageInfo, opened?: Map<string, string>): string[] {
    return this.files(info).map((f) => opened?.get(f) ?? stamp(f));
  }
}
