// The capability report as text: `vdisk capabilities` and the "Show What's Missing" document (vdisk-report:).
import type { Ability, Capabilities, ImageKind, KindCapability } from './protocol';
import type { ImageInfo } from './image';

/** The policy's image kind: a format, split where the subtype changes what can be done. */
export function kindOf(image: Pick<ImageInfo, 'format' | 'subtype'>): ImageKind {
  switch (image.format) {
    case 'raw': return 'raw';
    case 'iso': case 'udf': return 'iso';
    case 'vhd': return image.subtype === 'fixed' ? 'vhd-fixed' : image.subtype === 'differencing' ? 'vhd-differencing' : 'vhd-dynamic';
    case 'vhdx': return image.subtype === 'differencing' ? 'vhdx-differencing' : 'vhdx';
    default: return image.format;
  }
}

const ABILITY: Record<Ability, string> = { yes: 'yes', elevation: 'with elevation', no: 'no' };
const KIND_NAMES: Record<string, string> = {
  'raw': 'Raw image', 'iso': 'ISO / UDF', 'vhd-fixed': 'VHD (fixed)', 'vhd-dynamic': 'VHD (dynamic)', 'vhd-differencing': 'VHD (differencing)',
  'vhdx': 'VHDX', 'vhdx-differencing': 'VHDX (differencing, AVHDX)', 'qcow2': 'qcow2', 'vmdk': 'VMDK', 'vdi': 'VDI',
};

const KIND_ARTICLES: Record<ImageKind, string> = {
  'raw': 'a raw image', 'iso': 'an ISO image', 'vhd-fixed': 'a fixed VHD', 'vhd-dynamic': 'a dynamic VHD', 'vhd-differencing': 'a differencing VHD',
  'vhdx': 'a VHDX', 'vhdx-differencing': 'a differencing VHDX', 'qcow2': 'a qcow2 image', 'vmdk': 'a VMDK', 'vdi': 'a VDI',
};

export function kindTitle(k: ImageKind): string { return KIND_NAMES[k] ?? k; }
/** "a fixed VHD": the kind inside a sentence. */
export function kindWithArticle(k: ImageKind): string { return KIND_ARTICLES[k]; }
export function kindLabel(k: KindCapability): string { return kindTitle(k.kind); }

export function capabilityReport(c: Capabilities): string {
  const who = `${c.user.name}${c.user.uid !== null ? ` (uid ${c.user.uid})` : ''}`;
  const lines = [
    `Virtual Disks: what ${who} can do here (${c.platform}${c.privileged ? ', privileged' : ''}${c.elevated ? ', elevated worker' : ''})`,
    '',
    'Format                        Read-only        Read-write       Engine     Browse',
  ];
  for (const k of c.kinds) {
    lines.push(`${kindLabel(k).padEnd(30)}${ABILITY[k.readOnly].padEnd(17)}${ABILITY[k.readWrite].padEnd(17)}${(k.engine ?? '-').padEnd(11)}${k.browse ? 'yes' : 'no'}`);
  }
  const whys = new Map<string, string[]>();
  for (const k of c.kinds) {
    for (const w of [k.readOnlyWhy, k.readWrite !== k.readOnly || k.readWriteWhy !== k.readOnlyWhy ? k.readWriteWhy : undefined]) {
      if (w) whys.set(w, [...(whys.get(w) ?? []), kindLabel(k)]);
    }
  }
  if (whys.size) {
    lines.push('', 'Why not:');
    for (const [w, kinds] of whys) lines.push(`  ${[...new Set(kinds)].join(', ')}: ${w}`);
  }
  const missing = new Map<string, string>();
  for (const k of c.kinds) for (const m of k.missing) missing.set(m.tool, `${m.tool}: install ${m.provider} (for ${m.for})`);
  for (const t of c.mountTools) if (!t.present) missing.set(t.tool, `${t.tool}: install ${t.provider} (to mount ${t.fileSystem})`);
  for (const f of c.initFileSystems ?? []) if (!f.available && c.platform === 'linux') missing.set(f.tool, `${f.tool}: install ${f.provider} (to make ${f.fileSystem} on a new disk)`);
  lines.push('', 'Missing:', ...(missing.size ? [...missing.values()].map((m) => `  ${m}`) : ['  nothing']));
  if (c.unprivilegedRoute) lines.push('', `Without root: ${c.unprivilegedRoute.name} ${c.unprivilegedRoute.available ? 'works' : 'cannot be used'}: ${c.unprivilegedRoute.detail}`);
  lines.push('', 'Elevation:', ...(c.elevation.length ? c.elevation.map((e) => `  ${e.route.padEnd(7)} ${e.available ? 'available' : 'not available'}: ${e.detail}`) : ['  none on this platform']));
  if (c.initFileSystems) {
    const ok = c.initFileSystems.filter((f) => f.available).map((f) => f.fileSystem);
    lines.push('', `New disks (Initialise): GPT; file systems ${ok.length ? ok.join(', ') : 'none'}`,
      ...c.initFileSystems.filter((f) => !f.available).map((f) => `  no ${f.fileSystem}: ${f.why}`));
  }
  if (c.notes.length) lines.push('', 'Notes:', ...c.notes.map((n) => `  ${n}`));
  return lines.join('\n');
}
