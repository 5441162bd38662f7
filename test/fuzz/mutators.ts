// One fuzz case = a pure function of (seed, format, index): which seed, which mutations, and for link cases
// which problem must be reported. The worker applies it; the runner can rebuild it to save a hanging input.
import type { ProblemCode } from '../../src/formats/problems';
import type { FuzzFormat, SeedEntry } from './corpus';
import { Layout } from './layouts';
import { LinkContext, linkVhd, linkVhdx, mutateVhdLocator, mutateVhdxLocator, vhdUniqueId, vhdxDataWriteGuid } from './locators';
import { Overlay } from './overlay';
import { Rng, caseRng, int, pick } from './prng';

export interface LoadedSeed { entry: SeedEntry; buf: Buffer; layout: Layout }

export interface FuzzCase {
  index: number;
  /** The seed file inspected. */
  target: string;
  /** Overlays per seed file name (the target and any sibling a cycle case rewrites). */
  overlays: Map<string, Overlay>;
  /** When set, the target is inspected as a new file holding exactly these bytes (truncation). */
  replace: Buffer | null;
  mutations: string[];
  expect: ProblemCode | null;
}

const INTERESTING = [0n, 1n, 2n, 0x7fn, 0x80n, 0xffn, 0x1ffn, 0x200n, 0x7fffn, 0xffffn, 0x10000n, 0x7fffffffn, 0x80000000n,
  0xfffffffen, 0xffffffffn, 0x100000000n, 2n ** 40n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n];

function hugeValue(r: Rng, seedSize: number, old: bigint): bigint {
  switch (int(r, 5)) {
    case 0: return BigInt(seedSize + pick(r, [-513, -512, -1, 0, 1, 512]));
    case 1: return old ^ (1n << BigInt(int(r, 64)));
    case 2: return old + BigInt(pick(r, [-1, 1, 512, -512]));
    default: return pick(r, INTERESTING);
  }
}

function mutateOnce(r: Rng, s: LoadedSeed, ov: Overlay): string {
  const L = s.layout;
  const kind = int(r, 10);
  if (kind < 4 && L.fields.length) {
    const f = pick(r, L.fields);
    const v = hugeValue(r, s.buf.length, ov.readUInt(f.offset, f.width, f.le));
    ov.writeUInt(f.offset, f.width, f.le, v);
    return `field ${f.name} = 0x${BigInt.asUintN(f.width * 8, v).toString(16)}`;
  }
  const inRegion = () => {
    if (r() < 0.1) return int(r, s.buf.length);
    const [o, n] = pick(r, L.regions);
    return o + int(r, n);
  };
  if (kind < 7) {
    const at = inRegion(), bit = int(r, 8);
    ov.write(at, Buffer.from([ov.read(at, 1)[0] ^ (1 << bit)]));
    return `bit flip @${at}.${bit}`;
  }
  const at = inRegion();
  const n = 1 + int(r, 8);
  const b = Buffer.alloc(n);
  const fill = pick(r, [0x00, 0xff, 0x7f, 0x80, -1]);
  for (let i = 0; i < n; i++) b[i] = fill < 0 ? int(r, 256) : fill;
  ov.write(at, b);
  return `byte set @${at} x${n} = ${fill < 0 ? 'random' : `0x${fill.toString(16)}`}`;
}

function linkCase(r: Rng, s: LoadedSeed, seeds: Map<string, LoadedSeed>, c: FuzzCase, dir: string): boolean {
  const e = s.entry;
  const vhdx = /\.vhdx$/.test(e.name);
  if (!e.parent || e.origin !== 'generated') return false;
  const ctx: LinkContext = { dir, self: e.name, parent: e.parent, sibling: e.sibling };
  const ov = c.overlays.get(e.name)!;
  const pickKind = r();
  if (pickKind < 0.1) {
    // a child whose parent is itself, with its own id
    if (vhdx) linkVhdx(ov, e.name, vhdxDataWriteGuid(ov)); else linkVhd(ov, e.name, vhdUniqueId(ov));
    c.mutations.push('cycle: child names itself with its own id');
    c.expect = 'chain-cycle';
    return true;
  }
  if (pickKind < 0.2 && e.sibling && seeds.has(e.sibling)) {
    // A -> B -> A with matching ids
    const sib = new Overlay(seeds.get(e.sibling)!.buf);
    c.overlays.set(e.sibling, sib);
    if (vhdx) { linkVhdx(ov, e.sibling, vhdxDataWriteGuid(sib)); linkVhdx(sib, e.name, vhdxDataWriteGuid(ov)); }
    else { linkVhd(ov, e.sibling, vhdUniqueId(sib)); linkVhd(sib, e.name, vhdUniqueId(ov)); }
    c.mutations.push(`cycle: ${e.name} -> ${e.sibling} -> ${e.name}`);
    c.expect = 'chain-cycle';
    return true;
  }
  c.mutations.push(vhdx ? mutateVhdxLocator(r, ov, ctx) : mutateVhdLocator(r, ov, ctx));
  return true;
}

/** Builds case `index`; `dir` is the folder the worker runs in (absolute-path locators point there). */
export function generateCase(format: FuzzFormat, seedList: LoadedSeed[], seed: number, index: number, dir: string): FuzzCase {
  const r = caseRng(seed, format, index);
  const s = seedList[int(r, seedList.length)];
  const seeds = new Map(seedList.map((x) => [x.entry.name, x]));
  const ov = new Overlay(s.buf);
  const c: FuzzCase = { index, target: s.entry.name, overlays: new Map([[s.entry.name, ov]]), replace: null, mutations: [], expect: null };
  const isDiff = (format === 'vhd' || format === 'vhdx') && !!s.entry.parent;
  if (isDiff && r() < 0.35 && linkCase(r, s, seeds, c, dir)) return c;
  const parent = isDiff ? seeds.get(s.entry.parent!) : undefined;
  if (parent && r() < 0.2) {
    // damage the parent instead: its problems must reach the child's result, named
    const pov = new Overlay(parent.buf);
    c.overlays.set(parent.entry.name, pov);
    for (let i = 0, n = 1 + int(r, 3); i < n; i++) c.mutations.push(`parent ${parent.entry.name}: ${mutateOnce(r, parent, pov)}`);
    if (r() < 0.75) for (const fix of parent.layout.fixers) fix(pov);
    return c;
  }
  const n = 1 + int(r, 4);
  for (let i = 0; i < n; i++) c.mutations.push(mutateOnce(r, s, ov));
  if (r() < 0.75) for (const fix of s.layout.fixers) fix(ov);
  else c.mutations.push('checksums left as mutated');
  if (r() < 0.12) {
    const b = pick(r, s.layout.boundaries);
    const cut = Math.max(0, Math.min(s.buf.length - 1, b + pick(r, [-1, 0, 0, 1, 7, 512])));
    c.replace = ov.materialize().subarray(0, cut);
    c.mutations.push(`truncated to ${cut} bytes`);
  }
  return c;
}
