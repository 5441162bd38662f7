// Messages between the fuzz runner and its worker threads, and seed loading shared by both sides.
import * as fs from 'fs';
import * as path from 'path';
import type { ProblemCode } from '../../src/formats/problems';
import type { FuzzFormat, SeedEntry } from './corpus';
import type { FailureKind } from './check';
import { layoutOf } from './layouts';
import type { LoadedSeed } from './mutators';

export interface WorkerInput {
  format: FuzzFormat;
  corpusDir: string;
  seeds: SeedEntry[];
  workDir: string;
  seed: number;
  from: number;
  to: number;
  /** Int32 [current case index, cases started]. */
  progress: SharedArrayBuffer;
  /** Check 1 case in N against qemu-img (0: never). */
  qemuEvery: number;
  /** Test hook proving the watchdog: the worker spins forever when it reaches this case index. */
  hangAt?: number;
  /** What each case runs: inspectImage (default) or the block layer (openDisk + reads). */
  target?: FuzzTarget;
}

export type FuzzTarget = 'inspect' | 'block';

export interface FailureMessage {
  type: 'failure';
  format: FuzzFormat;
  oracle?: FuzzTarget;
  index: number;
  target: string;
  replaced: boolean;
  mutations: string[];
  expect: ProblemCode | null;
  kind: FailureKind;
  error: string;
  file: Uint8Array;
  companions: { name: string; bytes: Uint8Array }[];
}

export type WorkerMessage = FailureMessage
  | { type: 'progress'; done: number; failures: number }
  | { type: 'done'; done: number; totalMs: number; maxMs: number; failures: number; opened?: number }
  | { type: 'crash'; error: string };

/** The seeds of `format` (sorted by name, so a case index means the same thing everywhere); `copyTo` gets a private copy. */
export function loadSeeds(corpusDir: string, format: FuzzFormat, entries: SeedEntry[], copyTo: string | null, fresh = false): LoadedSeed[] {
  const src = path.join(corpusDir, format);
  if (copyTo) {
    if (fresh) fs.rmSync(copyTo, { recursive: true, force: true });
    fs.cpSync(src, copyTo, { recursive: true });
  }
  return entries.filter((e) => e.format === format).sort((a, b) => (a.name < b.name ? -1 : 1)).map((entry) => {
    const buf = fs.readFileSync(path.join(src, entry.name));
    return { entry, buf, layout: layoutOf(format, buf, entry.name.startsWith('data-')) };
  });
}
