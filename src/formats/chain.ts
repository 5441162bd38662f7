// Following a differencing disk to its parents the way Windows does, from Linux or Windows.
import * as fs from 'fs';
import * as path from 'path';
import type { ChainLink, ParentLink, Problem } from '../common/image';
import type { ParentCandidate } from '../common/problems';
import { inspectOne, OneFile } from './inspect-one';
import { problem } from './problems';
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

export interface ChainResult { parent: ParentLink | null; chain: ChainLink[]; problems: Problem[] }

/** The real path of an existing file, else null (opening it tells a directory). Synchronous: see reader.ts. */
async function realpathOrNull(p: string): Promise<string | null> {
  try {
    return fs.realpathSync.native(p);
  } catch {
    return null;
  }
}

const linkOf = (p: string, x: ParsedImage): ChainLink => ({ path: p, format: x.format, subtype: x.subtype, id: x.id });

export async function resolveChain(childPath: string, child: ParsedImage, maxDepth = DEFAULT_MAX_DEPTH,
  open: (p: string) => Promise<OneFile> = inspectOne, searchFolders: string[] = []): Promise<ChainResult> {
  const chain: ChainLink[] = [linkOf(childPath, child)];
  const problems: Problem[] = [];
  const seen = new Set<string>([(await realpathOrNull(childPath)) ?? childPath]);
  let parentLink: ParentLink | null = child.parent
    ? { id: child.parent.id, name: child.parent.name, locators: { ...child.parent.locators }, resolvedPath: null } : null;
  let curPath = childPath;
  let cur = child;
  while (cur.subtype === 'differencing' && cur.parent && (cur.format === 'vhd' || cur.format === 'vhdx')) {
    if (chain.length > maxDepth) {
      problems.push(problem('chain-too-deep', `more than ${maxDepth} levels below ${chain[0].path}`));
      break;
    }
    const ref = cur.parent;
    const cands = parentCandidates(curPath, cur.format, ref, process.platform, searchFolders);
    const where = `for ${curPath}`;
    if (!cands.length) {
      problems.push(problem('parent-locator-missing', where));
      break;
    }
    let found: { path: string; info: ParsedImage } | null = null;
    let mismatch: string | null = null, unreadable: string | null = null, cycle: string | null = null;
    for (const c of cands) {
      const real = await realpathOrNull(c.path);
      if (!real) continue;
      if (seen.has(real)) { cycle = real; break; }
      let info: ParsedImage;
      try {
        info = (await open(real)).parsed;
      } catch (e) {
        unreadable ??= `${real}: ${e instanceof Error ? e.message : e}`;
        continue;
      }
      if (info.format !== 'vhd' && info.format !== 'vhdx') { unreadable ??= `${real} is ${info.format}`; continue; }
      const ok = !ref.id || info.id === ref.id || (!!ref.altId && info.id === ref.altId);
      if (!ok) { mismatch ??= `${real} has id ${info.id}, ${curPath} expects ${ref.id}`; continue; }
      found = { path: real, info };
      break;
    }
    if (cycle) { problems.push(problem('chain-cycle', `${curPath} -> ${cycle}`)); break; }
    if (!found) {
      if (mismatch) problems.push(problem('parent-id-mismatch', mismatch));
      else if (unreadable) problems.push(problem('parent-unreadable', unreadable));
      else problems.push({ ...problem('parent-missing', `${where}, tried ${cands.map((c) => `${c.how} ${c.path}`).join(', ')}`), tried: cands });
      break;
    }
    if (chain.length === 1 && parentLink) parentLink.resolvedPath = found.path;
    seen.add(found.path);
    chain.push(linkOf(found.path, found.info));
    const layer = { index: chain.length - 1, path: found.path };
    for (const pr of found.info.problems) problems.push({ code: pr.code, message: `${pr.message} (in parent ${found.path})`, layer });
    curPath = found.path;
    cur = found.info;
  }
  return { parent: parentLink, chain, problems };
}
