// openDisk: the virtual disk of an image file, through its whole chain, as a BlockReader.
// The format is decided by content (inspectImage); each format's folder provides its reader; every file of the chain
// (parents, backing files, data files, extents) is opened through one LayerOpener, and a layer whose chain has a
// problem (parent missing or replaced, cycle, damage, a log to replay) is refused with that problem, never read alone.
import * as path from 'path';
import type { BlockReader } from './block';
import type { ImageInfo } from '../common/image';
import { DEFAULT_MAX_DEPTH } from './chain';
import { FormatError, FormatErrorCode } from './errors';
import { inspectImage } from './inspect';
import { inspectOne } from './inspect-one';
import type { LayerFacts } from './block-map';
import { LayerContext, LayerFile, LayerOpener, LayerRequest, OpenedLayer, defaultLayerOpener } from './layer-files';
import { openRawBlocks } from './raw/block-reader';
import { openVhdBlocks } from './vhd/block-reader';
import { openVhdxBlocks } from './vhdx/block-reader';
import { openQcow2Blocks } from './qcow2/block-reader';
import { openVmdkBlocks } from './vmdk/block-reader';
import { openVdiBlocks } from './vdi/block-reader';

export interface OpenDiskOptions {
  /** More folders to look for missing parents in (as inspectImage). */
  searchFolders?: string[];
  /** How every file of the chain is opened: the rule for which pulled-in files are acceptable (default: layers.ts). */
  openLayer?: LayerOpener;
  /** Layers below the image at most (parents, backing files); default chain.ts DEFAULT_MAX_DEPTH. */
  maxDepth?: number;
}

/** Problems that do not change what the disk reads (qemu and Windows read these images; inspect still shows them). */
const TOLERATED = new Set(['footer-checksum', 'header-checksum', 'partition-table-invalid', 'iso-size-not-multiple-of-2048',
  'iso-too-small', 'iso-no-volume-descriptor']);
const CHAIN = new Set(['parent-locator-missing', 'parent-missing', 'parent-unreadable', 'parent-id-mismatch', 'chain-cycle', 'chain-too-deep']);
/** layers.ts's problems about a pulled-in file, as the FormatError codes of the block layer. */
const LAYER: Record<string, FormatErrorCode> = { 'layer-missing': 'not-found', 'layer-not-a-file': 'refused-layer', 'layer-unreadable': 'unreadable',
  'layer-unsupported': 'unsupported', 'log-replay-required': 'unsupported' };

function refusal(info: ImageInfo): FormatError | null {
  const p = info.problems.find((x) => !TOLERATED.has(x.code));
  if (!p) return null;
  const code: FormatErrorCode = CHAIN.has(p.code) ? 'chain-broken' : LAYER[p.code] ?? 'corrupt';
  const hint = p.code === 'log-replay-required' ? ' (vdisk does not replay VHDX logs: attach it once read-write in Windows, or replay it on a copy with `qemu-img check -r all`)' : '';
  return new FormatError(code, `${info.path}: cannot read the disk: ${p.message}${hint}`);
}

interface Ctx { opener: LayerOpener; searchFolders: string[]; maxDepth: number; seen: Set<string> }

/** The virtual disk of `file`, read through its whole chain. Throws FormatError naming the layer that is wrong. */
export async function openDisk(file: string, opts: OpenDiskOptions = {}): Promise<BlockReader> {
  const ctx: Ctx = {
    opener: opts.openLayer ?? defaultLayerOpener,
    searchFolders: (opts.searchFolders ?? []).map((f) => path.resolve(f)),
    maxDepth: opts.maxDepth ?? DEFAULT_MAX_DEPTH,
    seen: new Set(),
  };
  return (await openLayer({ path: path.resolve(file), role: 'image', from: null }, ctx, 0)).disk;
}

const QEMU_NAME: Record<string, string> = { vhd: 'vpc' };

async function openLayer(req: LayerRequest, ctx: Ctx, depth: number, format?: string): Promise<OpenedLayer> {
  if (depth > ctx.maxDepth) throw new FormatError('chain-broken', `${req.from}: its chain is deeper than ${ctx.maxDepth} layers`);
  const file = await ctx.opener(req);
  let parent: BlockReader | null = null;
  try {
    if (ctx.seen.has(file.path)) throw new FormatError('chain-broken', `${req.from}: the chain loops back to ${file.path}`);
    ctx.seen.add(file.path);
    if (format === 'raw') return { disk: openRawBlocks(file), path: file.path, id: null };
    const info = await inspectImage(file.path, { searchFolders: ctx.searchFolders, maxDepth: Math.max(0, ctx.maxDepth - depth) });
    if (format && info.format !== format) {
      throw new FormatError('unsupported', `${file.path}: ${req.from} says its ${req.role} is ${QEMU_NAME[format] ?? format}, but the file is ${info.format}`);
    }
    const refused = refusal(info);
    if (refused) throw refused;
    // a VHD/VHDX chain, already verified by inspectImage: open it from the bottom up. (The chain of a qcow2 or VMDK
    // also lists its backing files, data files and extents: their readers open those themselves.)
    const links = info.format === 'vhd' || info.format === 'vhdx' ? info.chain.filter((l, i) => i === 0 || l.role === 'parent' || l.role === undefined) : [];
    for (let i = links.length - 1; i >= 1; i--) {
      const link = links[i];
      const pf = await ctx.opener({ path: link.path, role: 'parent', from: links[i - 1].path });
      try {
        if (ctx.seen.has(pf.path)) throw new FormatError('chain-broken', `${links[i - 1].path}: the chain loops back to ${pf.path}`);
        ctx.seen.add(pf.path);
        const facts = (await inspectOne(pf.path)).parsed;
        if (facts.id !== link.id || facts.format !== link.format) throw new FormatError('chain-broken', `${pf.path} changed while its chain was being opened`);
        parent = await build(pf, facts, parent, ctx, depth + i);
      } catch (e) {
        pf.close();
        throw e;
      }
    }
    const disk = await build(file, info, parent, ctx, depth);
    return { disk, path: file.path, id: info.id };
  } catch (e) {
    file.close();
    await parent?.close();
    throw e;
  }
}

async function build(file: LayerFile, facts: LayerFacts, parent: BlockReader | null, ctx: Ctx, depth: number): Promise<BlockReader> {
  const layerCtx: LayerContext = {
    openFile: (req) => ctx.opener(req),
    openImage: (req, format) => openLayer(req, ctx, depth + 1, format),
  };
  switch (facts.format) {
    case 'raw': case 'iso': case 'udf': return openRawBlocks(file, file.size, facts.logicalSectorSize);
    case 'vhd': return openVhdBlocks(file, facts, parent);
    case 'vhdx': return openVhdxBlocks(file, facts, parent);
    case 'qcow2': return openQcow2Blocks(file, layerCtx);
    case 'vmdk': return openVmdkBlocks(file, layerCtx);
    case 'vdi': return openVdiBlocks(file, facts);
    default: throw new FormatError('unsupported', `${file.path}: reading ${facts.format} disks is not supported`);
  }
}
