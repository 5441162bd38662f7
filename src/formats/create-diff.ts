// createDifferencingDisk: a new, empty child over any VHD/VHDX parent (VHD or VHDX by the child's extension),
// with relative and absolute parent locators, so the base itself is never written.
import * as fs from 'fs';
import * as path from 'path';
import { FormatError } from './errors';
import { inspectImage } from './inspect';
import { randomGuid } from './guid';
import { buildVhdChild, vhdGeometry } from './vhd/writer';
import { buildVhdxChild } from './vhdx/writer';
import { MiB } from './vhdx/inspect';

/** `.\name` / `..\dir\name`, as Windows writes relative locators. */
export function windowsRelative(fromDir: string, to: string): string {
  const r = path.relative(fromDir, to);
  if (path.isAbsolute(r)) return r; // another drive on Windows: there is no relative form
  const rel = r.split(path.sep).join('\\');
  return rel.startsWith('..') ? rel : `.\\${rel}`;
}

/**
 * The absolute locator, always in Windows notation: on Linux the POSIX path with backslashes (a drive-less
 * Windows path, `\srv\vm\base.vhdx`). libvhdi takes the parent's file name after the last backslash of this
 * locator, and our resolver maps it back to `/srv/vm/base.vhdx`.
 */
export function absoluteLocator(p: string, platform = process.platform): string {
  return platform === 'win32' ? path.win32.resolve(p) : p.split('/').join('\\');
}

export async function createDifferencingDisk(parentPath: string, childPath: string): Promise<{ child: string; format: 'vhd' | 'vhdx' }> {
  const parentAbs = path.resolve(parentPath);
  const childAbs = path.resolve(childPath);
  const ext = path.extname(childAbs).toLowerCase();
  const format = ext === '.vhd' ? 'vhd' : ext === '.vhdx' || ext === '.avhdx' ? 'vhdx' : null;
  if (!format) throw new FormatError('unsupported', `${childAbs}: a differencing child must be named .vhd, .vhdx or .avhdx`);
  if (fs.existsSync(childAbs)) throw new FormatError('exists', `${childAbs} already exists; it will not be overwritten`);
  const info = await inspectImage(parentAbs);
  if (info.format !== 'vhd' && info.format !== 'vhdx') {
    throw new FormatError('unsupported', `${parentAbs} is ${info.format}, not a VHD or VHDX: it cannot be a differencing parent`);
  }
  if (info.problems.length) {
    throw new FormatError('chain-broken', `${parentAbs} cannot be a parent: ${info.problems.map((p) => `${p.code} (${p.message})`).join('; ')}`);
  }
  if (!info.id) throw new FormatError('unsupported', `${parentAbs} has no identity a child could name`);
  const rel = windowsRelative(path.dirname(childAbs), parentAbs);
  const abs = absoluteLocator(parentAbs);
  const built = format === 'vhd' ? vhdChild(parentAbs, info, rel, abs) : vhdxChild(info, rel, abs);
  await writePieces(childAbs, built.pieces, built.size);
  return { child: childAbs, format };
}

type Info = Awaited<ReturnType<typeof inspectImage>>;
const VHD_MAX_SIZE = 2040 * 1024 * MiB;

function vhdChild(parentAbs: string, info: Info, rel: string, abs: string) {
  let geometry = vhdGeometry(info.virtualSize);
  let parentTimestamp = 0;
  let blockSize = 2 * MiB;
  if (info.format === 'vhd') {
    const d = info.details ?? {};
    geometry = (d.geometry as typeof geometry) ?? geometry;
    // the parent's footer timestamp, as Hyper-V writes it (diskpart writes 0; nobody checks it)
    parentTimestamp = Math.max(0, Math.floor((Date.parse(String(d.timestamp)) - Date.UTC(2000, 0, 1)) / 1000)) || 0;
    if (info.blockSize) blockSize = info.blockSize;
  }
  if (info.virtualSize > VHD_MAX_SIZE) {
    throw new FormatError('unsupported', `${parentAbs} is larger than 2040 GiB, the most a VHD can hold; name the child .vhdx`);
  }
  if (info.logicalSectorSize !== 512) {
    throw new FormatError('unsupported', `${parentAbs} has ${info.logicalSectorSize}-byte sectors; a VHD child can only have 512`);
  }
  return buildVhdChild({
    virtualSize: info.virtualSize, geometry, blockSize, uniqueId: randomGuid(), parentId: info.id!, parentTimestamp,
    parentName: path.basename(parentAbs), relative: rel, absolute: abs,
  });
}

function vhdxChild(info: Info, rel: string, abs: string) {
  const blockSize = info.format === 'vhdx' && info.blockSize ? info.blockSize : 2 * MiB;
  const locator: Record<string, string> = { parent_linkage: `{${info.id}}`, relative_path: rel, absolute_win32_path: abs };
  return buildVhdxChild({
    virtualSize: info.virtualSize, blockSize, logicalSectorSize: info.logicalSectorSize,
    physicalSectorSize: info.format === 'vhdx' ? info.physicalSectorSize : 512,
    virtualDiskId: info.virtualDiskId ?? randomGuid(), fileWriteGuid: randomGuid(), dataWriteGuid: randomGuid(),
    locator, creator: 'vdisk',
  });
}

async function writePieces(file: string, pieces: [number, Buffer][], size: number): Promise<void> {
  const fh = await fs.promises.open(file, 'wx'); // never overwrite, even if it appeared since the check
  let ok = false;
  try {
    await fh.truncate(size);
    for (const [off, buf] of pieces) await fh.write(buf, 0, buf.length, off);
    await fh.sync();
    ok = true;
  } finally {
    await fh.close();
    if (!ok) await fs.promises.rm(file, { force: true });
  }
}
