// Where the WSL and Docker Desktop virtual disks are: every distribution registered under
// HKCU\Software\Microsoft\Windows\CurrentVersion\Lxss\{GUID} (DistributionName, BasePath, VhdFileName, Flags),
// and Docker Desktop's disks under %LOCALAPPDATA%\Docker\wsl (data\ext4.vhdx and distro\ext4.vhdx before Docker
// Desktop 4.30, disk\docker_data.vhdx and main\ext4.vhdx since). Inside WSL the registry is read through reg.exe
// when interop allows it, and the usual folders under /mnt/c/Users/*/AppData/Local are searched either way.
import * as fs from 'fs';
import * as path from 'path';

/** `flags`: the registry's Flags; bit 0x8 (LXSS_DISTRO_FLAGS_VM_MODE) marks a WSL 2 distribution, which has a disk. */
export interface LxssEntry { guid: string; name?: string; basePath?: string; vhdFileName?: string; flags?: number }

export interface WslSources {
  where: 'windows' | 'wsl';
  /** Registered distributions, or why the registry could not be read. */
  lxss(): Promise<LxssEntry[] | { error: string }>;
  /** %LOCALAPPDATA% folders as this OS sees them: one on Windows; each user's under /mnt/c in WSL. */
  localAppData(): string[];
  /** A Windows path as this OS sees it (in WSL C:\x is /mnt/c/x); null when it cannot be reached from here. */
  local(winPath: string): string | null;
}

export interface FoundDisk { kind: 'wsl' | 'docker'; name: string; path: string }

const DOCKER = [['data', 'ext4.vhdx', 'Docker Desktop data'], ['distro', 'ext4.vhdx', 'Docker Desktop (docker-desktop)'],
  ['disk', 'docker_data.vhdx', 'Docker Desktop data'], ['main', 'ext4.vhdx', 'Docker Desktop (main)']] as const;

export async function findWslDisks(src: WslSources): Promise<{ disks: FoundDisk[]; notes: string[] }> {
  const disks: FoundDisk[] = [], notes: string[] = [];
  const seen = new Set<string>();
  const add = (d: FoundDisk) => {
    const key = (src.where === 'windows' ? d.path.toLowerCase() : d.path);
    if (seen.has(key) || !isFile(d.path)) return;
    seen.add(key);
    disks.push(d);
  };
  const reg = await src.lxss();
  if ('error' in reg) notes.push(`The WSL registry could not be read (${reg.error}); the usual folders were searched instead.`);
  else {
    for (const e of reg) {
      const name = e.name || e.guid;
      if (e.flags !== undefined && !(e.flags & 0x8)) { notes.push(`${name} is a WSL 1 distribution: it has no virtual disk.`); continue; }
      if (!e.basePath) { notes.push(`${name} has no BasePath in the registry.`); continue; }
      const base = src.local(e.basePath.replace(/^\\\\\?\\/, ''));
      if (!base) { notes.push(`${name}: ${e.basePath} cannot be reached from here.`); continue; }
      const file = path.join(base, e.vhdFileName || 'ext4.vhdx');
      if (!isFile(file)) { notes.push(`${name}: ${file} does not exist (moved, or a WSL 1 distribution).`); continue; }
      add({ kind: /^docker-desktop/i.test(name) ? 'docker' : 'wsl', name, path: file });
    }
  }
  for (const local of src.localAppData()) {
    for (const [dir, file, name] of DOCKER) add({ kind: 'docker', name, path: path.join(local, 'Docker', 'wsl', dir, file) });
    // distributions the registry did not name (or could not be read): Store packages and `wsl --install` folders
    for (const pkg of list(path.join(local, 'Packages'))) add({ kind: 'wsl', name: pkg.replace(/_[a-z0-9]+$/, ''), path: path.join(local, 'Packages', pkg, 'LocalState', 'ext4.vhdx') });
    for (const guid of list(path.join(local, 'wsl'))) add({ kind: 'wsl', name: guid, path: path.join(local, 'wsl', guid, 'ext4.vhdx') });
  }
  return { disks, notes };
}

function isFile(p: string): boolean {
  try { return fs.statSync(p).isFile(); } catch { return false; }
}

function list(dir: string): string[] {
  try { return fs.readdirSync(dir); } catch { return []; }
}

/** Parses `reg query HKCU\...\Lxss /s` output (what reg.exe prints, from Windows or through WSL interop). */
export function parseRegQuery(text: string): LxssEntry[] {
  const out: LxssEntry[] = [];
  let cur: LxssEntry | null = null;
  for (const line of text.split(/\r?\n/)) {
    const key = /^HKEY_[A-Z_]+\\.*\\Lxss\\(\{[0-9a-fA-F-]+\})\s*$/.exec(line.trim());
    if (key) { cur = { guid: key[1] }; out.push(cur); continue; }
    const v = /^\s+(\S+)\s+(REG_SZ|REG_EXPAND_SZ|REG_DWORD)\s+(.*)$/.exec(line);
    if (!v || !cur) continue;
    const value = v[2] === 'REG_DWORD' ? Number(v[3].trim()) : v[3].trim();
    if (v[1] === 'DistributionName') cur.name = String(value);
    else if (v[1] === 'BasePath') cur.basePath = String(value);
    else if (v[1] === 'VhdFileName') cur.vhdFileName = String(value);
    else if (v[1] === 'Flags') cur.flags = Number(value);
  }
  return out;
}
