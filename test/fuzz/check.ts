// The oracle run on every fuzz case: inspectImage must return (FormatError is not expected either: the file is
// readable), within 1 s, without a large allocation or an unbounded amount of reading, with every failure a named
// problem, and a parent link that is either resolved (and shown) or explained by a problem.
import * as cp from 'child_process';
import * as fs from 'fs';
import type { ImageInfo } from '../../src/common/image';
import { inspectImage, FormatError, PROBLEM_CODES } from '../../src/formats';
import type { ProblemCode } from '../../src/formats/problems';
import { observeReads } from '../../src/formats/reader';
import { openDisk } from '../../src/formats/open-disk';
import type { BlockReader } from '../../src/formats/block';

export const CASE_LIMIT_MS = 1000;
export const MAX_ALLOCATION = 64 * 1024 * 1024;
export const MAX_READ_BYTES_PER_CASE = 64 * 1024 * 1024;

export type FailureKind = 'exception' | 'format-error' | 'unnamed-failure' | 'bad-result' | 'silent-parent' | 'missing-expected'
  | 'slow' | 'allocation' | 'reads' | 'hang' | 'qemu-refuses' | 'qemu-differs';
export interface CaseFailure { kind: FailureKind; error: string }

let bigAllocation: string | null = null;
let guardDepth = 0;
const B = Buffer as unknown as Record<'alloc' | 'allocUnsafe' | 'allocUnsafeSlow', (size: number, ...rest: unknown[]) => Buffer>;
const originals = { alloc: B.alloc, allocUnsafe: B.allocUnsafe, allocUnsafeSlow: B.allocUnsafeSlow };

/** Any single Buffer allocation above MAX_ALLOCATION fails (and is recorded) while the guard is on. */
export function installAllocationGuard(): () => void {
  if (guardDepth++ === 0) {
    for (const k of Object.keys(originals) as (keyof typeof originals)[]) {
      const orig = originals[k];
      B[k] = function guarded(size: number, ...rest: unknown[]): Buffer {
        if (typeof size === 'number' && size > MAX_ALLOCATION) {
          bigAllocation ??= `Buffer.${k}(${size})\n${new Error().stack?.split('\n').slice(2, 7).join('\n')}`;
          throw new RangeError(`fuzz guard: Buffer.${k}(${size}) exceeds ${MAX_ALLOCATION}`);
        }
        return orig.call(Buffer, size, ...rest);
      };
    }
  }
  return () => { if (--guardDepth === 0) Object.assign(B, originals); };
}

function problemsOk(info: ImageInfo): CaseFailure | null {
  for (const p of info.problems) {
    if (!(p.code in PROBLEM_CODES) || typeof p.message !== 'string') return { kind: 'bad-result', error: `unknown problem code ${JSON.stringify(p)}` };
    // the catch-all in parseWith: a parser threw instead of naming the damage
    if (/cannot parse/.test(p.message)) return { kind: 'unnamed-failure', error: p.message };
  }
  return null;
}

function resultOk(file: string, info: ImageInfo, expect: ProblemCode | null): CaseFailure | null {
  const bad = (error: string): CaseFailure => ({ kind: 'bad-result', error });
  try {
    JSON.parse(JSON.stringify(info));
  } catch (e) {
    return bad(`result is not JSON (${(e as Error).message}): it cannot cross the worker protocol`);
  }
  if (info.path !== file || info.chain[0]?.path !== file) return bad(`path/chain[0] is not the inspected file`);
  if (!Number.isSafeInteger(info.virtualSize) || info.virtualSize < 0) return bad(`virtualSize ${info.virtualSize}`);
  const named = problemsOk(info);
  if (named) return named;
  if (info.parent) {
    const resolved = info.chain[1]?.path ?? null;
    if (info.parent.resolvedPath !== resolved) return bad(`parent.resolvedPath ${info.parent.resolvedPath} but chain[1] ${resolved}`);
  }
  // a differencing disk whose parent was not reached must say why
  const diff = info.subtype === 'differencing' && (info.format === 'vhd' || info.format === 'vhdx');
  if (diff && info.chain.length === 1 && info.problems.length === 0) return { kind: 'silent-parent', error: 'differencing disk, no parent reached, no problem reported' };
  if (diff && !info.parent && info.problems.length === 0) return { kind: 'silent-parent', error: 'differencing disk without a parent reference and no problem' };
  if (expect && !info.problems.some((p) => p.code === expect)) {
    return { kind: 'missing-expected', error: `expected ${expect}, got ${JSON.stringify(info.problems.map((p) => p.code))}` };
  }
  return null;
}

export interface CaseRun { failure: CaseFailure | null; ms: number; info: ImageInfo | null; /** block target: the disk opened and was read */ opened?: boolean }

/** Runs inspectImage on `file` under the guards; the caller installs the allocation guard once. */
export async function checkFile(file: string, expect: ProblemCode | null = null, differential = false): Promise<CaseRun> {
  let readBytes = 0;
  bigAllocation = null;
  const stop = observeReads((_p, _o, n) => { readBytes += n; });
  const t0 = performance.now();
  let info: ImageInfo | null = null;
  let failure: CaseFailure | null = null;
  try {
    info = await inspectImage(file);
  } catch (e) {
    const err = e as Error;
    failure = e instanceof FormatError
      ? { kind: 'format-error', error: `FormatError ${e.code} for a readable file: ${e.message}` }
      : { kind: 'exception', error: `${err?.name}: ${err?.message}\n${err?.stack?.split('\n').slice(1, 8).join('\n')}` };
  } finally {
    stop();
  }
  const ms = performance.now() - t0;
  if (bigAllocation) failure = { kind: 'allocation', error: bigAllocation };
  else if (readBytes > MAX_READ_BYTES_PER_CASE) failure = { kind: 'reads', error: `${readBytes} bytes read` };
  else if (!failure && info) failure = resultOk(file, info, expect);
  if (!failure && ms > CASE_LIMIT_MS) failure = { kind: 'slow', error: `${ms.toFixed(0)} ms` };
  if (!failure && info && differential) failure = qemuRefusal(file, info);
  return { failure, ms, info };
}

/** qemu's driver for each format it can open. */
const QEMU_DRIVER: Partial<Record<string, string>> = { vhd: 'vpc', vhdx: 'vhdx', qcow2: 'qcow2', vmdk: 'vmdk', vdi: 'vdi' };

/**
 * qemu-img refusals of images vdisk reports clean that are known, deliberate differences: per format, the message
 * qemu prints, when it applies, and why. Nothing else is forgiven (no blanket errno texts, no empty output).
 */
interface KnownDifference { format: string; message: RegExp; applies?: (info: ImageInfo) => boolean; reason: string }
export const KNOWN_DIFFERENCES: KnownDifference[] = [
  { format: 'qcow2', message: /^$/, applies: (i) => i.details?.encrypted === true,
    reason: 'an encrypted qcow2 (LUKS) cannot be opened without its key; qemu-img exits silently' },
  { format: 'qcow2', message: /Too much extra metadata in snapshot table entry/,
    reason: 'snapshot table entries are not walked (vdisk attaches the active layer only)' },
];

export function knownDifference(info: ImageInfo, message: string): KnownDifference | undefined {
  return KNOWN_DIFFERENCES.find((k) => k.format === info.format && k.message.test(message) && (k.applies?.(info) ?? true));
}

/**
 * Differential oracle, sampled (it spawns qemu-img): an image vdisk reports clean that qemu-img refuses to open is
 * an unnamed failure, unless the refusal is a documented difference (KNOWN_DIFFERENCES, or a VHDX whose first region
 * table is damaged, which Windows tolerates and qemu does not).
 */
export function qemuRefusal(file: string, info: ImageInfo): CaseFailure | null {
  const driver = QEMU_DRIVER[info.format];
  if (!driver || info.problems.length || info.subtype === 'differencing' || info.details?.regionTableWarning) return null;
  const q = cp.spawnSync('qemu-img', ['info', '--output=json', '-f', driver, file], { encoding: 'utf8', timeout: 10000 });
  if (q.error) throw new Error(`qemu-img cannot run: ${q.error.message} (apt-get install qemu-utils)`);
  if (q.status === 0) return null;
  const msg = q.stderr.trim().split('\n')[0].replace(/^qemu-img: Could not open '[^']*': /, '');
  if (knownDifference(info, msg)) return null;
  return { kind: 'qemu-refuses', error: `reported clean, but qemu-img refuses it: ${msg}` };
}

/** Disks up to this size are read whole by the block oracle (every generated seed); larger ones are sampled. */
export const BLOCK_WHOLE_BYTES = 9 * 1024 * 1024;

/** The read plan of the block oracle: the whole disk in odd-sized reads, or its head, tail and 8 reads spread over it. */
function readPlan(size: number): [number, number][] {
  const CH = 1024 * 1024 + 512;
  const plan: [number, number][] = [];
  if (size <= BLOCK_WHOLE_BYTES) {
    for (let off = 0; off < size; off += CH) plan.push([off, CH]);
    return plan;
  }
  plan.push([0, CH], [CH, CH]);
  for (let i = 1; i <= 8; i++) plan.push([Math.floor((size / 9) * i) + 4097, 65536 + 3]);
  plan.push([size - CH - 3, CH + 10]);
  return plan;
}

/**
 * The block target's oracle: openDisk on the case file either refuses with a FormatError or gives a disk whose
 * every planned read returns exactly the bytes up to the disk's end or throws a FormatError; nothing else escapes,
 * within the same time and allocation limits. A case that expects a chain problem (a cycle) must be refused.
 */
export async function checkBlockFile(file: string, expect: ProblemCode | null = null, differential = false): Promise<CaseRun> {
  bigAllocation = null;
  const t0 = performance.now();
  let failure: CaseFailure | null = null;
  let d: BlockReader | null = null;
  let opened = false;
  let pieces: [number, Buffer][] | null = null;
  try {
    d = await openDisk(file);
    if (!Number.isSafeInteger(d.size) || d.size < 0) failure = { kind: 'bad-result', error: `disk size ${d.size}` };
    else if (d.sectorSize !== 512 && d.sectorSize !== 4096) failure = { kind: 'bad-result', error: `sector size ${d.sectorSize}` };
    else if (expect) failure = { kind: 'missing-expected', error: `opened a disk whose chain should be refused (${expect})` };
    else {
      const buf = Buffer.alloc(1024 * 1024 + 512 + 10);
      pieces = differential && d.size <= 64 * 2 ** 20 ? [] : null; // qemu-img convert runs inside the watchdog
      for (const [off, len] of readPlan(d.size)) {
        const want = Math.max(0, Math.min(len, d.size - off));
        const n = await d.read(buf.subarray(0, len), off);
        if (n !== want) { failure = { kind: 'bad-result', error: `read of ${len} at ${off} returned ${n}, not ${want}` }; break; }
        pieces?.push([off, Buffer.from(buf.subarray(0, n))]);
      }
      opened = true;
    }
  } catch (e) {
    const err = e as Error;
    if (!(e instanceof FormatError)) failure = { kind: 'exception', error: `${err?.name}: ${err?.message}\n${err?.stack?.split('\n').slice(1, 8).join('\n')}` };
  } finally {
    try {
      await d?.close();
    } catch (e) {
      failure ??= { kind: 'exception', error: `close: ${(e as Error).message}` };
    }
  }
  const ms = performance.now() - t0;
  if (bigAllocation) failure = { kind: 'allocation', error: bigAllocation };
  if (!failure && ms > CASE_LIMIT_MS) failure = { kind: 'slow', error: `${ms.toFixed(0)} ms` };
  if (!failure && pieces && d) failure = qemuDiffers(file, d.size, pieces); // not timed: qemu-img runs in it
  return { failure, ms, info: null, opened };
}

/**
 * Block differential (sampled): a disk vdisk reads whole must read the same through `qemu-img convert -O raw`, when
 * qemu opens the file at all (its refusals are the inspect target's business). Only for formats whose qemu driver
 * reads the same thing we do (not differencing VHD/VHDX, which qemu cannot follow).
 */
export function qemuDiffers(file: string, size: number, ours: [number, Buffer][]): CaseFailure | null {
  const info = cp.spawnSync('qemu-img', ['info', '--output=json', file], { encoding: 'utf8', timeout: 10000 });
  if (info.status !== 0) return null;
  const q = JSON.parse(info.stdout) as { format: string; 'backing-filename'?: string };
  if (!['vpc', 'vhdx', 'qcow2', 'vmdk', 'vdi'].includes(q.format) || q['backing-filename']) return null;
  const out = `${file}.qemu-raw`;
  try {
    const r = cp.spawnSync('qemu-img', ['convert', '-f', q.format, '-O', 'raw', file, out], { encoding: 'utf8', timeout: 20000 });
    if (r.status !== 0) return null;
    const qsize = fs.statSync(out).size;
    if (qsize !== size) return { kind: 'qemu-differs', error: `qemu's disk is ${qsize} bytes, vdisk's ${size}` };
    const fd = fs.openSync(out, 'r');
    try {
      for (const [off, mine] of ours) {
        const theirs = Buffer.alloc(mine.length);
        fs.readSync(fd, theirs, 0, mine.length, off);
        if (theirs.equals(mine)) continue;
        let at = 0;
        while (theirs[at] === mine[at]) at++;
        let end = at;
        while (end < mine.length && theirs[end] !== mine[end]) end++;
        return { kind: 'qemu-differs', error: `first difference at byte ${off + at} (${end - at} bytes differ there): vdisk ${mine[at]}, qemu ${theirs[at]}` };
      }
      return null;
    } finally { fs.closeSync(fd); }
  } finally { fs.rmSync(out, { force: true }); }
}
