// Runs a CommonJS bundle through V8's code cache: the bytecode V8 made for the bundle at an earlier start (stored in
// a folder the extension host names, its global storage) replaces most of the parse and compile of the next start.
// Node 20 has no module.enableCompileCache, hence vm.Script with cachedData. The cache is an optimisation only: a
// missing, stale, corrupt, foreign or unwritable cache never stops the bundle from running, it is compiled from source.
import fs = require('fs');
import path = require('path');
import vm = require('vm');
import crypto = require('crypto');
import Module = require('module');

export type CacheOutcome = 'off' | 'hit' | 'miss' | 'rejected' | 'unsafe';

export interface CodeCacheResult {
  outcome: CacheOutcome;
  /** The bundle's module.exports. */
  exports: unknown;
  /** Writes the cache file for this source when it was not used (call once the start's functions are compiled). */
  save(): void;
}

/** Cache file for one bundle content under one Node (V8 also refuses data from another version or flags). */
export function cacheFileFor(dir: string, source: string): string {
  const hash = crypto.createHash('sha256').update(source).digest('hex').slice(0, 20);
  return path.join(dir, `worker-${hash}-${process.version}-${process.arch}.v8cache`);
}

/**
 * Only a file this user owns and nobody else can write is handed to V8: V8 checks the data against the source's
 * length and its own version, not its content, so a file another user planted could run their code as ours.
 */
function readTrusted(file: string): Buffer | 'absent' | 'unsafe' {
  let fd: number;
  try { fd = fs.openSync(file, fs.constants.O_RDONLY | (fs.constants.O_NOFOLLOW ?? 0)); } catch { return 'absent'; }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) return 'unsafe';
    if (process.platform !== 'win32' && (st.uid !== process.getuid?.() || (st.mode & 0o022) !== 0)) return 'unsafe';
    return fs.readFileSync(fd);
  } catch { return 'absent'; } finally { fs.closeSync(fd); }
}

/**
 * Evaluates `file` (a CommonJS bundle) as Node's loader would, with `dir`'s cache when it holds one for this exact
 * source. `dir` undefined: no cache at all (plain compile).
 */
export function runWithCodeCache(file: string, dir: string | undefined, parent: NodeJS.Module): CodeCacheResult {
  const source = fs.readFileSync(file, 'utf8');
  let cacheFile: string | undefined;
  let cached: Buffer | undefined;
  let outcome: CacheOutcome = 'off';
  if (dir) {
    cacheFile = cacheFileFor(dir, source);
    const r = readTrusted(cacheFile);
    if (r === 'absent') outcome = 'miss';
    else if (r === 'unsafe') outcome = 'unsafe';
    else { cached = r; outcome = 'hit'; }
  }
  const script = new vm.Script(Module.wrap(source), { filename: file, cachedData: cached });
  if (cached && script.cachedDataRejected) outcome = 'rejected';
  const m = new Module(file, parent);
  m.filename = file;
  m.paths = (Module as unknown as { _nodeModulePaths(d: string): string[] })._nodeModulePaths(path.dirname(file));
  const wrapper = script.runInThisContext() as (exports: unknown, require: NodeJS.Require, module: NodeJS.Module, filename: string, dirname: string) => void;
  wrapper.call(m.exports, m.exports, Module.createRequire(file), m, file, path.dirname(file));
  let saved = false;
  return {
    outcome,
    exports: m.exports,
    save: () => {
      if (saved || !cacheFile || (outcome !== 'miss' && outcome !== 'rejected')) return;
      saved = true;
      let data: Buffer;
      try { data = script.createCachedData(); } catch { return; } // an optimisation only: never an error of the worker
      writeCache(cacheFile, data);
    },
  };
}

/** Atomic (a concurrent start reads the old file or the new one, never half of one); failures are ignored. */
function writeCache(file: string, data: Buffer): void {
  const dir = path.dirname(file);
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    fs.writeFileSync(tmp, data, { mode: 0o600 });
    fs.renameSync(tmp, file);
  } catch {
    try { fs.unlinkSync(tmp); } catch { /* never written */ }
    return;
  }
  // caches of earlier bundles or Node versions are dead weight
  try {
    for (const f of fs.readdirSync(dir)) {
      if (/^worker-.*\.v8cache$/.test(f) && f !== path.basename(file)) fs.rmSync(path.join(dir, f), { force: true });
    }
  } catch { /* a listing we cannot make leaves old files behind, harmless */ }
}
