// Runs 7-Zip (WebAssembly) on one volume in a worker_thread under limits: a JS heap cap (resourceLimits), a
// WebAssembly heap cap, a stall timeout (no read, no write for STALL_MS) and an overall timeout for listings.
// A stuck or crashed 7-Zip ends its thread, never the worker. The thread reads the volume through `disk`.
import * as fs from 'fs';
import * as path from 'path';
import { Worker } from 'worker_threads';
import type { BlockReader } from '../../formats/block';
import { BLOCK, CTL, ThreadData, ThreadOp, ThreadVolume, ToMain, WASM, WasmModule } from './thread-protocol';
import type { Listing } from './slt';

export interface Limits { stallMs: number; totalMs: number; memoryCapBytes: number; heapMb: number }
export const DEFAULT_LIMITS: Limits = { stallMs: 30_000, totalMs: 300_000, memoryCapBytes: 1024 * 1024 * 1024, heapMb: 256 };

export interface RunResult { rc: number; errors: string[]; listing?: Listing; files: number; bytes: number; links?: Record<string, string> }
export class SevenZipFailure extends Error {
  constructor(message: string, readonly reason: 'timeout' | 'stalled' | 'memory' | 'crashed' | 'block-read' | 'cancelled') { super(message); }
}

/** The repository root when running from tsc's out/src/worker/browse (tests); dist/ holds the bundles. */
const REPO = path.join(__dirname, '..', '..', '..', '..');
let compiled: Promise<WasmModule> | undefined;
function wasmModule(): Promise<WasmModule> {
  compiled ??= (async () => {
    const next = path.join(__dirname, '7zz.wasm');   // dist/ (the VSIX ships it there)
    const file = fs.existsSync(next) ? next : path.join(REPO, 'node_modules', '7z-wasm', '7zz.wasm');
    return WASM.compile(await fs.promises.readFile(file));
  })();
  return compiled;
}
function threadScript(): string {
  const bundled = path.join(__dirname, 'sevenzip-thread.js');
  return fs.existsSync(bundled) ? bundled : path.join(REPO, 'dist', 'sevenzip-thread.js');
}

/**
 * Tests only (VDISK_TEST_HOLD_EXTRACT=1 in the worker's environment): once an extraction has reported progress, its
 * reads of the volume wait for cancellation. A test can then cancel an extraction that is certainly in progress, on
 * any machine, however fast or slow (test/worker/browse.test.ts). Without a cancel the run ends as stalled.
 */
const HOLD_EXTRACT_AFTER_PROGRESS = process.env.VDISK_TEST_HOLD_EXTRACT === '1';

export interface RunOptions {
  disk: BlockReader;
  volume: ThreadVolume;
  args: string[];
  op: ThreadOp;
  limits?: Partial<Limits>;
  onProgress?: (bytes: number, files: number) => void;
  /** Stream mode: each chunk as 7-Zip writes it. The thread waits once STREAM_WINDOW bytes are unconsumed. */
  onData?: (buf: Uint8Array) => void;
  /** Resolves to cancel (terminates the thread). */
  cancelled?: Promise<void>;
}

/** A handle on a running 7-Zip: `done` settles when it ends; `consumed(n)` lets a streaming thread go on. */
export interface Running { done: Promise<RunResult>; consumed(n: number): void; stop(): void }

export function run7z(o: RunOptions): Running {
  const lim = { ...DEFAULT_LIMITS, ...o.limits };
  const ctl = new SharedArrayBuffer(64);
  const data = new SharedArrayBuffer(BLOCK);
  const i32 = new Int32Array(ctl, 0, 8);
  const f64 = new Float64Array(ctl, 32, 1);
  let worker: Worker | undefined;
  let stopRequested = false;
  const consumed = (n: number) => { Atomics.sub(i32, CTL.pending, n); Atomics.notify(i32, CTL.pending); };
  const done = (async () => {
    const td: Omit<ThreadData, 'module'> = { ctl, data, volume: o.volume, args: o.args, op: o.op, memoryCap: lim.memoryCapBytes };
    const module = await wasmModule();
    if (stopRequested) throw new SevenZipFailure('cancelled', 'cancelled');
    const w = worker = new Worker(threadScript(), {
      workerData: { ...td, module },
      resourceLimits: { maxOldGenerationSizeMb: lim.heapMb, maxYoungGenerationSizeMb: 32 },
      stdout: true, stderr: true,
    });
    w.stdout.resume(); w.stderr.resume();
    return new Promise<RunResult>((resolve, reject) => {
      let last = Date.now();
      const started = last;
      let settled = false;
      let holding = false;
      const end = (e?: Error, r?: RunResult) => {
        if (settled) return;
        settled = true;
        clearInterval(timer);
        // a failed or cancelled run is answered once the thread is gone: it writes into the destination itself, and
        // the caller removes what it wrote, which must not race with a last file being created
        const gone = w.terminate().catch(() => undefined);
        if (e) void gone.then(() => reject(e)); else resolve(r!);
      };
      const timer = setInterval(() => {
        const waitingForUs = Atomics.load(i32, CTL.pending) > 0;
        if (Date.now() - started > lim.totalMs && (o.op.kind === 'list' || o.op.kind === 'links')) {
          end(new SevenZipFailure(`7-Zip did not finish within ${lim.totalMs / 1000} s`, 'timeout'));
        } else if (!waitingForUs && Date.now() - last > lim.stallMs) {
          end(new SevenZipFailure(`7-Zip made no progress for ${lim.stallMs / 1000} s`, 'stalled'));
        }
      }, Math.min(1000, lim.stallMs / 4));
      void o.cancelled?.then(() => end(new SevenZipFailure('cancelled', 'cancelled')));
      w.on('message', (m: ToMain) => {
        last = Date.now();
        if (m.t === 'read') {
          if (holding) return;
          const len = i32[CTL.len];
          o.disk.read(new Uint8Array(data, 0, len), f64[0]).then(
            () => { Atomics.store(i32, CTL.state, 2); Atomics.notify(i32, CTL.state); },
            (e: Error) => {
              Atomics.store(i32, CTL.state, 3); Atomics.notify(i32, CTL.state);
              end(new SevenZipFailure(`block layer: reading ${len} bytes at offset ${f64[0]}: ${e.message}`, 'block-read'));
            });
        } else if (m.t === 'data') o.onData?.(m.buf);
        else if (m.t === 'progress') { holding ||= HOLD_EXTRACT_AFTER_PROGRESS && o.op.kind === 'dest'; o.onProgress?.(m.bytes, m.files); }
        else if (m.t === 'done') end(undefined, m);
      });
      w.on('error', (e: Error & { code?: string }) => end(e.code === 'ERR_WORKER_OUT_OF_MEMORY'
        ? new SevenZipFailure(`7-Zip needed more than ${lim.heapMb} MiB of memory`, 'memory')
        : new SevenZipFailure(`7-Zip failed: ${e.message}`, 'crashed')));
      w.on('exit', (code) => end(new SevenZipFailure(`7-Zip's thread ended (exit code ${code}) before answering`, 'crashed')));
    });
  })();
  return { done, consumed, stop: () => { stopRequested = true; void worker?.terminate(); } };
}
