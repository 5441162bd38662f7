// Reconnect a parent (Set-VHD -ParentPath): checks that the new parent is the disk the child was made from (its
// identity, size and sector size), then rewrites the child's locators (VHD: ../vhd/set-parent.ts; VHDX: through the
// log, ../vhdx/set-locator.ts). Only the child is written; the parent is read.
import * as fs from 'fs';
import * as path from 'path';
import type { SetParentResult } from '../../common/protocol';
import { FormatError } from '../errors';
import { inspectImage } from '../inspect';
import { inspectOne } from '../inspect-one';
import { normalizeGuid } from '../guid';
import { absoluteLocator, windowsRelative } from '../create-diff';
import { setVhdParent } from '../vhd/set-parent';
import { setVhdxLocator } from '../vhdx/set-locator';
import { parseFooter, isVhdFooter } from '../vhd/inspect';

export class IdMismatchError extends FormatError {
  constructor(message: string, readonly expected: string | null, readonly actual: string | null) { super('chain-broken', message); }
}

export async function setParent(childPath: string, parentPath: string, opts: { ignoreIdMismatch?: boolean } = {}): Promise<SetParentResult> {
  const child = path.resolve(childPath), parent = path.resolve(parentPath);
  const c = (await inspectOne(child)).parsed;
  if ((c.format !== 'vhd' && c.format !== 'vhdx') || c.subtype !== 'differencing' || !c.parent) {
    throw new FormatError('unsupported', `${child} is not a differencing VHD or VHDX: it has no parent to reconnect`);
  }
  const own = c.problems.filter((p) => p.code !== 'log-replay-required');
  if (own.length) throw new FormatError('chain-broken', `${child} is damaged, so it is not rewritten: ${own.map((p) => p.message).join('; ')}`);
  if (!fs.existsSync(parent)) throw new FormatError('not-found', `${parent}: no such file`);
  if (fs.realpathSync(parent) === fs.realpathSync(child)) throw new FormatError('unsupported', 'a disk cannot be its own parent');
  const p = await inspectImage(parent);
  if (p.format !== 'vhd' && p.format !== 'vhdx') throw new FormatError('unsupported', `${parent} is ${p.format}, not a VHD or VHDX`);
  if (p.problems.length) throw new FormatError('chain-broken', `${parent} cannot be a parent: ${p.problems.map((x) => x.message).join('; ')}`);
  if (p.chain.some((l) => fs.realpathSync(l.path) === fs.realpathSync(child))) throw new FormatError('unsupported', `${parent} is itself a child of ${child}: that would make a loop`);
  if (p.virtualSize !== c.virtualSize) throw new FormatError('unsupported', `${parent} is ${p.virtualSize} bytes, the child ${c.virtualSize}: it cannot be its parent`);
  if (p.logicalSectorSize !== c.logicalSectorSize) throw new FormatError('unsupported', `${parent} has ${p.logicalSectorSize}-byte sectors, the child ${c.logicalSectorSize}`);
  const expected = c.parent.id, actual = p.id;
  const same = !!actual && [expected, c.parent.altId].some((x) => x && normalizeGuid(x) === actual);
  if (!same && !opts.ignoreIdMismatch) {
    throw new IdMismatchError(`${path.basename(parent)} is not the parent ${path.basename(child)} was made from: the child expects identity ${expected ?? '(none)'}, `
      + `${path.basename(parent)} has ${actual ?? '(none)'}. If it holds the same data (a copy, or a parent changed by a tool that reset its id), `
      + 'reconnect with "ignore the identity mismatch"; if it does not, the child\'s data will read wrong.', expected, actual);
  }
  const relative = windowsRelative(path.dirname(child), parent);
  const absolute = absoluteLocator(parent);
  const rewrite = !same && !!actual;
  if (c.format === 'vhd') {
    setVhdParent(child, {
      parentName: path.basename(parent), relative, absolute,
      ...(rewrite ? { parentId: actual!, parentTimestamp: p.format === 'vhd' ? footerTimestamp(parent) : 0 } : {}),
    });
  } else {
    const old = (c.details.parentLocator ?? {}) as Record<string, string>;
    const loc: Record<string, string> = { parent_linkage: rewrite ? `{${actual}}` : old.parent_linkage };
    for (const [k, v] of Object.entries(old)) {
      if (!['parent_linkage', 'relative_path', 'absolute_win32_path', 'volume_path'].includes(k) && !(rewrite && k === 'parent_linkage2')) loc[k] = v;
    }
    loc.relative_path = relative;
    loc.absolute_win32_path = absolute;
    setVhdxLocator(child, loc);
  }
  return { child, parent, format: c.format, locators: { relative, absolute }, idRewritten: rewrite };
}

function footerTimestamp(file: string): number {
  const fd = fs.openSync(file, 'r');
  try {
    const b = Buffer.alloc(512);
    fs.readSync(fd, b, 0, 512, fs.fstatSync(fd).size - 512);
    return isVhdFooter(b) ? parseFooter(b).timestamp : 0;
  } finally { fs.closeSync(fd); }
}
