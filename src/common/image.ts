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

export interface ChainLink {
  path: string;
  format: ImageFormat;
  subtype: ImageSubtype;
  id: string | null;
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
