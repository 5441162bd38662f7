// The worker's run folder (registry records, engine scratch folders, default mount root). Never a predictable
// folder in a shared temporary folder: records there decide which daemons we signal and which loop devices we
// detach, so the folder must be private to this user and verified (owner, mode 0700, not a symlink) before use.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export class RunDirError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RunDirError';
  }
}

const uid = () => process.getuid?.() ?? -1;

/**
 * Creates `dir` (mode 0700) if missing, then checks it with lstat: a real folder (no symlink), owned by `owner`,
 * with no group or other permission bits. Throws RunDirError naming what is wrong; never repairs a folder it did
 * not just create.
 */
export function ensurePrivateDir(dir: string, owner = uid()): string {
  try {
    fs.mkdirSync(dir, { mode: 0o700 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new RunDirError(`cannot create ${dir}: ${(e as Error).message}`);
  }
  const problem = privateDirProblem(dir, owner);
  if (problem) throw new RunDirError(`${dir} is not a safe private folder: ${problem}`);
  return dir;
}

/** Why `dir` is not a private folder of `owner` (null when it is). */
export function privateDirProblem(dir: string, owner = uid()): string | null {
  let st: fs.Stats;
  try { st = fs.lstatSync(dir); } catch (e) { return (e as Error).message; }
  if (st.isSymbolicLink()) return 'it is a symbolic link';
  if (!st.isDirectory()) return 'it is not a folder';
  if (st.uid !== owner) return `it is owned by uid ${st.uid}, not ${owner}`;
  if ((st.mode & 0o077) !== 0) return `its mode is ${(st.mode & 0o777).toString(8)}, not 700`;
  return null;
}

/** A file inside a private folder we may trust: a regular file (no symlink) owned by us. */
export function trustedFile(file: string, owner = uid()): boolean {
  try { const st = fs.lstatSync(file); return st.isFile() && st.uid === owner; } catch { return false; }
}

let fallback: string | undefined;

/**
 * Where this worker keeps its state, first that works:
 * `$VDISK_RUN_DIR` (tests, the CLI; verified like the others); root: `/run/vdisk`; others: `$XDG_RUNTIME_DIR/vdisk`
 * when the runtime folder itself is the user's and 0700, `~/.cache/vdisk-run` under a home folder the user owns,
 * else a fresh `mkdtemp` folder (private to this worker: a later worker will not see its records).
 */
export function runDir(env: NodeJS.ProcessEnv = process.env, owner = uid()): string {
  if (env.VDISK_RUN_DIR) return ensurePrivateDir(path.resolve(env.VDISK_RUN_DIR), owner);
  if (owner === 0) return ensurePrivateDir('/run/vdisk', 0);
  const xdg = env.XDG_RUNTIME_DIR;
  if (xdg && path.isAbsolute(xdg) && !privateDirProblem(xdg, owner)) {
    try { return ensurePrivateDir(path.join(xdg, 'vdisk'), owner); } catch { /* next */ }
  }
  const home = env.HOME;
  if (home && path.isAbsolute(home)) {
    try {
      const st = fs.lstatSync(home);
      if (st.isDirectory() && st.uid === owner && (st.mode & 0o022) === 0) {
        const cache = path.join(home, '.cache');
        if (!fs.existsSync(cache)) fs.mkdirSync(cache, { mode: 0o700 });
        const cst = fs.lstatSync(cache);
        if (cst.isDirectory() && cst.uid === owner && (cst.mode & 0o022) === 0) return ensurePrivateDir(path.join(cache, 'vdisk-run'), owner);
      }
    } catch { /* next */ }
  }
  if (!fallback || privateDirProblem(fallback, owner)) fallback = fs.mkdtempSync(path.join(os.tmpdir(), 'vdisk-'));
  return ensurePrivateDir(fallback, owner);
}
