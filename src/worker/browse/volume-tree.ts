// A volume's files as far as they are known. The first answer comes from listings of single folders (7-Zip's
// wildcards: `l -slt -r- 'dir/*' -x!'dir/*/*'` formats only that folder's entries, a small fraction of the cost of
// the whole volume), and the full listing (one `l -slt` of everything) is made in the background and then replaces
// them. A request that needs every entry (recursive listing, extracting a folder) waits for the full listing.
import type { FsNode, Listing } from './slt';
import { resolve } from './slt';

/** Where a volume's listings come from: 7-Zip, or a reader of vdisk's own (exFAT). */
export interface Lister {
  /** The direct entries of the folder `names` (the root when empty), in a tree from the volume's root. */
  folder(names: string[]): Promise<Listing>;
  all(): Promise<Listing>;
  /** `folder` answers with everything at once (no partial listings). */
  readonly complete: boolean;
}

/** Folder listings one request may start before it waits for the full listing instead. */
const FETCH_BUDGET = 8;

class Partial { constructor(readonly at: FsNode[]) { } }

export class VolumeTree {
  root: FsNode;
  complete: boolean;
  private full: Promise<FsNode> | undefined;
  /** Single-folder listings made so far: past a few, a crawl is under way and the full listing pays off sooner. */
  fills = 0;
  private readonly filling = new Map<FsNode, Promise<void>>();

  private constructor(readonly type: string, readonly label: string | null, head: Listing, private readonly lister: Lister) {
    this.root = head.root;
    this.complete = lister.complete;
    if (!this.complete) markChildrenPartial(this.root);
  }

  /** The root folder's entries (which also name the file system and its label). */
  static async open(lister: Lister): Promise<VolumeTree> {
    const head = await lister.folder([]);
    return new VolumeTree(head.type, head.label, head, lister);
  }

  /** Starts (once) the full listing; resolves to the whole tree. A failed attempt can be retried. */
  whole(): Promise<FsNode> {
    if (this.complete) return Promise.resolve(this.root);
    this.full ??= this.lister.all().then((l) => { this.root = l.root; this.complete = true; this.filling.clear(); return l.root; },
      (e) => { this.full = undefined; throw e; });
    return this.full;
  }

  get started(): boolean { return this.complete || this.full !== undefined; }

  /**
   * `resolve` (slt.ts) that lists the folders it walks through when they are not known yet: the path from the root
   * to the node found, or null. `budget` is shared by one request's look-ups.
   */
  async find(parts: string[], followLast: boolean, budget = { left: FETCH_BUDGET }): Promise<FsNode[] | null> {
    for (;;) {
      if (this.complete) return resolve(this.root, parts, followLast);
      try {
        return resolve(this.root, parts, followLast, (at) => { throw new Partial(at); });
      } catch (e) {
        if (!(e instanceof Partial)) throw e;
        await this.fill(e.at, budget);
      }
    }
  }

  /** Makes sure the folder at the end of `at` (nodes from the root) has its entries. */
  async fill(at: FsNode[], budget = { left: FETCH_BUDGET }): Promise<void> {
    const dir = at[at.length - 1];
    if (!dir.partial || this.complete) return;
    const names = at.slice(1).map((n) => n.name);
    if (budget.left <= 0 || !wildcardSafe(names)) { await this.whole(); return; }
    budget.left--;
    this.fills++;
    let p = this.filling.get(dir);
    if (!p) {
      p = this.lister.folder(names).then((l) => {
        let n: FsNode | undefined = l.root;
        for (const name of names) n = n?.children?.get(name);
        if (n && n.type !== 'directory') throw new Error(`7-Zip lists ${names.join('/')} as a ${n.type}, not a folder`);
        dir.children = n?.children ?? new Map();
        markChildrenPartial(dir);
        dir.partial = false;
      }).finally(() => this.filling.delete(dir));
      this.filling.set(dir, p);
    }
    await p;
  }
}

function markChildrenPartial(dir: FsNode): void {
  for (const c of dir.children!.values()) if (c.type === 'directory') { c.children = new Map(); c.partial = true; }
}

/**
 * A folder path 7-Zip's wildcards match literally: no `*` or `?` (wildcards), no `\` (a separator to 7-Zip's
 * wildcard parser), no `@` first (a list file), no line breaks (the listing is line based).
 */
export function wildcardSafe(names: string[]): boolean {
  return names.every((n) => !/[*?\\\r\n]/.test(n)) && !(names[0] ?? '').startsWith('@') && !(names[0] ?? '').startsWith('-');
}
