// The one place that decides what can be attached, read-only or read-write, by which engine, for this user on this
// machine. Pure: the facts about the machine come in as an Environment (probed by linux/environment.ts or
// windows/environment.ts); the server answers vdisk/initialize and vdisk/capabilities from capabilities(), and
// checks every attach with checkAttach() before the backend sees it. The host only reads the answer.
import * as path from 'path';
import {
  Ability, Capabilities, Engine, ErrorCode, ElevationOption, ImageKind, KindCapability, MissingPiece,
} from '../common/protocol';
import type { ImageInfo, Problem } from '../common/image';
import { WorkerError } from './errors';
import { kindOf } from '../common/describe-capabilities';
import { FS_INFO, INIT_FILE_SYSTEMS, initUnavailable } from '../common/init-spec';

export { kindOf };

/** What the probes found. Tools are by command name; `udisks` is null when usable, else why not. */
export interface Environment {
  platform: NodeJS.Platform;
  user: { uid: number | null; name: string };
  privileged: boolean;
  elevated: boolean;
  loop: boolean;
  fuse: boolean;
  tools: Record<string, boolean>;
  udisks: string | null;
  /** /etc/fuse.conf has user_allow_other: a user's FUSE export can be opened by root (udisksd, the loop driver). */
  userAllowOther: boolean;
  /** A polkit authentication agent of this user's session that answers pkexec, by name; null when none runs. */
  polkitAgent: string | null;
  /** Windows: null when VirtDisk.dll loads, else why not. */
  virtdisk: string | null;
  /** Browsing (7-Zip wasm in the worker) is part of this build. */
  browse: boolean;
  notes: string[];
}

type Rule = { engine: Engine; readWrite: true } | { engine: Engine; readWrite: false; why: string } | { engine: null; why: string };

const ISO_RO = 'Disc images can only be attached read-only (Windows refuses a read-write ISO too).';
const DIFF_RO_LINUX = 'Differencing disks can only be attached read-only on Linux: vdisk\'s own FUSE server reads the chain through vdisk\'s '
  + 'block layer, and nothing here writes a differencing disk safely (qemu cannot write differencing VHD/VHDX; libvhdi only reads). '
  + 'Merge or Convert make a standalone image that attaches read-write.';
const NOT_ON_WINDOWS = 'Windows attaches only VHD, VHDX and ISO images. Convert it to VHDX (qemu-img convert -O vhdx) first.';

const KINDS: Record<ImageKind, { extensions: string[]; linux: Rule; win32: Rule }> = {
  'raw': { extensions: ['.img'], linux: { engine: 'loop', readWrite: true }, win32: { engine: null, why: NOT_ON_WINDOWS } },
  'iso': { extensions: ['.iso'], linux: { engine: 'loop', readWrite: false, why: ISO_RO }, win32: { engine: 'virtdisk', readWrite: false, why: ISO_RO } },
  'vhd-fixed': { extensions: ['.vhd'], linux: { engine: 'loop', readWrite: true }, win32: { engine: 'virtdisk', readWrite: true } },
  'vhd-dynamic': { extensions: ['.vhd'], linux: { engine: 'qemu', readWrite: true }, win32: { engine: 'virtdisk', readWrite: true } },
  'vhd-differencing': { extensions: ['.vhd'], linux: { engine: 'vdisk-fuse', readWrite: false, why: DIFF_RO_LINUX }, win32: { engine: 'virtdisk', readWrite: true } },
  'vhdx': { extensions: ['.vhdx'], linux: { engine: 'qemu', readWrite: true }, win32: { engine: 'virtdisk', readWrite: true } },
  'vhdx-differencing': { extensions: ['.vhdx', '.avhdx'], linux: { engine: 'vdisk-fuse', readWrite: false, why: DIFF_RO_LINUX }, win32: { engine: 'virtdisk', readWrite: true } },
  'qcow2': { extensions: ['.qcow2'], linux: { engine: 'qemu', readWrite: true }, win32: { engine: null, why: NOT_ON_WINDOWS } },
  'vmdk': { extensions: ['.vmdk'], linux: { engine: 'qemu', readWrite: true }, win32: { engine: null, why: NOT_ON_WINDOWS } },
  'vdi': { extensions: ['.vdi'], linux: { engine: 'qemu', readWrite: true }, win32: { engine: null, why: NOT_ON_WINDOWS } },
};
export const IMAGE_KINDS = Object.keys(KINDS) as ImageKind[];

const A_KIND: Record<ImageKind, string> = {
  'raw': 'a raw image', 'iso': 'an ISO image', 'vhd-fixed': 'a fixed VHD', 'vhd-dynamic': 'a dynamic VHD', 'vhd-differencing': 'a differencing VHD',
  'vhdx': 'a VHDX', 'vhdx-differencing': 'a differencing VHDX', 'qcow2': 'a qcow2 image', 'vmdk': 'a VMDK', 'vdi': 'a VDI',
};

/** "vdisk needs root to attach a VHDX here": the first words of every not-root refusal (the host adds the ways out). */
export function needsRoot(image: Pick<ImageInfo, 'format' | 'subtype' | 'path'>, why: string): WorkerError {
  return new WorkerError(ErrorCode.PermissionDenied, `vdisk needs root to attach ${A_KIND[kindOf(image)]} here. ${why}`,
    { reason: 'not-root', path: image.path });
}


function ruleFor(kind: ImageKind, platform: NodeJS.Platform): Rule {
  if (platform === 'linux' || platform === 'win32') return KINDS[kind][platform];
  return { engine: null, why: `vdisk attaches disks on Linux and Windows only, not on ${platform}.` };
}

/** Refuses what the format rules forbid on this platform, with the reasons the host and tests know. */
export function checkAttach(image: ImageInfo, readOnly: boolean, platform: NodeJS.Platform): void {
  const rule = ruleFor(kindOf(image), platform);
  const name = path.basename(image.path);
  if (rule.engine === null && platform === 'win32' && image.format === 'raw') {
    throw new WorkerError(ErrorCode.NotSupported,
      `${name} is a raw disk image: Windows attaches only VHD, VHDX and ISO images. Use "Browse Disk Image" to read its files without attaching it, or convert it to VHDX.`,
      { path: image.path, reason: 'raw-not-attachable-on-windows' });
  }
  if (rule.engine === null) {
    const reason = platform === 'win32' ? 'format-not-attachable-on-windows' : 'platform';
    throw new WorkerError(ErrorCode.UnsupportedImage, `${name} is a ${image.format} image: ${rule.why}`, { path: image.path, reason });
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

// ---- capabilities ----------------------------------------------------------------------------

const TOOLS: Record<string, { provider: string }> = {
  'qemu-storage-daemon': { provider: 'qemu-system-common (Debian/Ubuntu)' },
  'vhdimount': { provider: 'libvhdi-utils (Debian/Ubuntu)' },
  'fusermount3': { provider: 'fuse3' },
  'fusermount': { provider: 'fuse3 (or fuse)' },
  'udisksctl': { provider: 'udisks2' },
  'pkexec': { provider: 'pkexec (polkit)' },
  'sudo': { provider: 'sudo' },
};
const MOUNT_TOOLS = [
  { tool: 'fuseiso', provider: 'fuseiso', fileSystem: 'ISO 9660 (when the kernel has no iso9660)' },
  { tool: 'ntfs-3g', provider: 'ntfs-3g', fileSystem: 'NTFS' },
  { tool: 'fusefat', provider: 'fusefat', fileSystem: 'FAT (when the kernel has no vfat)' },
];

function elevationOptions(env: Environment): ElevationOption[] {
  if (env.platform === 'win32') {
    return [{ route: 'uac', available: !env.privileged, detail: env.privileged ? 'already running as administrator' : 'the Windows UAC prompt starts an elevated worker' }];
  }
  if (env.platform !== 'linux') return [];
  if (env.privileged) {
    const why = env.elevated ? 'this worker is already elevated' : 'already running as root';
    return [{ route: 'pkexec', available: false, detail: why }, { route: 'sudo', available: false, detail: why }];
  }
  return [
    { route: 'pkexec', available: env.tools.pkexec && !!env.polkitAgent,
      detail: !env.tools.pkexec ? 'pkexec is not installed (apt-get install pkexec)'
        : env.polkitAgent ? `the polkit agent (${env.polkitAgent}) asks for the password` : 'no polkit authentication agent runs in this session (desktops start one; SSH and WSL do not)' },
    { route: 'sudo', available: env.tools.sudo,
      detail: env.tools.sudo ? 'sudo asks for your password in a terminal (your account needs a sudo rule)' : 'sudo is not installed' },
  ];
}

/**
 * The udisks route for formats served through FUSE (udisks.ts): the user's own qemu-storage-daemon or vhdimount
 * exports the disk in the user's private folder, and udisks' LoopSetup gets the export's fd. Measured (kernel 6.18,
 * udisks 2.9.4): the loop driver reads the export as root, and FUSE refuses root's getattr without allow_other (the
 * loop device comes out 0 bytes); a user may mount with allow_other only when /etc/fuse.conf has user_allow_other.
 */
export const USER_ALLOW_OTHER_HOWTO = 'Without root, vdisk attaches it through udisks2 only if /etc/fuse.conf has the line user_allow_other '
  + '(the loop device reads your own FUSE export as root, which FUSE allows only to an allow_other mount): ask an administrator to add that line, '
  + 'or Retry as Root, or Browse Instead.';

/** The setuid helper a user's FUSE daemon mounts with: libfuse3's (qemu) or libfuse2's (vhdimount). */
const FUSERMOUNT: Partial<Record<Engine, string>> = { qemu: 'fusermount3', vhdimount: 'fusermount' };

/** Why udisks2 cannot take this engine's FUSE export for this user; '' when it can. */
function fuseViaUdisks(env: Environment, engine: Engine = 'qemu'): string {
  if (env.udisks) return `udisks2 cannot be used either (${env.udisks}).`;
  if (!env.userAllowOther) return USER_ALLOW_OTHER_HOWTO;
  const helper = FUSERMOUNT[engine];
  if (helper && !env.tools[helper]) return `${helper} (${TOOLS[helper].provider}) is missing: a user cannot mount the FUSE export without it.`;
  return '';
}

/** Whether udisks2 attaches this engine's images for an unprivileged user (loop: the file; engines: their FUSE export). */
function udisksServes(engine: Engine, env: Environment): boolean {
  if (env.udisks !== null) return false;
  return engine === 'loop' || ((engine === 'qemu' || engine === 'vhdimount') && fuseViaUdisks(env, engine) === '');
}

/** What the engine of a kind needs on Linux besides privileges: missing pieces make it 'no' for everyone. */
function linuxNeeds(engine: Engine, env: Environment): MissingPiece[] {
  const out: MissingPiece[] = [];
  if (!env.loop) out.push({ tool: '/dev/loop-control', provider: 'the loop kernel module (modprobe loop)', for: 'every attach' });
  if (engine === 'qemu' || engine === 'vhdimount' || engine === 'vdisk-fuse') {
    if (!env.fuse) out.push({ tool: '/dev/fuse', provider: 'the fuse kernel module (modprobe fuse)', for: 'engine exports' });
    if (engine === 'vdisk-fuse') return out; // vdisk's own server: part of this build, nothing to install
    const tool = engine === 'qemu' ? 'qemu-storage-daemon' : 'vhdimount';
    if (!env.tools[tool]) out.push({ tool, provider: TOOLS[tool].provider, for: engine === 'qemu' ? 'dynamic VHD, VHDX, qcow2, VMDK, VDI' : 'differencing VHD/AVHDX' });
  }
  return out;
}

function kindCapability(kind: ImageKind, env: Environment, canElevate: boolean): KindCapability {
  const rule = ruleFor(kind, env.platform);
  const base = { kind, extensions: KINDS[kind].extensions, browse: env.browse };
  if (rule.engine === null) return { ...base, readOnly: 'no', readWrite: 'no', engine: null, readOnlyWhy: rule.why, readWriteWhy: rule.why, missing: [] };
  let missing: MissingPiece[] = [];
  let access: Ability = 'yes';
  let why: string | undefined;
  let engine: Engine = rule.engine;
  if (env.platform === 'win32') {
    if (env.virtdisk) { access = 'no'; why = env.virtdisk; missing = [{ tool: 'VirtDisk.dll', provider: 'Windows 7 / Server 2008 R2 or later', for: 'every attach' }]; }
    else if (!env.privileged) { access = canElevate ? 'elevation' : 'no'; why = 'Attaching needs administrator rights.'; }
  } else {
    missing = linuxNeeds(rule.engine, env);
    if (missing.length) { access = 'no'; why = `Missing: ${missing.map((m) => `${m.tool} (${m.provider})`).join(', ')}.`; }
    else if (!env.privileged) {
      // vdisk's own server needs root (mount(2)); a user's differencing VHD goes to their own vhdimount via udisks2
      const unprivileged: Engine = rule.engine === 'vdisk-fuse' && kind === 'vhd-differencing' ? 'vhdimount' : rule.engine;
      const helperMissing = unprivileged === 'vhdimount' && rule.engine !== 'vhdimount' ? linuxNeeds('vhdimount', env) : [];
      if (udisksServes(unprivileged, env) && !helperMissing.length) engine = unprivileged;
      else {
        access = canElevate ? 'elevation' : 'no';
        why = rule.engine === 'loop'
          ? `Not root, and udisks2 cannot attach for this user: ${env.udisks}.`
          : rule.engine === 'vdisk-fuse' && kind !== 'vhd-differencing'
            ? 'Not root: vdisk\'s FUSE server mounts its export with mount(2), and the loop device on it, which only root sets up here. Elevate, or browse the image instead.'
            : `Not root: the ${unprivileged === 'qemu' ? 'qemu-storage-daemon' : 'vhdimount'} export needs a loop device only root sets up here. ${helperMissing.length ? `vhdimount is missing (${TOOLS.vhdimount.provider}).` : fuseViaUdisks(env, unprivileged)}`;
        if (!canElevate) {
          why += ' No elevation route (pkexec with a polkit agent, or sudo) is available.';
          missing = [{ tool: 'sudo', provider: 'sudo, and a sudo rule for this user', for: 'Retry as Root' }];
        }
      }
    }
  }
  const rw: Ability = rule.readWrite ? access : 'no';
  return {
    ...base, engine, readOnly: access, readWrite: rw, missing,
    ...(access !== 'yes' ? { readOnlyWhy: why } : {}),
    ...(rw !== 'yes' ? { readWriteWhy: rule.readWrite ? why : rule.why } : {}),
  };
}

function unprivilegedDetail(env: Environment): string {
  const fuse = fuseViaUdisks(env);
  return 'raw, ISO and fixed VHD images through udisks2 (polkit decides); '
    + (fuse ? `not the formats served through FUSE (${env.udisks || env.userAllowOther ? fuse
      : 'they need the line user_allow_other in /etc/fuse.conf, which an administrator adds; until then Retry as Root or Browse'})`
      : 'dynamic VHD, VHDX, qcow2, VMDK, VDI and differencing VHD through your own qemu-storage-daemon or vhdimount FUSE export (allow_other, in your private folder) handed to udisks2')
    + '; mounts under /media/$USER';
}

export function capabilities(env: Environment): Capabilities {
  const elevation = elevationOptions(env);
  const canElevate = elevation.some((e) => e.available);
  const unprivilegedRoute = env.platform === 'linux' && !env.privileged
    ? { name: 'udisks2', available: env.udisks === null, detail: env.udisks ?? unprivilegedDetail(env) }
    : null;
  return {
    platform: env.platform, user: env.user, privileged: env.privileged, elevated: env.elevated, unprivilegedRoute,
    kinds: IMAGE_KINDS.map((k) => kindCapability(k, env, canElevate)),
    elevation,
    mountTools: env.platform === 'linux' ? MOUNT_TOOLS.map((t) => ({ ...t, present: !!env.tools[t.tool] })) : [],
    notes: env.notes,
    initFileSystems: initFileSystems(env),
  };
}

/** What "New Virtual Disk..." can format here: mkfs on PATH (Linux only). */
export function initFileSystems(env: Pick<Environment, 'platform' | 'tools'>): NonNullable<Capabilities['initFileSystems']> {
  return INIT_FILE_SYSTEMS.map((f) => {
    const why = initUnavailable(env.platform, f, !!env.tools[FS_INFO[f].tool]);
    return { fileSystem: f, tool: FS_INFO[f].tool, provider: FS_INFO[f].provider, available: why === null, ...(why ? { why } : {}) };
  });
}

/** Tools the Linux probe looks for. */
export const PROBED_TOOLS = [...Object.keys(TOOLS), ...MOUNT_TOOLS.map((t) => t.tool), ...INIT_FILE_SYSTEMS.map((f) => FS_INFO[f].tool)];

let browsing = false;
/** Browsing registers itself here when its handlers are part of the worker, so the report never claims it otherwise. */
export function setBrowsingAvailable(v: boolean): void { browsing = v; }
export function browsingAvailable(): boolean { return browsing; }

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
