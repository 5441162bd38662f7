// The one place that decides what may be attached, read-only or read-write, by which engine: the server checks every
// attach with checkAttach() and the problems rules here before the backend sees it. The rules per image kind are
// kind-rules.ts's; what this user can do on this machine (vdisk/initialize, vdisk/capabilities) is capabilities.ts's.
import * as path from 'path';
import { ErrorCode } from '../common/protocol';
import type { ImageInfo, Problem } from '../common/image';
import { WorkerError } from './errors';
import { kindOf, kindWithArticle } from '../common/describe-capabilities';
import { notAttachableOnWindows, ruleFor } from './kind-rules';

export { kindOf };
export { IMAGE_KINDS } from './kind-rules';
export {
  browsingAvailable, capabilities, initFileSystems, PROBED_TOOLS, setBrowsingAvailable, USER_ALLOW_OTHER_HOWTO,
} from './capabilities';
export type { Environment } from './capabilities';

/** "vdisk needs root to attach a VHDX here": the first words of every not-root refusal (the host adds the ways out). */
export function needsRoot(image: Pick<ImageInfo, 'format' | 'subtype' | 'path'>, why: string): WorkerError {
  return new WorkerError(ErrorCode.PermissionDenied, `vdisk needs root to attach ${kindWithArticle(kindOf(image))} here. ${why}`,
    { reason: 'not-root', path: image.path });
}

/** Refuses what the format rules forbid on this platform, with the reasons the host and tests know. */
export function checkAttach(image: ImageInfo, readOnly: boolean, platform: NodeJS.Platform): void {
  const rule = ruleFor(kindOf(image), platform);
  const name = path.basename(image.path);
  if (rule.engine === null && platform === 'win32') throw notAttachableOnWindows(image);
  if (rule.engine === null) {
    throw new WorkerError(ErrorCode.UnsupportedImage, `${name} is a ${image.format} image: ${rule.why}`, { path: image.path, reason: 'platform' });
  }
  if (readOnly || rule.readWrite) return;
  if (kindOf(image) === 'iso') {
    throw new WorkerError(ErrorCode.UnsupportedImage,
      `${image.format.toUpperCase()} images can only be attached read-only (like Windows, which refuses a read-write ISO)`, { path: image.path, reason: 'iso-read-write' });
  }
  throw new WorkerError(ErrorCode.UnsupportedImage,
    `${name} cannot be attached read-write here. ${rule.why} Attach it read-only instead.`, { path: image.path, reason: 'differencing-read-write' });
}

/** Problems that only matter for one access mode: a read-write open replays the log first (Windows and qemu). */
const READ_WRITE_OK = new Set(['log-replay-required']);
/** Problems inside the disk's contents, not the image: Windows attaches such a disk (it shows as RAW). */
const CONTENT_ONLY = new Set(['partition-table-invalid']);

/** Which of the format layer's problems stop an attach (mirrors what VirtDisk refuses). */
export function blockingProblems(image: ImageInfo, readOnly: boolean): Problem[] {
  return image.problems.filter((p) => !CONTENT_ONLY.has(p.code) && (readOnly || !READ_WRITE_OK.has(p.code)));
}

/** What "Attach as Raw Disk" may set aside: only the name's promise, never damage or a chain. */
const RAW_OVERRIDES = new Set(['content-does-not-match-extension']);

/** Blocking problems for an attach that may be "as raw" (then the file's name no longer matters). */
export function blockingProblemsFor(image: ImageInfo, readOnly: boolean, asRaw: boolean): Problem[] {
  return blockingProblems(image, readOnly).filter((p) => !asRaw || !RAW_OVERRIDES.has(p.code));
}

/**
 * The smallest attachable disk: one 512-byte sector. A raw image is its file; any other format's file may be far
 * smaller than its disk (a VMDK descriptor is a few hundred bytes of text naming its extents).
 */
export function tooSmall(image: ImageInfo): string | null {
  const size = image.format === 'raw' ? image.fileSize : image.virtualSize;
  return size < 512 ? `${size} bytes is less than one 512-byte sector` : null;
}

/** The image seen as raw bytes ("Attach as Raw Disk"): the whole file, no chain, no format structures. */
export function asRawImage(image: ImageInfo): ImageInfo {
  return {
    ...image, format: 'raw', subtype: null, virtualSize: image.fileSize, blockSize: null, parent: null,
    chain: [{ path: image.path, format: 'raw', subtype: null, id: null }], needsLogReplay: false,
    problems: image.problems.filter((p) => RAW_OVERRIDES.has(p.code)), details: { dataOffset: 0, dataSize: image.fileSize },
  };
}

/** Linux engine of an image the format rules allow (checkAttach first). */
export function linuxEngine(image: Pick<ImageInfo, 'format' | 'subtype'>): 'loop' | 'qemu' | 'vhdimount' | 'vdisk-fuse' {
  const rule = ruleFor(kindOf(image), 'linux');
  if (rule.engine !== 'loop' && rule.engine !== 'qemu' && rule.engine !== 'vhdimount' && rule.engine !== 'vdisk-fuse') throw new Error(`no Linux engine for ${image.format}`);
  return rule.engine;
}

/**
 * Every file an attach opens: the format layer's chain lists each one (src/formats/layers.ts: parents, qcow2 backing
 * and data files, VMDK extents and parents). Written on a read-write attach: the image and the extents and data file
 * it pulls in itself (level 1); parents and backing files are only read.
 */
export function filesOpened(image: ImageInfo, readOnly: boolean): { path: string; write: boolean }[] {
  const out = image.chain.map((c, i) => ({ path: c.path, write: !readOnly && (i === 0 || ((c.level ?? 2) === 1 && (c.role === 'extent' || c.role === 'data-file'))) }));
  if (!out.length) out.push({ path: image.path, write: !readOnly });
  return out.filter((f, i) => out.findIndex((g) => g.path === f.path) === i);
}
