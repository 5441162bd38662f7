// ISO 9660 volume descriptors (from 32 KiB), Joliet and El Torito, and the rules Windows applies
// before it will open a file as an ISO: size a multiple of 2048, >= 34,816 bytes, CD001 or UDF identifier.
import type { Problem } from '../../common/image';
import { RangeReader } from '../reader';
import { problem } from '../problems';
import { ParsedImage, baseParsed } from '../types';

export const VRS_START = 32 * 1024;
export const ISO_MIN_SIZE = 34816;
/** Descriptors scanned at most: 64 KiB covers every real volume recognition sequence. */
const MAX_DESCRIPTORS = 32;

export interface VolumeDescriptor { offset: number; id: string; type: number; raw: Buffer }

const KNOWN_IDS = new Set(['CD001', 'BEA01', 'NSR02', 'NSR03', 'TEA01', 'BOOT2', 'CDW02']);

/**
 * The volume recognition sequence, walked in 2048-byte steps from 32 KiB. UDF discs with 4096-byte
 * blocks place descriptors 4096 apart: the empty slot between two of them is skipped, not an end.
 */
export async function scanVolumeDescriptors(r: RangeReader): Promise<VolumeDescriptor[]> {
  const win = await r.read(VRS_START, MAX_DESCRIPTORS * 2048);
  const out: VolumeDescriptor[] = [];
  let empty = 0;
  // a descriptor cut short by the end of the file still counts (Windows then refuses the size, not the content)
  for (let o = 0; o + 7 <= win.length; o += 2048) {
    const id = win.toString('latin1', o + 1, o + 6);
    if (!KNOWN_IDS.has(id)) {
      if (win[o] === 0 && id === '\0\0\0\0\0' && out.length && ++empty === 1) continue;
      break;
    }
    empty = 0;
    const raw = Buffer.alloc(2048);
    win.copy(raw, 0, o, Math.min(win.length, o + 2048));
    out.push({ offset: VRS_START + o, id, type: win[o], raw });
    if (id === 'CD001' && win[o] === 255 && !out.some((d) => d.id === 'BEA01')) {
      // terminator of a plain ISO: a UDF bridge continues with BEA01 right after it
      const next = win.toString('latin1', o + 2048 + 1, o + 2048 + 6);
      if (next !== 'BEA01') break;
    }
    if (id === 'TEA01') break;
  }
  return out;
}

export function hasUdfNsr(ds: VolumeDescriptor[]): boolean {
  return ds.some((d) => d.id === 'NSR02' || d.id === 'NSR03');
}

/** The Windows acceptance rules; `hasIdentifier` = a primary CD001 or a UDF NSR descriptor exists. */
export function windowsIsoProblems(size: number, hasIdentifier: boolean): Problem[] {
  const out: Problem[] = [];
  if (size % 2048 !== 0) out.push(problem('iso-size-not-multiple-of-2048', `${size} bytes`));
  if (size < ISO_MIN_SIZE) out.push(problem('iso-too-small', `${size} bytes`));
  if (!hasIdentifier) out.push(problem('iso-no-volume-descriptor'));
  return out;
}

/** The Windows rules for any file the user wants opened as an ISO, whatever its content. */
export async function checkWindowsIsoRules(r: RangeReader): Promise<Problem[]> {
  const ds = await scanVolumeDescriptors(r);
  return windowsIsoProblems(r.size, ds.some((d) => d.id === 'CD001' && d.type === 1) || hasUdfNsr(ds));
}

const trimA = (b: Buffer) => b.toString('latin1').replace(/[\s\0]+$/, '');
const trimUcs2 = (b: Buffer) => Buffer.from(b.subarray(0, b.length & ~1)).swap16().toString('utf16le').replace(/[\s\0]+$/, '');

export interface IsoFacts {
  label: string | null;
  jolietLabel: string | null;
  blocks: number | null;
  logicalBlockSize: number;
  joliet: boolean;
  elTorito: boolean;
  bootCatalogBlock: number | null;
  systemId: string | null;
  hasPrimary: boolean;
}

export function isoFacts(ds: VolumeDescriptor[]): IsoFacts {
  const f: IsoFacts = { label: null, jolietLabel: null, blocks: null, logicalBlockSize: 2048, joliet: false,
    elTorito: false, bootCatalogBlock: null, systemId: null, hasPrimary: false };
  for (const d of ds) {
    if (d.id !== 'CD001') continue;
    const b = d.raw;
    if (d.type === 1 && !f.hasPrimary) {
      f.hasPrimary = true;
      f.systemId = trimA(b.subarray(8, 40)) || null;
      f.label = trimA(b.subarray(40, 72)) || null;
      f.blocks = b.readUInt32LE(80);
      const lbs = b.readUInt16LE(128);
      if (lbs === 512 || lbs === 1024 || lbs === 2048) f.logicalBlockSize = lbs;
    } else if (d.type === 2) {
      const esc = b.toString('latin1', 88, 120);
      if (/%\/[@CE]/.test(esc)) {
        f.joliet = true;
        f.jolietLabel = trimUcs2(b.subarray(40, 72)) || null;
      }
    } else if (d.type === 0 && b.toString('latin1', 7, 30) === 'EL TORITO SPECIFICATION') {
      f.elTorito = true;
      f.bootCatalogBlock = b.readUInt32LE(71);
    }
  }
  return f;
}

/**
 * The label users see (blkid, Explorer): Joliet's, which is limited to 16 characters, completed with the
 * rest of the longer ISO 9660 label when the two agree on those 16 characters.
 */
export function bestLabel(iso: string | null, joliet: string | null): string | null {
  if (!joliet) return iso;
  if (!iso || joliet.length !== 16 || iso.length <= 16) return joliet;
  for (let i = 0; i < 16; i++) {
    if (iso[i].toUpperCase() !== joliet[i].toUpperCase() && iso[i] !== '_') return joliet;
  }
  return joliet + iso.slice(16);
}

export async function inspectIso(r: RangeReader, ds?: VolumeDescriptor[]): Promise<ParsedImage> {
  ds ??= await scanVolumeDescriptors(r);
  const f = isoFacts(ds);
  const p = baseParsed('iso', r.size);
  p.blockSize = 2048;
  p.logicalSectorSize = 2048;
  p.physicalSectorSize = 2048;
  p.creator = f.systemId;
  p.details = { label: bestLabel(f.label, f.jolietLabel), isoLabel: f.label, jolietLabel: f.jolietLabel, blocks: f.blocks, logicalBlockSize: f.logicalBlockSize,
    elTorito: f.elTorito, bootCatalogBlock: f.bootCatalogBlock, joliet: f.joliet,
    descriptors: ds.map((d) => ({ offset: d.offset, id: d.id, type: d.type })), dataOffset: 0, dataSize: r.size };
  p.problems.push(...windowsIsoProblems(r.size, f.hasPrimary || hasUdfNsr(ds)));
  if (f.blocks !== null && f.blocks * f.logicalBlockSize > r.size) {
    p.problems.push(problem('truncated', `${f.blocks} blocks declared, ${Math.floor(r.size / f.logicalBlockSize)} present`));
  }
  return p;
}
