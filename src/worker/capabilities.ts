// What this user can do on this machine, derived from a probed Environment (linux/environment.ts or
// windows/environment.ts) and the kind rules (kind-rules.ts): the server answers vdisk/initialize and
// vdisk/capabilities from capabilities(). Pure; the host only reads the answer.
import { Ability, Capabilities, ElevationOption, Engine, ImageKind, KindCapability, MissingPiece } from '../common/protocol';
import { FS_INFO, INIT_FILE_SYSTEMS, initUnavailable } from '../common/init-spec';
import { IMAGE_KINDS, kindExtensions, ruleFor } from './kind-rules';

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
  const base = { kind, extensions: kindExtensions(kind), browse: env.browse };
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
  if (dynamicReadOnlyOnVdiskFuse(kind, env)) {
    // read-only goes to vdisk's own FUSE server (linux/plan.ts): no tool needed; read-write keeps qemu's needs
    return { ...base, engine: 'vdisk-fuse', readOnly: 'yes', readWrite: rw, missing, ...(rw !== 'yes' ? { readWriteWhy: why } : {}) };
  }
  return {
    ...base, engine, readOnly: access, readWrite: rw, missing,
    ...(access !== 'yes' ? { readOnlyWhy: why } : {}),
    ...(rw !== 'yes' ? { readWriteWhy: rule.readWrite ? why : rule.why } : {}),
  };
}

/** Root on Linux: read-only plain dynamic VHD/VHDX are served by vdisk's own FUSE server (linux/plan.ts). */
function dynamicReadOnlyOnVdiskFuse(kind: ImageKind, env: Environment): boolean {
  return env.platform !== 'win32' && env.privileged && env.loop && env.fuse && (kind === 'vhd-dynamic' || kind === 'vhdx')
    && process.env.VDISK_FUSE_DYNAMIC !== '0';
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
