// What the format layer says about an image file; crosses the worker boundary as-is.
// Field names are fixed by the CLI's `inspect --json` contract (docs/protocol.md).

import type { ImageFormat } from './formats';
import type { Problem } from './problems';

export type { ImageFormat };
export type ImageSubtype = 'fixed' | 'dynamic' | 'differencing' | null;

export type { Problem };

export interface ParentLink {
  /** The id the child names for its parent (VHD: parent unique id; VHDX: parent_linkage). */
  id: string | null;
  name: string | null;
  locators: { relative?: string; absolute?: string; volume?: string };
  /** Where the parent was found, or null when it could not be. */
  resolvedPath: string | null;
}

/**
 * How a file is pulled into an image: `image` the file itself; `parent` a VHD/VHDX/VMDK parent; `backing` a qcow2
 * backing file; `data-file` a qcow2 external data file; `extent` a VMDK extent. (src/formats/layers.ts decides.)
 */
export type LayerRole = 'image' | 'parent' | 'backing' | 'data-file' | 'extent';

/** One file of an image's chain (every layer: parents, backing files, data files, extents). */
export interface ChainLink {
  path: string;
  format: ImageFormat;
  subtype: ImageSubtype;
  id: string | null;
  /** Absent in records written before layers had roles: then chain[0] is the image and the rest its parents. */
  role?: LayerRole;
  /** Ancestor level as GetStorageDependencyInformation counts it: 1 the image (and its extents / data file), 2 its parent... */
  level?: number;
  /** Index in `chain` of the layer that pulls this one in (absent for the image). */
  of?: number;
  /** The name as the image that pulls it in writes it (extent file, backing file name). */
  name?: string;
  /** VMDK extents: the descriptor's type (FLAT, SPARSE...), size and start offset in the file, both in bytes. */
  extent?: { index: number; type: string; size: number; offset: number };
}

export interface ImageInfo {
  path: string;
  format: ImageFormat;
  subtype: ImageSubtype;
  virtualSize: number;
  fileSize: number;
  blockSize: number | null;
  logicalSectorSize: number;
  physicalSectorSize: number;
  /** Lowercase GUID a child's parent link names: VHD unique id, VHDX DataWriteGuid. */
  id: string | null;
  /** VHDX page-83 Virtual Disk ID, else null. */
  virtualDiskId: string | null;
  creator: string | null;
  parent: ParentLink | null;
  /** Self first. */
  chain: ChainLink[];
  needsLogReplay: boolean;
  problems: Problem[];
  /** Format-specific extras (volume label, El Torito, partition table, BAT summary, ...). */
  details?: Record<string, unknown>;
}
