// Which engine attaches each image kind, and whether read-write, on each platform. The formats behind a kind, its
// extensions and Windows' column derive from the format registry (src/formats/registry.ts: a format whose row names a
// VirtDisk device type attaches on Windows, a read-only medium only read-only); the Linux engines are chosen here.
import * as path from 'path';
import { Engine, ErrorCode, ImageKind } from '../common/protocol';
import type { ImageInfo, ImageSubtype } from '../common/image';
import type { ImageFormat } from '../common/formats';
import { kindOf } from '../common/describe-capabilities';
import { FORMAT_REGISTRY } from '../formats/registry';
import { WorkerError } from './errors';

export type Rule = { engine: Engine; readWrite: true } | { engine: Engine; readWrite: false; why: string } | { engine: null; why: string };

const ISO_RO = 'Disc images can only be attached read-only (Windows refuses a read-write ISO too).';
const DIFF_RO_LINUX = 'Differencing disks can only be attached read-only on Linux: vdisk\'s own FUSE server reads the chain through vdisk\'s '
  + 'block layer, and nothing here writes a differencing disk safely (qemu cannot write differencing VHD/VHDX; libvhdi only reads). '
  + 'Merge or Convert make a standalone image that attaches read-write.';

/** Linux's engine per kind, in the order the capability report lists the kinds. */
const LINUX: Record<ImageKind, Rule> = {
  'raw': { engine: 'loop', readWrite: true },
  'iso': { engine: 'loop', readWrite: false, why: ISO_RO },
  'vhd-fixed': { engine: 'loop', readWrite: true },
  'vhd-dynamic': { engine: 'qemu', readWrite: true },
  'vhd-differencing': { engine: 'vdisk-fuse', readWrite: false, why: DIFF_RO_LINUX },
  'vhdx': { engine: 'qemu', readWrite: true },
  'vhdx-differencing': { engine: 'vdisk-fuse', readWrite: false, why: DIFF_RO_LINUX },
  'qcow2': { engine: 'qemu', readWrite: true },
  'vmdk': { engine: 'qemu', readWrite: true },
  'vdi': { engine: 'qemu', readWrite: true },
};
export const IMAGE_KINDS = Object.keys(LINUX) as ImageKind[];

const SUBTYPES: readonly ImageSubtype[] = [null, 'fixed', 'dynamic', 'differencing'];

/** The (format, subtype) pairs the registry has that are this kind. */
function membersOf(kind: ImageKind): { format: ImageFormat; subtype: ImageSubtype }[] {
  return Object.values(FORMAT_REGISTRY).flatMap((d) => SUBTYPES.filter((subtype) => kindOf({ format: d.id, subtype }) === kind).map((subtype) => ({ format: d.id, subtype })));
}

/** ".vhdx", ".avhdx": its formats' extensions; one only a differencing child carries belongs to the differencing kind only. */
export function kindExtensions(kind: ImageKind): string[] {
  const out = new Set<string>();
  for (const { format, subtype } of membersOf(kind)) {
    const row = FORMAT_REGISTRY[format];
    for (const e of row.extensions) if (subtype === 'differencing' || !row.childExtensions?.includes(e)) out.add(`.${e}`);
  }
  return [...out];
}

const WINDOWS_TYPES = [...new Set(Object.values(FORMAT_REGISTRY).flatMap((d) => (d.virtDisk ? [d.virtDisk.toUpperCase()] : [])))];
/** "Windows attaches only VHD, VHDX and ISO images." */
const WINDOWS_ONLY = `Windows attaches only ${WINDOWS_TYPES.slice(0, -1).join(', ')} and ${WINDOWS_TYPES[WINDOWS_TYPES.length - 1]} images.`;
const NOT_ON_WINDOWS = `${WINDOWS_ONLY} Convert it to VHDX (qemu-img convert -O vhdx) first.`;

function windowsRule(kind: ImageKind): Rule {
  const rows = membersOf(kind).map((m) => FORMAT_REGISTRY[m.format]).filter((d) => d.virtDisk !== null);
  if (!rows.length) return { engine: null, why: NOT_ON_WINDOWS };
  return rows.some((d) => d.readOnlyMedium) ? { engine: 'virtdisk', readWrite: false, why: ISO_RO } : { engine: 'virtdisk', readWrite: true };
}

export function ruleFor(kind: ImageKind, platform: NodeJS.Platform): Rule {
  if (platform === 'linux') return LINUX[kind];
  if (platform === 'win32') return windowsRule(kind);
  return { engine: null, why: `vdisk attaches disks on Linux and Windows only, not on ${platform}.` };
}

/** Why Windows cannot attach this image (a raw one points at "Browse Disk Image"); the format rules and the backend both say it. */
export function notAttachableOnWindows(image: Pick<ImageInfo, 'format' | 'path'>): WorkerError {
  const name = path.basename(image.path);
  if (image.format === 'raw') {
    return new WorkerError(ErrorCode.NotSupported,
      `${name} is a raw disk image: ${WINDOWS_ONLY} Use "Browse Disk Image" to read its files without attaching it, or convert it to VHDX.`,
      { path: image.path, reason: 'raw-not-attachable-on-windows' });
  }
  return new WorkerError(ErrorCode.UnsupportedImage, `${name} is a ${image.format} image: ${NOT_ON_WINDOWS}`,
    { path: image.path, reason: 'format-not-attachable-on-windows' });
}
