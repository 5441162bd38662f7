// Parses 7-Zip's technical listing (`7z l -slt`) into a tree of the volume's files. Hides what a user never
// browses: NTFS metafiles ([SYSTEM], $MFT...), alternate data streams, 7-Zip's [DELETED]/[UNKNOWN] folders.
import type { BrowseEntryType } from '../../common/protocol';

export interface FsNode {
  name: string;
  type: BrowseEntryType;
  size: number;
  /** Milliseconds since the epoch (0 when the file system records none). */
  mtime: number;
  /** A symbolic link's target text, as stored in the image (undefined when 7-Zip does not say). */
  target?: string;
  children?: Map<string, FsNode>;
  /** A folder whose listing skipped damaged entries: what was skipped and why (vdisk's own readers). */
  problems?: string[];
  /** A folder whose entries are not known yet (listed folder by folder until the full listing arrives). */
  partial?: boolean;
}

export interface Listing {
  /** 7-Zip's name of the file system (`FAT`, `NTFS`, `Ext`, `Iso`, `Udf`, `HFS`, `APFS`, `SquashFS`...). */
  type: string;
  label: string | null;
  root: FsNode;
  count: number;
}

/** The container types 7-Zip opens that are file systems (anything else is not browsable as a volume). */
export const FILE_SYSTEMS = new Set(['FAT', 'NTFS', 'Ext', 'Iso', 'Udf', 'HFS', 'APFS', 'SquashFS', 'CramFS', 'exFAT']);
export const HIDDEN_TOP = new Set(['[SYS]', '[SYSTEM]', '[DELETED]', '[UNKNOWN]', '[ORPHAN]', '[LOST]', '[RESOURCES]']);

const ITEM_KEYS = new Set(['Path', 'Folder', 'Size', 'Mode', 'Symbolic Link', 'Modified', 'Alternate Stream']);

export function newDir(name: string): FsNode { return { name, type: 'directory', size: 0, mtime: 0, children: new Map() }; }

/** Fed 7-Zip's stdout of `l -slt` line by line (a listing of 100,000 files is never held as text). */
export class SltParser {
  private state: 'preamble' | 'head' | 'items' = 'preamble';
  private block: string[] = [];
  private head = new Map<string, string>();
  readonly root = newDir('');
  private count = 0;

  /** The item being read: only the properties `add` uses (one Map, reused). */
  private readonly item = new Map<string, string>();
  private itemLines = 0;

  push(line: string): void {
    if (this.state === 'items') {
      if (line === '') { this.flush(); return; }
      this.itemLines++;
      const i = line.indexOf(' = ');
      const key = i > 0 ? line.slice(0, i) : line.endsWith(' =') ? line.slice(0, -2) : '';
      if (ITEM_KEYS.has(key)) this.item.set(key, i > 0 ? line.slice(i + 3) : '');
      return;
    }
    if (this.state === 'preamble') { if (line === '--') this.state = 'head'; return; }
    if (line === '----------') { this.head = fields(this.block); this.block = []; this.state = 'items'; } else this.block.push(line);
  }

  private flush(): void {
    if (this.itemLines && add(this.root, this.item, this.head.get('Type') ?? '')) this.count++;
    this.item.clear();
    this.itemLines = 0;
  }

  /** Throws when 7-Zip printed no archive header (it could not open the volume). */
  finish(): Listing {
    if (this.state === 'preamble') throw new Error('7-Zip printed no listing');
    if (this.state === 'head') this.head = fields(this.block); else this.flush();
    const h = this.head;
    return { type: h.get('Type') ?? 'unknown', label: h.get('Label') || h.get('Volume Name') || null, root: this.root, count: this.count };
  }
}

export function parseSlt(lines: string[]): Listing {
  const p = new SltParser();
  for (const l of lines) p.push(l);
  return p.finish();
}

function fields(block: string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const l of block) {
    const i = l.indexOf(' = ');
    if (i > 0) m.set(l.slice(0, i), l.slice(i + 3));
    else if (l.endsWith(' =')) m.set(l.slice(0, -2), '');
  }
  return m;
}

function add(root: FsNode, f: Map<string, string>, fsType: string): boolean {
  const p = f.get('Path');
  if (!p || f.get('Alternate Stream') === '+') return false;
  const parts = p.split('/').filter((x) => x !== '' && x !== '.');
  if (!parts.length || parts.includes('..') || HIDDEN_TOP.has(parts[0])) return false;
  if (fsType === 'NTFS' && (parts.some((x) => x.includes(':')) || (parts.length === 1 && parts[0].startsWith('$')))) return false;
  const mode = f.get('Mode') ?? '';
  const link = f.get('Symbolic Link') ?? '';
  // 7-Zip marks a link to a folder as a folder too: the link wins
  const isLink = mode.startsWith('l') || link !== '';
  const isDir = !isLink && (f.get('Folder') === '+' || mode.startsWith('d'));
  let dir = root;
  for (const name of parts.slice(0, -1)) {
    let next = dir.children!.get(name);
    if (!next || next.type !== 'directory') { next = newDir(name); dir.children!.set(name, next); }
    dir = next;
  }
  const name = parts[parts.length - 1];
  const node: FsNode = isDir ? (dir.children!.get(name)?.type === 'directory' ? dir.children!.get(name)! : newDir(name))
    : { name, type: isLink ? 'symlink' : 'file', size: Number(f.get('Size') || 0) || 0, mtime: 0 };
  node.mtime = parseTime(f.get('Modified'));
  if (isLink && link) node.target = link;   // 7-Zip gives no target for SquashFS and HFS+ links: unknown, not ''
  dir.children!.set(name, node);
  return true;
}

/** 7-Zip prints times as `2026-12-01 14:43:50[.fraction]` in UTC for these file systems (FAT: local, stored as is). */
export function parseTime(s: string | undefined): number {
  const m = s && /^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(\.\d+)?/.exec(s);
  if (!m) return 0;
  const ms = m[7] ? Math.floor(Number(m[7]) * 1000) : 0;
  return Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6], ms);
}

/**
 * Walks `parts` from `root`, following symbolic links only inside the volume (at most 40 hops; `..` stops at the
 * root). Returns the nodes from the root to the one found (so their names are its real path), or null.
 * A folder whose entries are not known yet calls `onPartial` with the nodes leading to it (it must throw).
 */
export function resolve(root: FsNode, parts: string[], followLast: boolean, onPartial?: (at: FsNode[]) => never): FsNode[] | null {
  let hops = 0;
  const walk = (start: FsNode[], ps: string[], last: boolean): FsNode[] | null => {
    const stack = [...start];
    for (let i = 0; i < ps.length; i++) {
      const name = ps[i];
      if (name === '' || name === '.') continue;
      if (name === '..') { if (stack.length > 1) stack.pop(); continue; }
      const dir = stack[stack.length - 1];
      if (dir.partial) (onPartial ?? notKnown)(stack);
      const next = dir.children?.get(name);
      if (!next) return null;
      if (next.type === 'symlink' && (i < ps.length - 1 || last)) {
        if (++hops > 40) return null;
        const t = next.target;
        if (!t) return null;
        const r = walk(t.startsWith('/') ? [root] : stack, t.split('/'), true);
        if (!r) return null;
        stack.length = 0; stack.push(...r);
        continue;
      }
      stack.push(next);
    }
    return stack;
  };
  return walk([root], parts, followLast);
}

function notKnown(): never { throw new Error('a folder of this volume is not listed yet'); }
