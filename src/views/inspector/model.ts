// ImageInfo (from the worker) + the disks attached now -> the page model the webview draws. Pure: no `vscode`.
import * as path from 'path';
import type { ChainLink, ImageInfo, Problem } from '../../common/image';
import type { Ability, AttachedDisk, Capabilities } from '../../common/protocol';
import { kindOf as policyKind } from '../../common/describe-capabilities';
import { formatBytes } from '../../common/describe';
import { formatName } from '../../common/formats';
import type { ActionId, ActionView, AttachmentView, FactView, LayerView, ProblemView, ReadyModel } from './messages';
import { PARENT_LINK_CODES } from '../../common/parent-link';
import { problemHelp } from './problem-help';

export interface ModelOptions {
  revision: number;
  /** Workspace trust: attach and create are disabled in Restricted Mode. */
  trusted: boolean;
  /** The worker's capability report (undefined before its first answer: nothing is ruled out then). */
  caps?: Capabilities;
  busy: ActionId | null;
  status: string;
  inspectMs: number;
  /** Recent Images that read through this image (it is their parent or ancestor). */
  recentChildren?: string[];
}

/** Problems about the link from a layer to its parent: they mark the parent that failed, not the layer. */
const LINK_CODES: Record<string, string> = {
  'layer-missing': 'not found',
  'layer-not-a-file': 'not a regular file (refused)',
  'layer-unreadable': 'unreadable',
  'layer-unsupported': 'not followed',
  'parent-missing': 'not found',
  'parent-locator-missing': 'no location recorded',
  'parent-unreadable': 'unreadable',
  'parent-id-mismatch': 'wrong parent (identity differs)',
};
const LAST_LAYER_CODES = new Set(['chain-cycle', 'chain-too-deep']);

export function kindOf(format: string, subtype: string | null): string {
  return `${formatName(format)}${subtype ? ` ${subtype}` : ''}`;
}

const bytes = (n: number): string => `${formatBytes(n)} (${n.toLocaleString('en-US')} bytes)`;

export function attachmentsOf(image: string, disks: readonly AttachedDisk[]): AttachmentView[] {
  return disks.filter((d) => d.image === image).map((d) => ({
    device: d.device,
    access: d.readOnly ? 'read-only' : 'read-write',
    lifetime: d.lifetime,
    ours: d.ours,
    mountPoints: (d.volumes ?? []).flatMap((v) => (v.mountPoint ? [v.mountPoint] : [])),
  }));
}

export function buildReadyModel(info: ImageInfo, disks: readonly AttachedDisk[], o: ModelOptions): ReadyModel {
  const name = path.basename(info.path);
  const { chain, problems } = chainAndProblems(info);
  const attachments = attachmentsOf(info.path, disks);
  const usedBy = usersOf(info.path, disks, o.recentChildren ?? []);
  return {
    state: 'ready', revision: o.revision, path: info.path, name,
    image: {
      format: info.format, subtype: info.subtype, virtualSize: info.virtualSize, fileSize: info.fileSize,
      id: info.id, virtualDiskId: info.virtualDiskId, creator: info.creator,
    },
    title: `${kindOf(info.format, info.subtype)} · ${formatBytes(info.virtualSize)}`,
    facts: [...factsOf(info), ...usedBy.map((u) => ({ label: 'In use', value: u }))],
    chain, problems, attachments,
    actions: actionsOf(info, attachments, problems.length, o, usedBy),
    busy: o.busy, status: o.status, inspectMs: o.inspectMs,
  };
}

function factsOf(info: ImageInfo): FactView[] {
  const d = (info.details ?? {}) as Record<string, unknown>;
  const str = (v: unknown): string | null => (typeof v === 'string' && v.trim() ? v.trim() : null);
  const f: FactView[] = [{ label: 'Format', value: kindOf(info.format, info.subtype) }];
  if (str(d.label)) f.push({ label: 'Volume label', value: str(d.label)! });
  f.push({ label: 'Virtual size', value: bytes(info.virtualSize) });
  f.push({ label: 'File size', value: bytes(info.fileSize) });
  if (typeof d.allocatedBlocks === 'number' && info.blockSize) {
    // data blocks only: a VHDX table also holds sector-bitmap entries, and a VHD table may be larger than the disk
    const total = typeof d.dataBlocks === 'number' ? d.dataBlocks : Math.ceil(info.virtualSize / info.blockSize);
    const fromParent = info.subtype === 'differencing' ? '; the others are read from the parent' : '';
    f.push({ label: 'Allocated', value: `${d.allocatedBlocks} of ${total} blocks of ${formatBytes(info.blockSize)}${fromParent}` });
  }
  if (info.blockSize) f.push({ label: 'Block size', value: formatBytes(info.blockSize) });
  f.push({ label: 'Sector size', value: `${info.logicalSectorSize} logical, ${info.physicalSectorSize} physical` });
  if (info.id) f.push({ label: info.format === 'vhdx' ? 'Data write id' : 'Unique id', value: info.id, mono: true });
  if (info.virtualDiskId) f.push({ label: 'Virtual disk id', value: info.virtualDiskId, mono: true });
  const creator = [info.creator, str(d.creatorVersion), str(d.creatorHost) ? `(${str(d.creatorHost)})` : null].filter(Boolean).join(' ');
  if (creator) f.push({ label: 'Creator', value: creator });
  if (str(d.timestamp)) f.push({ label: 'Created', value: str(d.timestamp)!.replace('T', ' ').replace(/\.\d+Z$/, ' UTC') });
  if (d.elTorito === true) f.push({ label: 'Boot', value: 'El Torito (bootable)' });
  const pt = d.partitionTable as { scheme?: string; partitions?: unknown[] } | null | undefined;
  if (pt && pt.scheme) f.push({ label: 'Partition table', value: `${pt.scheme.toUpperCase()}, ${pt.partitions?.length ?? 0} partition(s)` });
  if (info.needsLogReplay) f.push({ label: 'Log', value: 'needs replay (not closed cleanly)' });
  if (info.parent) f.push({ label: 'Parent', value: info.parent.resolvedPath ?? 'not found', mono: !!info.parent.resolvedPath });
  return f;
}

/** The chain as layers (self first, plus the parent that failed, if any) with every problem placed on its layer. */
export function chainAndProblems(info: ImageInfo): { chain: LayerView[]; problems: ProblemView[] } {
  const chain: LayerView[] = info.chain.map((c, i) => ({
    level: i, role: layerRole(c, i), path: c.path, name: path.basename(c.path), kind: kindOf(c.format, c.subtype),
    id: c.id, status: 'ok', problems: [],
  }));
  if (chain.length === 0) {
    chain.push({ level: 0, role: 'image', path: info.path, name: path.basename(info.path), kind: kindOf(info.format, info.subtype), id: info.id, status: 'ok', problems: [] });
  }
  const last = chain.length - 1;
  const problems: ProblemView[] = info.problems.map((p) => {
    const help = problemHelp(p.code);
    let layer = 0;
    // a link problem is about the parent that failed: it always gets the missing layer at the end of the chain
    if (p.layer && !(p.code in LINK_CODES)) {
      const i = chain.findIndex((l) => l.path === p.layer!.path);
      layer = i >= 0 ? i : last;
    } else if (p.code in LINK_CODES) {
      if (chain[chain.length - 1].status !== 'missing') chain.push(missingLayer(info, chain.length, p));
      layer = chain.length - 1;
    } else if (LAST_LAYER_CODES.has(p.code)) {
      layer = last;
    }
    return { code: p.code, message: p.message, meaning: help.meaning, action: help.action, layer };
  });
  problems.forEach((p, i) => {
    const l = chain[p.layer];
    l.problems.push(i);
    if (l.status === 'ok') l.status = 'problem';
  });
  return { chain, problems };
}

function roleOf(level: number): string {
  return level === 0 ? 'image' : level === 1 ? 'parent' : `ancestor ${level}`;
}

/** What a layer is to the image: its role (backing file, data file, extent N) and, below the image, its level. */
export function layerRole(c: ChainLink, i: number): string {
  if (!c.role) return roleOf(i);
  const level = (c.level ?? i + 1) - 1;
  switch (c.role) {
    case 'image': return 'image';
    case 'extent': return `extent ${(c.extent?.index ?? 0) + 1}${level ? ` (level ${level + 1})` : ''}`;
    case 'data-file': return `data file${level ? ` (level ${level + 1})` : ''}`;
    case 'backing': return level === 1 ? 'backing file' : `backing file ${level}`;
    default: return roleOf(level);
  }
}

function missingLayer(info: ImageInfo, level: number, p: Problem): LayerView {
  const child = path.basename(info.chain[info.chain.length - 1]?.path ?? info.path);
  const tried = p.tried ?? [];
  // the first layer's parent link is in ImageInfo; deeper ones only in the problem's message
  const link = level === 1 ? info.parent : null;
  const loc = link?.locators ?? {};
  const recorded = [loc.relative && `relative ${loc.relative}`, loc.volume && `volume ${loc.volume}`, loc.absolute && `absolute ${loc.absolute}`].filter(Boolean);
  const fromLocator = (loc.relative ?? loc.absolute ?? loc.volume ?? link?.name ?? '').split(/[\\/]/).filter(Boolean).pop();
  const name = tried.length ? path.basename(tried[0].path) : fromLocator || `parent of ${child}`;
  const note = tried.length ? `named by ${child}; looked for at ${tried.map((t) => `${t.how} ${t.path}`).join('; ')}`
    : recorded.length ? `named by ${child}; recorded locations: ${recorded.join('; ')}`
      : `named by ${child}, which records no location for it`;
  return { level, role: roleOf(level), path: null, name, kind: LINK_CODES[p.code], id: link?.id ?? null, status: 'missing', problems: [], note };
}

/** "as the parent of child.vhdx (attached as /dev/loop3)": who reads through this image, so it must not change. */
export function usersOf(image: string, disks: readonly AttachedDisk[], recentChildren: string[]): string[] {
  const attached = disks.filter((d) => d.image && d.image !== image && d.chain?.slice(1).some((l) => l.path === image));
  const seen = new Set(attached.map((d) => d.image));
  return [
    ...attached.map((d) => `as the parent of ${path.basename(d.image!)} (attached as ${d.device})`),
    ...recentChildren.filter((c) => !seen.has(c)).map((c) => `as the parent of ${path.basename(c)} (in Recent Images)`),
  ];
}

function actionsOf(info: ImageInfo, attachments: AttachmentView[], problemCount: number, o: ModelOptions, usedBy: string[]): ActionView[] {
  const attached = attachments.length > 0;
  const untrusted = 'Disabled in Restricted Mode: trust this workspace to attach or create images from it.';
  const isOptical = info.format === 'iso' || info.format === 'udf';
  const kind = o.caps?.kinds.find((k) => k.kind === policyKind(info));
  const ro: Ability = kind?.readOnly ?? 'yes';
  const rw: Ability = kind?.readWrite ?? (isOptical ? 'no' : 'yes');
  const elevate = o.caps?.platform === 'win32' ? 'needs administrator rights: vdisk asks for them (UAC)' : 'needs root: vdisk offers Retry as Root';
  const canDiff = info.format === 'vhd' || info.format === 'vhdx';
  const resizable = ['raw', 'vhd', 'vhdx', 'qcow2'].includes(info.format) && info.subtype !== 'differencing' && !info.parent;
  const a = (id: ActionId, label: string, enabled: boolean, title: string, primary = false): ActionView =>
    ({ id, label, enabled: enabled && o.busy === null, title, primary });
  const rwAttached = attachments.find((x) => x.access === 'read-write');
  const brokenLink = info.subtype === 'differencing' && info.problems.some((p) => PARENT_LINK_CODES.has(p.code));
  const alreadyAttached = attached ? `Already attached as ${attachments.map((x) => x.device).join(', ')}.` : '';
  return [
    a('attachReadOnly', 'Attach Read-Only', o.trusted && !attached && ro !== 'no',
      !o.trusted ? untrusted : alreadyAttached || (ro === 'no' ? kind?.readOnlyWhy ?? 'Cannot be attached here.' : '')
        || `Attach the image as a read-only block device${ro === 'elevation' ? ` (${elevate})` : ''}.`, !attached && ro !== 'no'),
    a('attach', 'Attach Read-Write', o.trusted && !attached && rw !== 'no' && !usedBy.length,
      !o.trusted ? untrusted : alreadyAttached
        || (rw === 'no' ? kind?.readWriteWhy ?? (isOptical ? 'Disc images can only be attached read-only.' : 'Cannot be attached read-write here.') : '')
        || (usedBy.length ? `In use ${usedBy[0]}: writing to it would corrupt that disk. Attach it read-only.` : '')
        || `Attach the image read-write: changes are written to the file${rw === 'elevation' ? ` (${elevate})` : ''}.`),
    a('detach', 'Detach', attached, attached ? `Detach ${attachments.map((x) => x.device).join(', ')}.` : 'The image is not attached.', attached),
    a('createDiff', 'Create Differencing Child…', o.trusted && canDiff && problemCount === 0 && !rwAttached,
      !o.trusted ? untrusted : !canDiff ? 'Only VHD and VHDX images can have differencing children.'
        : rwAttached ? `Attached read-write as ${rwAttached.device}: a parent must no longer change. Detach it first.`
        : problemCount ? 'Fix the problems listed below first: a child of a damaged chain would be damaged too.'
          : 'Create a new differencing disk that records changes on top of this image.'),
    a('inspectText', 'Inspect as Text', true, 'Open these facts as a read-only text report.'),
    ...(brokenLink ? [a('locateParent', 'Locate Parent…', o.trusted && !attached,
      !o.trusted ? untrusted : attached ? `Detach it first: ${alreadyAttached}` : `Pick the parent file; its identity is checked before ${path.basename(info.chain[info.chain.length - 1].path)} is changed.`, true)] : []),
    a('browse', 'Browse Files', true, 'Open the files inside the image as a read-only folder in the Explorer, without attaching it (also in Restricted Mode).'),
    ...(resizable ? [a('resize', 'Resize…', o.trusted && !attached && problemCount === 0,
      !o.trusted ? untrusted : attached ? `Detach it first: ${alreadyAttached}` : problemCount ? 'Fix the problems listed below first.'
        : 'Grow the disk, or shrink it as far as its partitions and data allow.')] : []),
  ];
}
