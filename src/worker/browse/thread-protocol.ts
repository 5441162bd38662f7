// What the worker's main thread and a 7-Zip thread (sevenzip-thread.ts) exchange. Reads of the volume go through
// shared memory: the thread sets CTL.state to 1 and waits; the main thread fills `data` and sets it to 2 (3: failed).
import type { Listing } from './slt';

/** The WebAssembly API as far as we use it (the project's lib settings carry no DOM types). */
export interface WasmApi {
  compile(bytes: Uint8Array): Promise<WasmModule>;
  instantiate(m: WasmModule, imports: object): Promise<object>;
}
export type WasmModule = object;
export const WASM = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

export const BLOCK = 1024 * 1024;
/** Indexes into the Int32Array over `ctl`. */
export const CTL = { state: 0, len: 1, /** bytes streamed to the main thread and not yet consumed */ pending: 2 } as const;
/** The thread stops writing while this much streamed data waits for the main thread. */
export const STREAM_WINDOW = 16 * 1024 * 1024;

export type ThreadOp =
  | { kind: 'list' }
  /** Every file 7-Zip writes goes to the main thread as `data` messages (one file: `7z e`). */
  | { kind: 'stream' }
  /** Files go into `dest`: the entry at depth `skip + 1` under 7-Zip's output folder is `dest` itself. */
  | { kind: 'dest'; dest: string; skip: number }
  /**
   * The targets of the links at `paths` (volume paths) whose target 7-Zip's listing does not give (squashfs, HFS+:
   * the link's data is its target). Nothing is written anywhere: 7-Zip's symlink calls and its refusals of links that
   * lead out of the volume (which name the target) are collected. The paths go to 7-Zip in the list file LINKS_LIST.
   */
  | { kind: 'links'; paths: string[] };
export const LINKS_LIST = '/links.lst';

/** Bytes 7-Zip sees in place of the volume's own at `at` (offset in the volume): see iso-view.ts. */
export interface Patch { at: number; bytes: Uint8Array }
/** A volume as 7-Zip reads it (listers.ts sets `patches` on the Volume object, so every run of it sees them). */
export interface ThreadVolume { offset: number; size: number; patches?: Patch[] }

export interface ThreadData {
  module: WasmModule;
  ctl: SharedArrayBuffer;
  data: SharedArrayBuffer;
  volume: ThreadVolume;
  args: string[];
  op: ThreadOp;
  /** Largest WebAssembly heap in bytes. */
  memoryCap: number;
}

export type ToMain =
  | { t: 'read' }
  | { t: 'data'; buf: Uint8Array }
  | { t: 'progress'; bytes: number; files: number }
  | { t: 'done'; rc: number; errors: string[]; listing?: Listing; files: number; bytes: number; links?: Record<string, string> };
