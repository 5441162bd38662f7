// Real worker processes and CLI runs for tests (dist/ must be built: scripts/test-all.js builds first).
import * as cp from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { WorkerClient, Logger } from '../../src/host/worker-client';

export const ROOT = path.resolve(__dirname, '../../..');
export const WORKER = path.join(ROOT, 'dist/worker.js');
export const CLI = path.join(ROOT, 'dist/cli.js');

export interface CapturedLog extends Logger { lines: string[] }

export function captureLog(): CapturedLog {
  const lines: string[] = [];
  const at = (level: string) => (m: string) => { lines.push(`${level} ${m}`); };
  return { lines, trace: at('trace'), debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

export function newClient(opts: Partial<ConstructorParameters<typeof WorkerClient>[0]> = {}): WorkerClient {
  return new WorkerClient({ workerPath: WORKER, client: 'test', log: captureLog(), shutdownTimeoutMs: 3000, ...opts });
}

export interface CliResult { code: number; stdout: string; stderr: string; json?: unknown }

export function cli(args: string[], env: NodeJS.ProcessEnv = {}): CliResult {
  const r = cp.spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });
  const out: CliResult = { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  if (args.includes('--json') && r.status === 0) { try { out.json = JSON.parse(r.stdout); } catch { /* left undefined */ } }
  return out;
}

export function tmpDir(prefix = 'vdisk-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Loop devices whose backing file lies under `dir` (sysfs), to check that a test leaves none behind. */
export function loopsUnder(dir: string): string[] {
  const real = fs.realpathSync(dir);
  const out: string[] = [];
  for (const n of fs.readdirSync('/sys/block').filter((x) => /^loop\d+$/.test(x))) {
    try {
      const b = fs.readFileSync(`/sys/block/${n}/loop/backing_file`, 'utf8').trim();
      if (b.startsWith(real + '/') || b.startsWith(dir + '/')) out.push(`/dev/${n}`);
    } catch { /* unbound */ }
  }
  return out;
}

/** Detaches whatever a failed test left under `dir` (losetup is fine here: this is clean-up, not the product). */
export function forceDetachUnder(dir: string): void {
  for (const dev of loopsUnder(dir)) cp.spawnSync('losetup', ['-d', dev]);
}

export function sha256(file: string): string {
  const h = crypto.createHash('sha256');
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.alloc(1 << 20);
    let n: number;
    while ((n = fs.readSync(fd, buf, 0, buf.length, null)) > 0) h.update(buf.subarray(0, n));
  } finally { fs.closeSync(fd); }
  return h.digest('hex');
}

export function makeExt4(file: string, sizeMiB = 16, contentDir?: string): void {
  cp.execFileSync('truncate', ['-s', `${sizeMiB}M`, file]);
  cp.execFileSync('mkfs.ext4', ['-q', '-F', ...(contentDir ? ['-d', contentDir] : []), file]);
}

export const isRoot = process.getuid?.() === 0;
