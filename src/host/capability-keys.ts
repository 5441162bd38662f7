// The worker's capability report as the context keys menus read. Pure (no `vscode`): the manifest test uses it too.
// Keys only ever hide an entry: unset (before activation, or before the first answer) they hide nothing, so a fresh
// window shows what the built-in keys (isLinux, isWindows) allow and activation only takes entries away.
import type { Ability, Capabilities } from '../common/protocol';

export const CAPABILITY_KEYS = ['vdisk.noAttach', 'vdisk.noAttachReadOnly', 'vdisk.elevation', 'vdisk.attachNowhere'] as const;

/** `.vhdx`, `.VHDX`, `.Vhdx`: resourceExtname keeps the file's case and `in` compares exactly. */
function spellings(ext: string): string[] {
  return [...new Set([ext, ext.toUpperCase(), `.${ext.charAt(1).toUpperCase()}${ext.slice(2)}`])];
}

/**
 * Extensions for which `access` cannot work at all: every kind with that extension answers 'no' and nothing can be
 * installed to change it (a missing tool keeps the entry, so the error can name the package).
 */
function hopeless(c: Capabilities, access: 'readOnly' | 'readWrite'): string[] {
  const byExt = new Map<string, { ok: boolean }>();
  for (const k of c.kinds) {
    const ok = k[access] !== ('no' as Ability) || k.missing.length > 0;
    for (const e of k.extensions) byExt.set(e, { ok: (byExt.get(e)?.ok ?? false) || ok });
  }
  return [...byExt].filter(([, v]) => !v.ok).flatMap(([e]) => spellings(e));
}

export function capabilityContext(c: Capabilities): Record<(typeof CAPABILITY_KEYS)[number], unknown> {
  const route = c.elevated ? 'elevated' : c.elevation.find((e) => e.available)?.route ?? 'none';
  return {
    'vdisk.noAttach': hopeless(c, 'readWrite'),
    'vdisk.noAttachReadOnly': hopeless(c, 'readOnly'),
    'vdisk.elevation': route,
    'vdisk.attachNowhere': c.kinds.every((k) => k.readOnly === 'no' && !k.missing.length),
  };
}

/** File extensions (without the dot) of images this user can attach in some way: the file picker's filter. */
export function attachableExtensions(c: Capabilities): string[] {
  return [...new Set(c.kinds.filter((k) => k.readOnly !== 'no' || k.missing.length).flatMap((k) => k.extensions.map((e) => e.slice(1))))];
}
