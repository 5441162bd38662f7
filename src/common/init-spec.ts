// Initialising a new disk (issue 13.1): a GPT and, optionally, one partition with a file system made by the
// platform's mkfs. Pure (no I/O): the CLI, the "New Virtual Disk..." quick picks and the worker share these rules.

export type InitFileSystem = 'ext4' | 'ntfs' | 'fat32' | 'exfat';
export const INIT_FILE_SYSTEMS: readonly InitFileSystem[] = ['ext4', 'ntfs', 'fat32', 'exfat'];

export interface InitFileSystemInfo {
  /** The mkfs program, looked up on PATH. */
  tool: string;
  /** The Debian/Ubuntu package that provides it. */
  provider: string;
  /** GPT partition type: Linux filesystem data, or Microsoft basic data. */
  typeGuid: string;
  typeName: string;
  /** The longest label the file system stores (characters). */
  maxLabel: number;
  /** The smallest partition mkfs makes it on, in bytes. */
  minSize: number;
}

const LINUX_DATA = '0fc63daf-8483-4772-8e79-3d69d8477de4';
const MS_BASIC_DATA = 'ebd0a0a2-b9e5-4433-87c0-68b6b72699c7';
const MiB = 2 ** 20;

export const FS_INFO: Record<InitFileSystem, InitFileSystemInfo> = {
  ext4: { tool: 'mkfs.ext4', provider: 'e2fsprogs', typeGuid: LINUX_DATA, typeName: 'Linux filesystem', maxLabel: 16, minSize: 2 * MiB },
  ntfs: { tool: 'mkntfs', provider: 'ntfs-3g', typeGuid: MS_BASIC_DATA, typeName: 'Microsoft basic data', maxLabel: 32, minSize: 2 * MiB },
  // FAT32 needs at least 65,525 clusters: 33 MiB with 512-byte clusters
  fat32: { tool: 'mkfs.vfat', provider: 'dosfstools', typeGuid: MS_BASIC_DATA, typeName: 'Microsoft basic data', maxLabel: 11, minSize: 34 * MiB },
  exfat: { tool: 'mkfs.exfat', provider: 'exfatprogs', typeGuid: MS_BASIC_DATA, typeName: 'Microsoft basic data', maxLabel: 11, minSize: 2 * MiB },
};

export interface InitSpec {
  /** 'gpt': write a GPT (empty unless `fileSystem` is given). */
  init?: 'gpt';
  fileSystem?: InitFileSystem;
  label?: string;
}

/** The partition of an initialised disk: 1 MiB aligned at both ends, inside the GPT's usable range. */
export function partitionRange(diskSize: number, sectorSize: number): { offset: number; size: number } {
  const entriesSectors = Math.ceil((128 * 128) / sectorSize);
  const lastUsable = diskSize / sectorSize - 2 - entriesSectors; // backup entries, then the backup header
  const end = Math.floor(((lastUsable + 1) * sectorSize) / MiB) * MiB;
  return { offset: MiB, size: Math.max(0, end - MiB) };
}

/** The spec with `init` implied by a file system, or an Error naming the first invalid value. */
export function checkInitSpec(s: InitSpec, diskSize: number, sectorSize: number): InitSpec {
  if (s.init === undefined && s.fileSystem === undefined) {
    if (s.label !== undefined) throw new Error('--label names the file system: give --fs too');
    return {};
  }
  if (s.init !== undefined && s.init !== 'gpt') throw new Error(`--init is gpt, not ${s.init}`);
  if (s.fileSystem === undefined) {
    if (s.label !== undefined) throw new Error('--label names the file system: give --fs too');
    return { init: 'gpt' };
  }
  if (!INIT_FILE_SYSTEMS.includes(s.fileSystem)) throw new Error(`--fs is ${INIT_FILE_SYSTEMS.join(', ')}, not ${s.fileSystem}`);
  const info = FS_INFO[s.fileSystem];
  const label = s.label ?? '';
  if ([...label].length > info.maxLabel) throw new Error(`a ${s.fileSystem} label has at most ${info.maxLabel} characters`);
  if (/[\0-\x1f]/.test(label)) throw new Error('the label cannot hold control characters');
  if (s.fileSystem === 'fat32' && /[^\x20-\x7e]|["*+,./:;<=>?[\\\]|]/.test(label)) throw new Error('a FAT label is plain ASCII without " * + , . / : ; < = > ? [ \\ ] |');
  if (s.fileSystem === 'ext4' && Buffer.byteLength(label) > 16) throw new Error('an ext4 label has at most 16 bytes');
  // mkfs.exfat takes the sector size from the device only: on a file it writes 512-byte sectors (BytesPerSectorShift 9)
  if (s.fileSystem === 'exfat' && sectorSize !== 512) throw new Error('exFAT on a 4096-byte-sector disk cannot be made here (mkfs.exfat writes 512-byte sectors into a file); choose 512-byte logical sectors');
  const part = partitionRange(diskSize, sectorSize);
  // FAT32 needs 65,525 clusters of at least one sector each: 34 MiB with 512-byte sectors, 258 MiB with 4096
  const min = s.fileSystem === 'fat32' ? Math.ceil((65525 * sectorSize + 2 * MiB) / MiB) * MiB : info.minSize;
  if (part.size < min) throw new Error(`${s.fileSystem} needs a partition of at least ${min / MiB} MiB; this disk leaves ${part.size / MiB} MiB`);
  return { init: 'gpt', fileSystem: s.fileSystem, ...(s.label !== undefined ? { label: s.label } : {}) };
}

/** Why a file system cannot be made here, or null when it can (its mkfs is on PATH). */
export function initUnavailable(platform: string, fileSystem: InitFileSystem, toolPresent: boolean): string | null {
  const info = FS_INFO[fileSystem];
  if (platform === 'win32') return `making ${fileSystem} needs ${info.tool}, and mkfs does not exist on Windows: create the disk, attach it and format it in Disk Management`;
  if (platform !== 'linux') return `making a file system on a new disk is implemented on Linux only (with ${info.tool})`;
  if (!toolPresent) return `${info.tool} is not installed: install ${info.provider} (apt-get install ${info.provider})`;
  return null;
}
