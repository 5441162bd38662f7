// Who else uses an image as a layer: the images in the given folders (and the user's Recent Images) whose chain passes
// through it. Merge changes an ancestor under them and resize changes its size under them (a child must have its
// parent's size), so both refuse unless the user forces it.
import * as fs from 'fs';
import * as path from 'path';
import { inspectImage } from '../inspect';

export const realPath = (p: string) => { try { return fs.realpathSync(p); } catch { return path.resolve(p); } };

/** Files whose name says they can have a parent or backing file. */
const MAY_HAVE_PARENT = /\.(vhdx?|avhdx|qcow2?|vmdk|vdi)$/i;

/** Images in `folders` or `others` whose chain passes through one of `layers` (real paths), except those in `exclude`. */
export async function dependents(layers: string[], exclude: Set<string>, folders: string[], others: string[]): Promise<string[]> {
  const want = new Set(layers);
  const candidates = new Set<string>(others.map((o) => path.resolve(o)));
  for (const d of folders) {
    let names: string[] = [];
    try { names = fs.readdirSync(d); } catch { continue; }
    for (const n of names) if (MAY_HAVE_PARENT.test(n)) candidates.add(path.join(d, n));
  }
  const out: string[] = [];
  for (const c of candidates) {
    if (!fs.existsSync(c) || exclude.has(realPath(c)) || want.has(realPath(c))) continue;
    try {
      const i = await inspectImage(c);
      if (i.chain.slice(1).some((l) => want.has(realPath(l.path)))) out.push(c);
    } catch { /* not an image we can read: it cannot depend on ours */ }
  }
  return out;
}
