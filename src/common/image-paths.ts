// Matching an image path from VS Code (Explorer Uri.fsPath: `c:\Users\...`, lower-case drive letter) with one a
// backend reports (VirtDisk: `C:\Users\...`, or `\\?\C:\...`, as whoever attached it typed it). On Windows paths
// compare case-insensitively, after dropping the `\\?\` prefix and normalising separators and the drive letter.
// Pure: no vscode, no I/O (the host adds the on-disk spelling, see extension.ts).

export type Platform = NodeJS.Platform;

/** The Windows spelling with `\\?\` dropped, `/` as `\`, an upper-case drive letter and no trailing separator. */
export function normaliseWindowsPath(p: string): string {
  let s = p.replace(/\//g, '\\');
  if (/^\\\\\?\\UNC\\/i.test(s)) s = `\\\\${s.slice(8)}`;
  else if (/^\\\\[?.]\\[a-z]:/i.test(s)) s = s.slice(4);
  s = s.replace(/^([a-z]):/i, (_m, d: string) => `${d.toUpperCase()}:`);
  if (s.length > 3 && s.endsWith('\\')) s = s.slice(0, -1);
  return s;
}

/** A key two spellings of the same image share: exact on Linux and macOS, case-folded on Windows. */
export function imagePathKey(p: string, platform: Platform = process.platform): string {
  return platform === 'win32' ? normaliseWindowsPath(p).toLowerCase() : p;
}

export function sameImagePath(a: string | null | undefined, b: string | null | undefined, platform: Platform = process.platform): boolean {
  return !!a && !!b && imagePathKey(a, platform) === imagePathKey(b, platform);
}

/**
 * The spellings a `resourcePath in vdisk.attachedImages` when-clause must find: a context key is matched exactly,
 * so on Windows each image is listed as reported, normalised, and with the lower-case drive letter Uri.fsPath uses.
 * `onDisk` adds the file's real spelling (fs.realpathSync.native in the host), for Explorer entries whose case
 * differs from the attaching tool's.
 */
export function whenClauseSpellings(p: string, platform: Platform = process.platform, onDisk?: string): string[] {
  if (platform !== 'win32') return [p];
  const out = new Set<string>([p]);
  for (const s of [p, onDisk]) {
    if (!s) continue;
    const n = normaliseWindowsPath(s);
    out.add(n);
    out.add(n.replace(/^([A-Z]):/, (_m, d: string) => `${d.toLowerCase()}:`));
  }
  return [...out];
}
