// Chains for `vdisk/list`: every listed image is inspected, so keep each answer while no file of its chain changed.
import * as fs from 'fs';
import type { ImageInfo } from '../common/image';
import { inspectImage } from '../formats';

const MAX = 256;

function stamp(file: string): string {
  try { const s = fs.statSync(file); return s.isFile() ? `${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}` : 'not-a-file'; } catch { return 'gone'; }
}

export class ChainCache {
  private readonly entries = new Map<string, { stamps: string; info: ImageInfo }>();

  /** The image's reading, or null when it cannot be read (deleted, not a file). */
  async get(file: string): Promise<ImageInfo | null> {
    const hit = this.entries.get(file);
    if (hit && hit.stamps === this.stamps(hit.info) && !hit.info.problems.some((p) => p.code === 'parent-missing')) return hit.info;
    if (stamp(file) === 'gone' || stamp(file) === 'not-a-file') return null;
    let info: ImageInfo;
    try { info = await inspectImage(file); } catch { return null; }
    if (this.entries.size >= MAX) this.entries.delete(this.entries.keys().next().value as string);
    this.entries.set(file, { stamps: this.stamps(info), info });
    return info;
  }

  private stamps(info: ImageInfo): string {
    return [info.path, ...info.chain.slice(1).map((l) => l.path)].map(stamp).join('|');
  }
}
