// Whether the running kernel can mount a file system through a module that is not loaded yet. Modules live where
// the kernel tree keeps the code (fs/isofs for iso9660, fs/fat for vfat and msdos, fs/udf, fs/ntfs3...), so the
// answer comes from modules.dep / modules.builtin by module name, not from a folder named after the file system.
import * as fs from 'fs';
import * as path from 'path';

/** File system type (as mount -t takes it) -> the kernel module that provides it, where the names differ. */
const MODULE_OF: Record<string, string> = { iso9660: 'isofs', msdos: 'msdos', vfat: 'vfat', ntfs: 'ntfs3' };

/** The modules folder of the running kernel, or null without /proc. */
export function currentModulesDir(): string | null {
  try { return `/lib/modules/${fs.readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim()}`; } catch { return null; }
}

const moduleName = (p: string) => path.basename(p).replace(/\.ko(\.(xz|zst|gz))?$/, '').replace(/-/g, '_');

function listed(file: string, mod: string): boolean | null {
  let text: string;
  try { text = fs.readFileSync(file, 'utf8'); } catch { return null; }
  return text.split('\n').some((line) => { const p = line.split(':')[0].trim(); return !!p && moduleName(p) === mod; });
}

function found(dir: string, mod: string, depth = 0): boolean {
  if (depth > 6) return false;
  let entries: fs.Dirent[];
  try { entries = fs.readdirSync(dir, { withFileTypes: true }); } catch { return false; }
  return entries.some((e) => (e.isDirectory() ? found(path.join(dir, e.name), mod, depth + 1) : /\.ko(\.(xz|zst|gz))?$/.test(e.name) && moduleName(e.name) === mod));
}

/**
 * True when `fsType` is built into the kernel (modules.builtin) or available as a module (modules.dep; without it,
 * a `<module>.ko*` file anywhere under kernel/fs).
 */
export function fsModuleAvailable(fsType: string, modulesDir: string | null = currentModulesDir()): boolean {
  if (!modulesDir) return false;
  const mod = (MODULE_OF[fsType] ?? fsType).replace(/-/g, '_');
  if (listed(path.join(modulesDir, 'modules.builtin'), mod)) return true;
  const dep = listed(path.join(modulesDir, 'modules.dep'), mod);
  if (dep !== null) return dep;
  return found(path.join(modulesDir, 'kernel', 'fs'), mod);
}
