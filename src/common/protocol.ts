// The host <-> worker protocol: every request, notification, error code and shared type that
// crosses the process boundary. No `vscode`, no `koffi` here: the host, the worker and the CLI
// all import this file. Documented in docs/protocol.md; bump PROTOCOL_VERSION on any breaking change.
import { NotificationType, RequestType, RequestType0 } from 'vscode-jsonrpc';
import type { ImageInfo, ChainLink, Problem } from './image';
import type { ErrorReason } from './error-reasons';
import type { CreateSpec } from './create-spec';
import type { InitFileSystem, InitSpec } from './init-spec';

export const PROTOCOL_VERSION = 1;

export type Lifetime = 'session' | 'permanent';
/** How the worker turned the image into a block device. */
export type Engine = 'loop' | 'qemu' | 'vhdimount' | 'virtdisk' | 'external' | 'vdisk-fuse';

export interface AttachedDisk {
  /** Block device: `/dev/loop3` on Linux, `\\.\PhysicalDrive2` / `\\.\CdRom1` on Windows. */
  device: string;
  /** Absolute path of the image file, or null when the backing file is unknown or deleted. */
  image: string | null;
  readOnly: boolean;
  engine: Engine;
  lifetime: Lifetime;
  /** True when this worker (or an earlier one of ours) attached it; false for other tools' disks. */
  ours: boolean;
  sizeBytes?: number;
  /** Volumes (partitions / file systems) found on the disk, with mount points. */
  volumes?: VolumeInfo[];
  /** The image's dependency chain, self first, when the worker could read it. */
  chain?: ChainLink[];
  /** Problems the format layer finds in the image or its chain now (a parent moved away after attach, ...). */
  problems?: Problem[];
}

export interface VolumeInfo {
  device: string;
  /** Byte offset and size inside the disk. */
  offset: number;
  size: number;
  fsType: string | null;
  label: string | null;
  mountPoint: string | null;
  readOnly: boolean;
}

export interface DependencyEntry {
  dependencyDevice: string;
  hostVolume: string | null;
  dependentVolume: string | null;
  dependentVolumeRelativePath: string;
  ancestorLevel: number;
  storageType: { device: 'iso' | 'vhd' | 'vhdx' | 'vhdset' | 'qcow2' | 'vmdk' | 'vdi' | 'raw' | 'unknown'; vendor: string };
  flags: DependencyFlag[];
}
export type DependencyFlag = 'read-only' | 'parent' | 'permanent-lifetime' | 'fully-allocated' | 'no-host-disk' | 'removable'
  | 'no-drive-letter' | 'system-volume' | 'remote' | 'mult-backing-files';

// ---- requests ----------------------------------------------------------------------------

/** User settings the worker needs; sent at initialize and again whenever they change. */
export interface WorkerSettings {
  /** Absolute path or command name of qemu-storage-daemon. */
  qemuStorageDaemon?: string;
  /** Absolute path or command name of libvhdi's vhdimount. */
  vhdimount?: string;
  /** Folder under which volumes are mounted (one subfolder per disk). */
  mountRoot?: string;
}

export interface InitializeParams {
  protocolVersion: number;
  client: string;
  settings?: WorkerSettings;
  /** Poll for disks attached or detached by other tools and send DisksChanged('external'). */
  watch?: boolean;
}
export interface InitializeResult {
  protocolVersion: number;
  pid: number;
  platform: NodeJS.Platform;
  backend: 'linux' | 'windows' | 'unsupported';
  /** Human-readable reason when some operations cannot work here (e.g. not root). */
  limitations: string[];
  /** What this user can do here (the same answer as vdisk/capabilities). */
  capabilities?: Capabilities;
}
export const Initialize = new RequestType<InitializeParams, InitializeResult, void>('vdisk/initialize');

export const Configure = new RequestType<WorkerSettings, void, void>('vdisk/configure');

export interface AttachParams {
  path: string;
  readOnly: boolean;
  lifetime: Lifetime;
  /** Folders where a missing parent may be found by its file name ("Attach Parent Folder..."); identity is checked. */
  searchFolders?: string[];
  /** "Attach as Raw Disk": expose the file's bytes as they are, even when its name promises another format. */
  asRaw?: boolean;
  /**
   * Images the host still uses (Recent Images): a read-write attach of one of their parents is refused, since a
   * write to a parent corrupts every child made from it. Attached disks' chains are checked by the worker itself.
   */
  protectChainsOf?: string[];
}
export const Attach = new RequestType<AttachParams, AttachedDisk, void>('vdisk/attach');

/** `target` is a device path or an image path. */
export interface DetachParams { target: string }
export interface DetachResult { device: string; image: string | null }
export const Detach = new RequestType<DetachParams, DetachResult, void>('vdisk/detach');

export const List = new RequestType0<AttachedDisk[], void>('vdisk/list');

export interface PathParams { path: string; searchFolders?: string[] }
export const Inspect = new RequestType<PathParams, ImageInfo, void>('vdisk/inspect');

export interface CreateDiffParams { parent: string; child: string }  // refused while the parent is attached read-write
export interface CreateDiffResult { child: string; format: 'vhd' | 'vhdx' }
export const CreateDiff = new RequestType<CreateDiffParams, CreateDiffResult, void>('vdisk/createDiff');

/** `target` is a device, a mount point or any path. */
export interface DepsParams { target: string }
export const Deps = new RequestType<DepsParams, DependencyEntry[], void>('vdisk/deps');

export interface MountParams { device: string }
export const Mount = new RequestType<MountParams, VolumeInfo[], void>('vdisk/mount');
export const Unmount = new RequestType<MountParams, VolumeInfo[], void>('vdisk/unmount');

/** Test hook: a request that takes `ms` and honours cancellation. Used to prove cancellation reaches the worker. */
export interface SleepParams { ms: number }
export const Sleep = new RequestType<SleepParams, { slept: number; cancelled: boolean }, void>('vdisk/sleep');

/** Windows: start an elevated worker (UAC prompt) that connects to the client's pipe with the secret. */
export interface ElevateParams { pipe: string; secretFile: string }
export const Elevate = new RequestType<ElevateParams, { pid: number }, void>('vdisk/elevate');

export const Shutdown = new RequestType0<void, void>('vdisk/shutdown');

// ---- notifications (worker -> host) -----------------------------------------------------------

export interface DisksChangedParams { reason: 'attach' | 'detach' | 'mount' | 'unmount' | 'external' }
export const DisksChanged = new NotificationType<DisksChangedParams>('vdisk/disksChanged');
/** The worker logs to stderr, one line each: `[level] message`. The host forwards them to its log. */
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error';

// ---- errors ---------------------------------------------------------------------------------

/** Application error codes carried in ResponseError.code (JSON-RPC reserves -32768..-32000). */
export enum ErrorCode {
  /** The image file does not exist or cannot be read. */
  NotFound = 1001,
  /** The file is not a disk image this platform can attach, or its format forbids the request. */
  UnsupportedImage = 1002,
  /** The image or its chain has a named problem (data.problems). */
  ImageProblem = 1003,
  /** The OS refused: not root / not elevated / no permission. */
  PermissionDenied = 1004,
  /** The image or device is in use (already attached read-write, mounted, ...). */
  Busy = 1005,
  /** A tool or kernel feature this needs is missing (data.missing names it). */
  MissingDependency = 1006,
  /** Nothing attached matches the target. */
  NotAttached = 1007,
  /** This platform's backend cannot do this at all. */
  NotSupported = 1008,
  /** The request was cancelled. */
  Cancelled = 1009,
  /** Protocol versions differ. */
  VersionMismatch = 1010,
  /** Bad parameters. */
  InvalidParams = 1011,
  /** An OS call failed in a way none of the above names (data.errno / data.win32). */
  OsError = 1012,
  /** The worker went away while the request was pending (produced by the host, never sent). */
  WorkerDied = 1100,
}

export interface ErrorData {
  /** Machine-readable detail, e.g. 'not-root', 'iso-read-write', 'footer-checksum' (every one: error-reasons.ts). */
  reason?: ErrorReason;
  /** Named problems from the format layer. */
  problems?: Problem[];
  /** What to install or enable. */
  missing?: string;
  errno?: number;
  win32?: number;
  path?: string;
}

export function isErrorCode(v: unknown): v is ErrorCode {
  return typeof v === 'number' && v in ErrorCode;
}

// ---- capabilities (issue 11): what this user can do on this machine, decided by the worker's policy ----------

/** Image kinds the policy decides for: a format, split where the subtype changes what can be done. */
export type ImageKind = 'raw' | 'iso' | 'vhd-fixed' | 'vhd-dynamic' | 'vhd-differencing' | 'vhdx' | 'vhdx-differencing' | 'qcow2' | 'vmdk' | 'vdi';
/** yes: this worker can; elevation: an elevated worker could (a route in `elevation` is available); no: not here. */
export type Ability = 'yes' | 'elevation' | 'no';
export type ElevationRoute = 'pkexec' | 'sudo' | 'uac';

/** A tool (or Windows feature) that is absent, and what provides it. */
export interface MissingPiece { tool: string; provider: string; for: string }

export interface KindCapability {
  kind: ImageKind;
  /** Lower-case file extensions with the dot, e.g. `.vhdx`. */
  extensions: string[];
  readOnly: Ability;
  readWrite: Ability;
  /** The engine used (by this worker, or by an elevated one when the answer is 'elevation'); null when none can. */
  engine: Engine | null;
  /** Why read-only / read-write is not 'yes' (one sentence each), when it is not. */
  readOnlyWhy?: string;
  readWriteWhy?: string;
  /** Tools that would make more of this work. */
  missing: MissingPiece[];
  /** Browsing the files inside without attaching (7-Zip wasm in the worker): needs only read access to the file. */
  browse: boolean;
}

export interface ElevationOption {
  route: ElevationRoute;
  available: boolean;
  /** How it asks (a polkit agent's dialog, a password in a terminal, the UAC prompt) or why it cannot. */
  detail: string;
}

export interface Capabilities {
  platform: NodeJS.Platform;
  /** The user the worker acts for (the one who started it, also when it runs elevated). */
  user: { uid: number | null; name: string };
  /** Root / administrator right now. */
  privileged: boolean;
  /** This worker is an elevated one started by "Retry as Root" / "Retry as Administrator" / --elevate. */
  elevated: boolean;
  /** How an unprivileged worker attaches without elevation (Linux: udisks2), or why it cannot. */
  unprivilegedRoute: { name: string; available: boolean; detail: string } | null;
  kinds: KindCapability[];
  elevation: ElevationOption[];
  /** File-system tools used when mounting volumes (fuseiso, ntfs-3g, ...). */
  mountTools: { tool: string; provider: string; fileSystem: string; present: boolean }[];
  /** Facts behind the answers, for the report ("udisks2: systemd-udevd is not running", ...). */
  notes: string[];
  /** File systems a new disk can be initialised with here (mkfs on PATH), and why not for the others. */
  initFileSystems?: { fileSystem: InitFileSystem; tool: string; provider: string; available: boolean; why?: string }[];
}
export const GetCapabilities = new RequestType0<Capabilities, void>('vdisk/capabilities');

// ---- managing images (issue 13) ----------------------------------

/** Long write operations name a `progressToken`; the worker then sends `vdisk/progress` with it. */
export interface ProgressParams { token: string; done: number; total: number }
export const ProgressNotification = new NotificationType<ProgressParams>('vdisk/progress');

export interface CreateImageParams extends CreateSpec, InitSpec {
  progressToken?: string;
}
export interface CreateImageResult {
  path: string; format: 'vhd' | 'vhdx'; type: 'fixed' | 'dynamic'; size: number; blockSize: number | null;
  logicalSectorSize: number; physicalSectorSize: number; id: string;
  /** Present when the disk was initialised: a GPT, and the partition with its file system (null: an empty GPT). */
  init?: { table: 'gpt'; partition: { offset: number; size: number; fileSystem: InitFileSystem; label: string; writtenBytes: number } | null };
}
export const CreateImage = new RequestType<CreateImageParams, CreateImageResult, void>('vdisk/create');

export interface SetParentParams { child: string; parent: string; ignoreIdMismatch?: boolean }
export interface SetParentResult {
  child: string; parent: string; format: 'vhd' | 'vhdx';
  /** The locators written (relative, absolute). */
  locators: { relative?: string; absolute?: string };
  /** True when the child now names the new parent's identity (only with ignoreIdMismatch). */
  idRewritten: boolean;
}
export const SetParent = new RequestType<SetParentParams, SetParentResult, void>('vdisk/setParent');
export interface ConvertParams {
  source: string; dest: string; format: 'vhd' | 'vhdx' | 'raw'; type?: 'fixed' | 'dynamic'; force?: boolean; progressToken?: string;
}
export interface ConvertResult { dest: string; format: 'vhd' | 'vhdx' | 'raw'; type: 'fixed' | 'dynamic'; virtualSize: number; fileSize: number; dataBytes: number }
export const Convert = new RequestType<ConvertParams, ConvertResult, void>('vdisk/convert');

export interface MergeParams {
  child: string;
  /** An ancestor further up the chain (default: the parent); the layers between are merged too. */
  into?: string;
  keepChild?: boolean;
  /** Merge even though other images (same folders, `otherImages`) use the ancestor. */
  force?: boolean;
  /** More images the user has (Recent Images) to check for dependents. */
  otherImages?: string[];
  progressToken?: string;
}
export interface MergeResult { target: string; merged: string[]; removed: string[]; bytes: number }
export const Merge = new RequestType<MergeParams, MergeResult, void>('vdisk/merge');

export interface CompactParams { path: string; zeroOnly?: boolean; progressToken?: string }
export interface CompactResult {
  image: string; before: number; after: number;
  /** Bytes of data blocks kept (null for qcow2, compacted by qemu-img). */
  dataBytes: number | null;
  /** Blocks released because a file system marks them free (beyond those of zeros). */
  freedByFileSystem: number;
  fileSystems: { type: 'ext4' | 'ntfs'; offset: number; freeBytes: number }[];
}
export const Compact = new RequestType<CompactParams, CompactResult, void>('vdisk/compact');

export interface ResizeParams {
  path: string;
  /** The new virtual size in bytes (ignored with `smallest`). */
  size?: number;
  /** Shrink to the smallest size that keeps every partition (and a backup GPT) and every non-zero byte. */
  smallest?: boolean;
  /** Compute the result (and with `smallest`, that size) without writing. */
  dryRun?: boolean;
  /** Resize even though other images (same folder, `otherImages`) have this one in their chain. */
  force?: boolean;
  /** More images the user has (Recent Images) to check for children. */
  otherImages?: string[];
  progressToken?: string;
}
export interface ResizeResult {
  image: string; format: 'raw' | 'vhd' | 'vhdx' | 'qcow2';
  /** Virtual sizes before and after (after = the computed size on a dry run). */
  before: number; after: number;
  fileBefore: number; fileAfter: number;
  partitionTable: 'gpt' | 'mbr' | null;
  /** The smallest safe size, when asked for. */
  minimumSize: number | null;
  /** True when the backup GPT was moved to the new end (and the primary header updated). */
  gptBackupMoved: boolean;
  notes: string[];
  dryRun: boolean;
}
export const Resize = new RequestType<ResizeParams, ResizeResult, void>('vdisk/resize');

// ---- browsing an image's files without attaching (7-Zip in WebAssembly, in the worker) ------------------------

export type BrowseEntryType = 'file' | 'directory' | 'symlink';
export interface BrowseEntry {
  /** Path inside the image, `/`-separated, starting with `/` (the root is `/`). */
  path: string;
  name: string;
  type: BrowseEntryType;
  size: number;
  /** Milliseconds since the epoch; 0 when the file system records none. */
  mtime: number;
  /** For a symlink: its target text, and what it points to when that resolves inside the same volume. */
  target?: string;
  targetType?: 'file' | 'directory';
  /** For a folder: damaged entries its listing skipped, one line each (the rest of the folder is listed). */
  problems?: string[];
}
export interface BrowsePathParams { image: string; path: string; searchFolders?: string[] }
export interface BrowseListParams extends BrowsePathParams { recursive?: boolean }
/** Children of a directory (the whole subtree with `recursive`), sorted by path. */
export const BrowseList = new RequestType<BrowseListParams, BrowseEntry[], void>('vdisk/browse/list');
export const BrowseStat = new RequestType<BrowsePathParams, BrowseEntry, void>('vdisk/browse/stat');
export interface BrowseReadParams extends BrowsePathParams { offset: number; length: number }
/** Up to `length` (at most BROWSE_READ_CHUNK) bytes of a file at `offset`, base64; sequential reads stream. */
export interface BrowseReadResult { data: string; size: number; eof: boolean }
export const BrowseRead = new RequestType<BrowseReadParams, BrowseReadResult, void>('vdisk/browse/read');
export const BROWSE_READ_CHUNK = 8 * 1024 * 1024;
/** readFile through the FileSystemProvider refuses files larger than this (Extract streams them instead). */
export const BROWSE_READFILE_LIMIT = 256 * 1024 * 1024;
export interface BrowseExtractParams extends BrowsePathParams {
  /** The file or folder to create; it must not exist (the client asks before choosing another name). */
  dest: string;
  /** Echoed in vdisk/browse/progress notifications. */
  progressId?: string;
}
export interface BrowseExtractResult {
  dest: string; files: number; bytes: number;
  /** Damaged entries of the extracted folders that were skipped (`<path inside the image>: <what>`). */
  problems?: string[];
}
export const BrowseExtract = new RequestType<BrowseExtractParams, BrowseExtractResult, void>('vdisk/browse/extract');
export interface BrowseProgressParams { progressId: string; bytes: number; total: number }
export const BrowseProgress = new NotificationType<BrowseProgressParams>('vdisk/browse/progress');

// WSL and Docker Desktop disks (issue 13 item 5): the ext4.vhdx of each WSL distribution and Docker Desktop's disks.
export interface WslDisk {
  kind: 'wsl' | 'docker';
  /** Distribution name (or its registry GUID when unnamed); Docker Desktop's disk role. */
  name: string;
  /** The disk as this machine sees it (in WSL: under /mnt/c/...). */
  path: string;
  /** Bytes the file takes (its size), virtual disk size, and bytes the ext4 file systems inside use (null: not read). */
  fileBytes: number;
  virtualSize: number | null;
  dataBytes: number | null;
  /** Why dataBytes is null (busy, not ext4, not clean, unreadable). */
  note?: string;
  /** True when it cannot be compacted now: attached (vdisk or the WSL VM), or from inside WSL; `inUseReason` says why. */
  inUse: boolean;
  inUseReason?: string;
}
export interface WslDisksResult {
  /** Where the search ran: Windows (registry + %LOCALAPPDATA%), inside WSL (/mnt/c), or neither (nothing to find). */
  where: 'windows' | 'wsl' | 'none';
  disks: WslDisk[];
  /** What could not be searched, and the steps before compacting (`wsl --shutdown`). */
  notes: string[];
}
/** `checkAttached: false` skips the attached-disk listing; a note says so (as it does when the listing fails). */
export interface WslDisksParams { checkAttached?: boolean }
export const WslDisks = new RequestType<WslDisksParams, WslDisksResult, void>('vdisk/wslDisks');
