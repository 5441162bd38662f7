// Every image format vdisk knows, as every part may see it (the extension host too): names and file extensions,
// no parsers, no I/O. The format layer's registry (src/formats/registry.ts) has one descriptor per row, typed so a
// row without one is a compile error; package.json's Explorer menus and the inspector's editor selector are
// checked against this table (test/unit/format-table.test.ts). Adding a format: one folder, one row here.

export interface FormatRow {
  readonly displayName: string;
  /** File extensions (lowercase, no dot) that get the Explorer's actions. Only content decides the format. */
  readonly extensions: readonly string[];
  /**
   * Where the Explorer offers Attach (package.json): 'all' on Linux and macOS, and on Windows when VirtDisk attaches
   * it (`virtDisk`); 'linux' only on Linux (only its engines read the format). Inspect is offered everywhere.
   */
  readonly menus: 'all' | 'linux';
  /** Opening the file (double-click) shows the Disk Image Inspector (package.json customEditors). */
  readonly opensInInspector: boolean;
  /** A differencing child can be created over it: the Explorer offers Create Differencing Disk. */
  readonly differencingParent: boolean;
  /** The VIRTUAL_STORAGE_TYPE device VirtDisk attaches it as; null: Windows cannot attach it (no Attach there). */
  readonly virtDisk: 'vhd' | 'vhdx' | 'iso' | null;
  /** A disc image: attached read-only only, so the Explorer offers no read-write Attach on it. */
  readonly readOnlyMedium: boolean;
  /** Extensions (of `extensions`) that only a differencing child carries (Hyper-V's .avhdx). */
  readonly childExtensions?: readonly string[];
}

export const FORMAT_TABLE = {
  vhd: { displayName: 'VHD', extensions: ['vhd'], menus: 'all', opensInInspector: true, differencingParent: true, virtDisk: 'vhd', readOnlyMedium: false },
  vhdx: { displayName: 'VHDX', extensions: ['vhdx', 'avhdx'], menus: 'all', opensInInspector: true, differencingParent: true, virtDisk: 'vhdx', readOnlyMedium: false, childExtensions: ['avhdx'] },
  iso: { displayName: 'ISO 9660', extensions: ['iso'], menus: 'all', opensInInspector: true, differencingParent: false, virtDisk: 'iso', readOnlyMedium: true },
  // UDF images are named .iso: the extension belongs to the iso row, content tells them apart
  udf: { displayName: 'UDF', extensions: [], menus: 'all', opensInInspector: false, differencingParent: false, virtDisk: 'iso', readOnlyMedium: true },
  qcow2: { displayName: 'QCOW2', extensions: ['qcow2'], menus: 'linux', opensInInspector: false, differencingParent: false, virtDisk: null, readOnlyMedium: false },
  vmdk: { displayName: 'VMDK', extensions: ['vmdk'], menus: 'linux', opensInInspector: false, differencingParent: false, virtDisk: null, readOnlyMedium: false },
  vdi: { displayName: 'VDI', extensions: ['vdi'], menus: 'linux', opensInInspector: false, differencingParent: false, virtDisk: null, readOnlyMedium: false },
  raw: { displayName: 'Raw', extensions: ['img'], menus: 'all', opensInInspector: false, differencingParent: false, virtDisk: null, readOnlyMedium: false },
} as const satisfies Record<string, FormatRow>;

export type ImageFormat = keyof typeof FORMAT_TABLE;

export const IMAGE_FORMATS = Object.keys(FORMAT_TABLE) as ImageFormat[];

/** "VHDX", "ISO 9660"; an unknown id (from a newer worker) as it is. */
export function formatName(format: string): string {
  return (FORMAT_TABLE as Record<string, FormatRow>)[format]?.displayName ?? format;
}

/** The extensions of every format whose row satisfies `which`. */
export function extensionsOf(which: (row: FormatRow) => boolean): string[] {
  return IMAGE_FORMATS.flatMap((f) => (which(FORMAT_TABLE[f]) ? [...FORMAT_TABLE[f].extensions] : []));
}
