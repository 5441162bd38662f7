// Which files an image pulls in besides itself (qcow2 backing and external data files, VMDK extents and parents),
// how each name resolves, and whether a resolved file is acceptable as a layer. The one rule for inspect (chain.ts),
// the Linux engines (which hand qemu only files opened here) and the block readers. VHD/VHDX parents are searched
// by chain.ts (Windows' locator order and identity check) and checked here like every other layer.
import * as fs from 'fs';
import * as path from 'path';
import type { ChainLink, ImageFormat, LayerRole } from '../common/image';
import type { ProblemCode } from './problems';
import type { ParsedImage } from './types';

export interface LayerRef {
  role: Exclude<LayerRole, 'image'>;
  /** The name exactly as the image writes it. */
  name: string;
  /** Where the name resolves (absolute), or null when vdisk does not follow it (see `refused`). */
  path: string | null;
  /** The format the image declares for the file; null: decided by its content (as qemu probes it). */
  format: ImageFormat | null;
  extent?: ChainLink['extent'];
  /** Why the name is not followed: a protocol or json: name, a Windows path, a raw device mapping, an unknown format. */
  refused?: string;
}

/** qemu's format names as the qcow2 backing-format extension writes them. */
const QEMU_FORMATS: Record<string, ImageFormat> = { raw: 'raw', file: 'raw', qcow2: 'qcow2', vmdk: 'vmdk', vpc: 'vhd', vhdx: 'vhdx', vdi: 'vdi' };
/** VMDK extents whose data is a plain byte range of their file. */
const FLAT_EXTENTS = new Set(['FLAT', 'VMFS']);
/** VMDK extents that are files in a sparse format (hosted sparse, COWD, SE sparse). */
const SPARSE_EXTENTS = new Set(['SPARSE', 'VMFSSPARSE', 'SESPARSE']);

/**
 * A name from an image resolved like qemu resolves it on Linux (relative to the image's folder), except that names
 * qemu would hand to another protocol (`json:`, `nbd:`, `http:`...) and Windows paths are refused, not followed.
 */
export function resolveLayerName(name: string, imagePath: string): { path: string } | { refused: string } {
  if (!name) return { refused: 'an empty name' };
  if (name.includes('\0')) return { refused: 'a name with a NUL byte' };
  if (/^json:/i.test(name)) return { refused: 'a json: description, not a file name' };
  if (/^[A-Za-z]:[\\/]|^\\\\/.test(name)) return { refused: 'a Windows path, which Linux cannot follow' };
  const proto = /^([A-Za-z][\w+.-]*):/.exec(name);
  if (proto && !name.slice(0, proto[0].length).includes('/')) return { refused: `a ${proto[1]}: location, not a file` };
  return { path: path.resolve(path.dirname(imagePath), name) };
}

function ref(role: LayerRef['role'], name: string, imagePath: string, format: ImageFormat | null, extra: Partial<LayerRef> = {}): LayerRef {
  const r = resolveLayerName(name, imagePath);
  return 'path' in r ? { role, name, path: r.path, format, ...extra } : { role, name, path: null, format, refused: r.refused, ...extra };
}

/** Every file this one image pulls in, in the order qemu opens them (data file and extents before the backing file). */
export function pulledIn(imagePath: string, p: ParsedImage): LayerRef[] {
  const d = p.details ?? {};
  const out: LayerRef[] = [];
  if (p.format === 'qcow2') {
    if ('dataFile' in d) {
      if (typeof d.dataFile === 'string' && d.dataFile) out.push(ref('data-file', d.dataFile, imagePath, 'raw'));
      else out.push({ role: 'data-file', name: '', path: null, format: 'raw', refused: 'the image keeps its data in an external file but does not name it' });
    }
    if (typeof d.backingFile === 'string' && d.backingFile) {
      const declared = typeof d.backingFormat === 'string' ? d.backingFormat : null;
      const format = declared === null ? null : QEMU_FORMATS[declared] ?? null;
      const r = ref('backing', d.backingFile, imagePath, format);
      if (declared !== null && format === null && !r.refused) { r.refused = `backing format "${declared.slice(0, 32)}" is not one vdisk reads`; r.path = null; }
      out.push(r);
    }
  } else if (p.format === 'vmdk') {
    const extents = (Array.isArray(d.extents) ? d.extents : []) as { type: string; sectors: number; file: string | null; offset?: number }[];
    // a hosted sparse file is its own single extent; only a descriptor file names extent files
    if (d.descriptorFile === true) {
      extents.forEach((e, index) => {
        if (e.type === 'ZERO') return;
        const extent = { index, type: e.type, size: e.sectors * 512, offset: FLAT_EXTENTS.has(e.type) ? (e.offset ?? 0) * 512 : 0 };
        const format: ImageFormat = SPARSE_EXTENTS.has(e.type) ? 'vmdk' : 'raw';
        if (e.file === null) { out.push({ role: 'extent', name: '', path: null, format, extent, refused: 'an extent without a file name' }); return; }
        const r = ref('extent', e.file, imagePath, format, { extent });
        if (!FLAT_EXTENTS.has(e.type) && !SPARSE_EXTENTS.has(e.type) && !r.refused) {
          r.refused = `a ${e.type} extent (raw device mappings and unknown types are not followed)`;
          r.path = null;
        }
        out.push(r);
      });
    }
    if (typeof d.parentFileNameHint === 'string' && d.parentFileNameHint) out.push(ref('parent', d.parentFileNameHint, imagePath, null));
  }
  return out;
}

export type LayerProblemCode = Extract<ProblemCode, 'layer-missing' | 'layer-not-a-file' | 'layer-unreadable'>;
export type LayerCheck = { ok: true; path: string; stat: fs.Stats } | { ok: false; code: LayerProblemCode; detail: string };

/** Pseudo file systems whose "files" are kernel objects (process memory, device attributes), never image data. */
const PSEUDO_ROOTS = ['/proc', '/sys', '/dev'];

let userCheck: ((real: string, write: boolean) => string | null) | null = null;
/** An elevated worker checks the rights of the user it serves instead of its own (worker/linux/served-user.ts). */
export function setLayerAccessCheck(f: (real: string, write: boolean) => string | null): void { userCheck = f; }

/**
 * Whether the requester may use this layer. Today: the worker's own rights (it runs as the user, or as root for
 * root). A worker acting for another user (elevation) extends this one function to check that user's rights.
 */
export function mayUseLayer(real: string, write: boolean): string | null {
  if (userCheck) return userCheck(real, write);
  try {
    fs.accessSync(real, fs.constants.R_OK | (write ? fs.constants.W_OK : 0));
    return null;
  } catch (e) {
    return `${real}: ${(e as NodeJS.ErrnoException).code === 'EACCES' ? `no ${write ? 'write' : 'read'} permission` : (e as Error).message}`;
  }
}

/**
 * The real path of `p`, and its lstat when that already tells the file (not a symlink). `dirs`, for the layers of one
 * inspection (which mostly share a folder): each folder's real path is resolved once, then one lstat per file
 * instead of realpath's readlink of every component and a stat.
 */
function realOf(p: string, dirs?: Map<string, string>): { real: string; st?: fs.Stats } {
  if (!dirs || path.dirname(p) === p) return { real: fs.realpathSync.native(p) };
  const dir = path.dirname(p);
  let rd = dirs.get(dir);
  if (rd === undefined) { rd = fs.realpathSync.native(dir); dirs.set(dir, rd); }
  const real = path.join(rd, path.basename(p));
  const st = fs.lstatSync(real);
  return st.isSymbolicLink() ? { real: fs.realpathSync.native(real) } : { real, st };
}

/**
 * Is the file at `p` acceptable as a layer: it exists, is a regular file outside /proc, /sys and /dev, and may be used.
 * `dirs`: a folder-to-real-path memo kept for one inspection (see realOf).
 */
export function checkLayerFile(p: string, write = false, dirs?: Map<string, string>): LayerCheck {
  let real: string;
  let known: fs.Stats | undefined;
  try {
    ({ real, st: known } = realOf(p, dirs));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { ok: false, code: 'layer-missing', detail: `${p} does not exist` };
    return { ok: false, code: 'layer-unreadable', detail: `${p}: ${(e as Error).message}` };
  }
  if (PSEUDO_ROOTS.some((r) => real === r || real.startsWith(`${r}/`))) {
    return { ok: false, code: 'layer-not-a-file', detail: `${p}${real !== p ? ` (${real})` : ''} is under ${real.split('/').slice(0, 2).join('/')}` };
  }
  let st: fs.Stats;
  try { st = known ?? fs.statSync(real); } catch (e) { return { ok: false, code: 'layer-unreadable', detail: `${real}: ${(e as Error).message}` }; }
  if (!st.isFile()) return { ok: false, code: 'layer-not-a-file', detail: `${p}${real !== p ? ` (${real})` : ''} is ${kindOf(st)}` };
  const denied = mayUseLayer(real, write);
  if (denied) return { ok: false, code: 'layer-unreadable', detail: denied };
  return { ok: true, path: real, stat: st };
}

function kindOf(st: fs.Stats): string {
  return st.isDirectory() ? 'a folder' : st.isBlockDevice() ? 'a block device' : st.isCharacterDevice() ? 'a character device'
    : st.isFIFO() ? 'a FIFO' : st.isSocket() ? 'a socket' : 'not a regular file';
}

export class LayerRefused extends Error {
  constructor(readonly code: LayerProblemCode, message: string) {
    super(message);
    this.name = 'LayerRefused';
  }
}

/**
 * Opens a layer for its consumer (engine, block reader): checked as above, opened without following a FIFO or
 * taking a terminal, and verified to be the very file that was checked. Returns the fd and the real path.
 */
export function openLayerFile(p: string, write = false): { fd: number; path: string } {
  const c = checkLayerFile(p, write);
  if (!c.ok) throw new LayerRefused(c.code, c.detail);
  const flags = (write ? fs.constants.O_RDWR : fs.constants.O_RDONLY) | (fs.constants.O_NONBLOCK ?? 0) | (fs.constants.O_NOCTTY ?? 0);
  const fd = fs.openSync(c.path, flags);
  const st = fs.fstatSync(fd);
  if (!st.isFile() || st.ino !== c.stat.ino || st.dev !== c.stat.dev) {
    fs.closeSync(fd);
    throw new LayerRefused('layer-not-a-file', `${c.path} changed while it was being opened`);
  }
  return { fd, path: c.path };
}

/** How a layer is named in problem messages: `backing file "b.qcow2" of /x/top.qcow2`. */
export function describeRef(r: Pick<LayerRef, 'role' | 'name' | 'extent'>, of: string): string {
  const what = r.role === 'backing' ? 'backing file' : r.role === 'data-file' ? 'data file' : r.role === 'extent' ? `extent ${(r.extent?.index ?? 0) + 1}` : 'parent';
  return `${what}${r.name ? ` ${JSON.stringify(r.name)}` : ''} of ${of}`;
}
