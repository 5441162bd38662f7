// The worker's private state folder (records, engine scratch folders, default mount root).
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export function runDir(): string {
  const candidates = [process.env.VDISK_RUN_DIR,
    process.getuid?.() === 0 ? '/run/vdisk' : undefined,
    process.env.XDG_RUNTIME_DIR ? path.join(process.env.XDG_RUNTIME_DIR, 'vdisk') : undefined,
    path.join(os.tmpdir(), `vdisk-${process.getuid?.() ?? 'user'}`)];
  for (const c of candidates) {
    if (!c) continue;
    try { fs.mkdirSync(c, { recursive: true, mode: 0o700 }); fs.accessSync(c, fs.constants.W_OK); return c; } catch { /* next */ }
  }
  throw new Error('no writable run directory for vdisk state');
}
