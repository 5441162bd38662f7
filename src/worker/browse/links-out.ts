// Symbolic links on extraction: vdisk makes them itself, from the listing's targets, exactly as stored (never
// followed, never rewritten). 7-Zip runs with -snl- (it makes no links): it refuses, as a whole-run error, every link
// that leads out of the volume, and for squashfs/HFS+ it left an empty file where it refused one.
import * as fs from 'fs';
import * as path from 'path';
import { ErrorCode } from '../../common/protocol';
import { WorkerError } from '../errors';
import type { FsNode } from './slt';

export interface LinkOut { names: string[]; target: string | undefined }

/** Every link at or under `node`, with its names relative to `node` (empty: `node` itself). */
export function linksUnder(node: FsNode, names: string[] = [], out: LinkOut[] = []): LinkOut[] {
  if (node.type === 'symlink') out.push({ names, target: node.target });
  else if (node.type === 'directory') for (const c of node.children!.values()) linksUnder(c, [...names, c.name], out);
  return out;
}

/** Refuses, before anything is written, links whose target the file system reader could not give. */
export function refuseUnknownTargets(links: LinkOut[], shown: string): void {
  const unknown = links.filter((l) => l.target === undefined || l.target === '');
  if (!unknown.length) return;
  const names = unknown.slice(0, 5).map((l) => (l.names.length ? `${shown === '/' ? '' : shown}/${l.names.join('/')}` : shown));
  throw new WorkerError(ErrorCode.ImageProblem, `cannot extract ${unknown.length} symbolic link(s) whose target 7-Zip does not give: ` +
    `${names.join(', ')}${unknown.length > 5 ? ', ...' : ''}; nothing was extracted (extract the other entries one by one)`, { reason: 'link-target-unknown' });
}

/** Makes each link under `dest` (the folders leading to it were extracted); never replaces or follows anything. */
export function makeLinks(links: LinkOut[], dest: string, dirTargets: Set<LinkOut>): number {
  for (const l of links) {
    const at = path.join(dest, ...l.names);
    for (let p = path.dirname(at); l.names.length && p !== path.dirname(dest); p = path.dirname(p)) {
      if (!fs.lstatSync(p).isDirectory()) throw new Error(`${p} is not a folder`);
    }
    try {
      fs.symlinkSync(l.target!, at, dirTargets.has(l) ? 'dir' : 'file');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const hint = process.platform === 'win32' && code === 'EPERM' ? ' (Windows lets only administrators, or anyone in Developer Mode, create symbolic links)' : '';
      throw new WorkerError(ErrorCode.OsError, `destination: cannot create symbolic link ${at} -> ${l.target}: ${(e as Error).message}${hint}`, { reason: 'destination', path: at });
    }
  }
  return links.length;
}

/** Windows makes file and folder links differently: the links that lead to a folder inside the volume. */
export async function dirLinks(vol: { tree: { find(parts: string[], followLast: boolean): Promise<FsNode[] | null> } }, names: string[], links: LinkOut[]): Promise<Set<LinkOut>> {
  const dirs = new Set<LinkOut>();
  if (process.platform !== 'win32') return dirs;
  for (const l of links) {
    const r = await vol.tree.find([...names, ...l.names], true).catch(() => null);
    if (r?.[r.length - 1].type === 'directory') dirs.add(l);
  }
  return dirs;
}
