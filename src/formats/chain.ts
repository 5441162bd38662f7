// Following a differencing disk to its parents the way Windows does, from Linux or Windows.
import type * as fs from 'fs';
import * as path from 'path';
import type { ChainLink, ParentLink, Problem } from '../common/image';
import type { ParentCandidate } from '../common/problems';
import { inspectOne, OneFile } from './inspect-one';
import { problem, ProblemCode } from './problems';
import { checkLayerFile, describeRef, pulledIn } from './layers';
import type { ParentRef, ParsedImage } from './types';

export const DEFAULT_MAX_DEPTH = 64;

export type Candidate = ParentCandidate;

const WIN_ABS = /^(?:[A-Za-z]:[\\/]|\\\\|Volume\{)/i;

/** A Windows-style locator as a local path; `null` when it only makes sense on Windows. */
export function translateLocator(loc: string, childDir: string, platform = process.platform): string | null {
  let s = loc.replace(/\0+$/, '').trim();
  if (!s) return null;
  if (platform === 'win32') return path.win32.resolve(childDir, s.replace(/^\\\\\?\\(?=[A-Za-z]:)/, ''));
  s = s.replace(/^\\\\\?\\/, '');
  if (WIN_ABS.test(s)) return null;
  if (s.startsWith('/')) return path.posix.normalize(s);
  // a drive-less Windows absolute path (what our writer stores on Linux): rooted at /
  if (s.startsWith('\\')) return path.posix.normalize(s.replace(/\\/g, '/'));
  return path.posix.join(childDir, s.replace(/\\/g, '/'));
}

const winBase = (s: string) => s.split(/[\\/]/).filter(Boolean).pop() ?? '';

/**
 * Where to look, in Windows' order. VHD: relative (W2ru), absolute (W2ku); VHDX: relative_path,
 * volume_path, absolute_win32_path. A drive-letter or volume path cannot be followed on Linux: its file
 * name is tried in the child's folder, which is what the relative rule finds for `.\name`.
 */
export function parentCandidates(childPath: string, format: string, ref: ParentRef, platform = process.platform, searchFolders: string[] = []): Candidate[] {
  const dir = path.dirname(childPath);
  const order: ('relative' | 'volume' | 'absolute')[] = format === 'vhdx' ? ['relative', 'volume', 'absolute'] : ['relative', 'absolute'];
  const out: Candidate[] = [];
  const add = (how: Candidate['how'], p: string | null) => { if (p && !out.some((c) => c.path === p)) out.push({ how, path: p }); };
  for (const how of order) {
    const loc = ref.locators[how];
    if (!loc) continue;
    const t = translateLocator(loc, dir, platform);
    add(how, t ?? (winBase(loc) ? path.join(dir, winBase(loc)) : null));
  }
  // no locator at all: libvhdi's rule, the parent's own name next to the child
  if (out.length === 0 && ref.name && !Object.keys(ref.locators).length) add('name', path.join(dir, winBase(ref.name)));
  // folders the user pointed at ("Attach Parent Folder..."): the parent's file names there, after Windows' places;
  // the identity check below still decides
  const names = [...new Set([...Object.values(ref.locators), ref.name].filter((x): x is string => !!x).map(winBase).filter((b) => !!b))];
  for (const folder of searchFolders) for (const n of names) add('folder', path.join(folder, n));
  return out;
}

/** Reads one layer file; `checked` is the stat layers.ts just took of it (the worker's cache compares it). */
export type LayerOpen = (p: string, checked?: fs.Stats) => Promise<OneFile>;

export interface ChainResult { parent: ParentLink | null; chain: ChainLink[]; problems: Problem[] }

const linkOf = (p: string, x: ParsedImage): ChainLink => ({ path: p, format: x.format, subtype: x.subtype, id: x.id });

interface FormatLayer { index: number; path: string; info: ParsedImage }

/** Records a problem of the layer being followed (its index and path ride along as data, its message says so too). */
type AddProblem = (code: ProblemCode, detail: string, extra?: Pick<Problem, 'tried'>) => void;

/**
 * Every layer of an image, self first: VHD/VHDX parents (Windows' search, identity checked), qcow2 backing and data
 * files, VMDK extents and parents. Each file is checked by layers.ts; a file that is missing, not a regular file,
 * unreadable or not followed is a problem naming it, and is not in the chain.
 */
export async function resolveChain(childPath: string, child: ParsedImage, maxDepth = DEFAULT_MAX_DEPTH,
  open: LayerOpen = (p) => inspectOne(p), searchFolders: string[] = []): Promise<ChainResult> {
  const chain: ChainLink[] = [{ ...linkOf(childPath, child), role: 'image', level: 1 }];
  const problems: Problem[] = [];
  const dirs = new Map<string, string>(); // each folder's real path, once per inspection (layers.ts)
  const check = (p: string) => checkLayerFile(p, false, dirs);
  const top = check(childPath);
  const seen = new Set<string>([top.ok ? top.path : childPath]);
  const parentLink: ParentLink | null = child.parent
    ? { id: child.parent.id, name: child.parent.name, locators: { ...child.parent.locators }, resolvedPath: null } : null;
  let cur: FormatLayer | null = { index: 0, path: childPath, info: child };
  let depth = 0;
  while (cur) {
    const at: FormatLayer = cur;
    cur = null;
    const level = chain[at.index].level ?? 1;
    const suffix = at.index > 0 ? ` (in parent ${at.path})` : '';
    const layer = at.index > 0 ? { layer: { index: at.index, path: at.path } } : {};
    const add: AddProblem = (code, detail, extra) => problems.push({ ...problem(code, `${detail}${suffix}`), ...layer, ...extra });
    let next: { path: string; info: ParsedImage; role: 'parent' | 'backing'; name?: string } | null = null;
    if (at.info.subtype === 'differencing' && at.info.parent && (at.info.format === 'vhd' || at.info.format === 'vhdx')) {
      if (depth >= maxDepth) { problems.push(problem('chain-too-deep', `more than ${maxDepth} levels below ${childPath}`)); break; }
      const found = await findParent(at.path, at.info, seen, open, searchFolders, add, check);
      if (!found) break;
      if (at.index === 0 && parentLink) parentLink.resolvedPath = found.path;
      next = { ...found, role: 'parent' };
    } else {
      for (const r of pulledIn(at.path, at.info)) {
        const what = describeRef(r, at.path);
        if (!r.path) { add('layer-unsupported', `${what} is ${r.refused}`); continue; }
        const c = check(r.path);
        if (!c.ok) { add(c.code, `${what}: ${c.detail}`); continue; }
        if (seen.has(c.path)) { add('chain-cycle', `${what} is ${c.path}, already a layer of this image`); continue; }
        if (r.role === 'extent' || r.role === 'data-file') {
          seen.add(c.path);
          chain.push({ path: c.path, format: r.format ?? 'raw', subtype: null, id: null, role: r.role, level, of: at.index, name: r.name,
            ...(r.extent ? { extent: r.extent } : {}) });
          continue;
        }
        if (depth >= maxDepth) { problems.push(problem('chain-too-deep', `more than ${maxDepth} levels below ${childPath}`)); break; }
        let info: ParsedImage;
        try { info = (await open(c.path, c.stat)).parsed; } catch (e) { add('layer-unreadable', `${what}: ${c.path}: ${e instanceof Error ? e.message : e}`); continue; }
        // a declared format wins, as in qemu: a backing file declared raw is data, whatever its content looks like
        if (r.format === 'raw') info = { ...info, format: 'raw', subtype: null, id: null, parent: null, problems: [], details: {} };
        else if (r.format && info.format !== r.format) { add('layer-unreadable', `${what}: ${c.path} is ${info.format}, the image declares ${r.format}`); continue; }
        next = { path: c.path, info, role: r.role, name: r.name };
      }
    }
    if (!next) break;
    depth++;
    seen.add(next.path);
    chain.push({ ...linkOf(next.path, next.info), role: next.role, level: level + 1, of: at.index, ...(next.name ? { name: next.name } : {}) });
    const nextLayer = { index: chain.length - 1, path: next.path };
    for (const pr of next.info.problems) problems.push({ code: pr.code, message: `${pr.message} (in parent ${next.path})`, layer: nextLayer });
    cur = { index: chain.length - 1, path: next.path, info: next.info };
  }
  return { parent: parentLink, chain, problems };
}

/** A VHD/VHDX parent, searched in Windows' order with the identity the child names; problems go to `add`. */
async function findParent(curPath: string, cur: ParsedImage, seen: Set<string>, open: LayerOpen,
  searchFolders: string[], add: AddProblem, check: (p: string) => ReturnType<typeof checkLayerFile>): Promise<{ path: string; info: ParsedImage } | null> {
  const ref = cur.parent!;
  const cands = parentCandidates(curPath, cur.format, ref, process.platform, searchFolders);
  const where = `for ${curPath}`;
  if (!cands.length) { add('parent-locator-missing', where); return null; }
  let mismatch: string | null = null, unreadable: string | null = null, notAFile: string | null = null;
  for (const c of cands) {
    const chk = check(c.path);
    if (!chk.ok) {
      if (chk.code === 'layer-not-a-file') notAFile ??= `parent of ${curPath}: ${chk.detail}`;
      else if (chk.code === 'layer-unreadable') unreadable ??= chk.detail;
      continue;
    }
    const real = chk.path;
    if (seen.has(real)) { add('chain-cycle', `${curPath} -> ${real}`); return null; }
    let info: ParsedImage;
    try {
      info = (await open(real, chk.stat)).parsed;
    } catch (e) {
      unreadable ??= `${real}: ${e instanceof Error ? e.message : e}`;
      continue;
    }
    if (info.format !== 'vhd' && info.format !== 'vhdx') { unreadable ??= `${real} is ${info.format}`; continue; }
    const ok = !ref.id || info.id === ref.id || (!!ref.altId && info.id === ref.altId);
    if (!ok) { mismatch ??= `${real} has id ${info.id}, ${curPath} expects ${ref.id}`; continue; }
    return { path: real, info };
  }
  if (mismatch) add('parent-id-mismatch', mismatch);
  else if (notAFile) add('layer-not-a-file', notAFile);
  else if (unreadable) add('parent-unreadable', unreadable);
  else add('parent-missing', `${where}, tried ${cands.map((c) => `${c.how} ${c.path}`).join(', ')}`, { tried: cands });
  return null;
}
