// The problems the format layer names in an image or its chain (documented in docs/formats.md). They cross the
// worker boundary inside ImageInfo and error data; views place them by their structured fields, never by reading
// the message.

export const PROBLEM_CODES = {
  'footer-missing': 'The VHD footer at the end of the file is missing or damaged',
  'footer-checksum': 'The VHD footer checksum does not match its contents',
  'header-checksum': 'A header checksum does not match its contents',
  'bad-header': 'A header or descriptor has an invalid signature, version or field value',
  'truncated': 'The file is shorter than its own structures say',
  'bat-out-of-range': 'The block allocation table points outside the file or does not cover the whole disk',
  'region-table-invalid': 'The VHDX region table is missing, damaged or lacks a required region',
  'metadata-invalid': 'The VHDX metadata is missing, damaged or lacks a required item',
  'log-replay-required': 'The VHDX log must be replayed before the disk can be read (it was not closed cleanly)',
  'parent-locator-missing': 'The differencing disk names no usable parent location',
  'parent-missing': 'The parent of this differencing disk cannot be found',
  'parent-unreadable': 'The parent file exists but is not a VHD or VHDX that can be read',
  'parent-id-mismatch': 'The parent found does not have the identity the child expects (it was modified or replaced)',
  'chain-cycle': 'The differencing chain loops back on itself',
  'chain-too-deep': 'The differencing chain is deeper than the allowed limit',
  'iso-size-not-multiple-of-2048': 'The ISO file size is not a multiple of 2048 bytes (Windows refuses it)',
  'iso-too-small': 'The ISO file is smaller than 34,816 bytes (Windows refuses it)',
  'iso-no-volume-descriptor': 'No ISO 9660 (CD001) or UDF volume descriptor was found',
  'content-does-not-match-extension': 'The file name\'s extension names a format the content does not have',
  'layer-missing': 'A file this image pulls in (backing file, data file, extent or parent) cannot be found',
  'layer-not-a-file': 'A file this image pulls in is not a regular file (a device, FIFO, socket, or a file under /proc, /sys or /dev)',
  'layer-unreadable': 'A file this image pulls in cannot be opened with your rights, or is not the format the image declares for it',
  'layer-unsupported': 'The image pulls in a location vdisk does not follow (a protocol or json: name, a Windows path, a raw device mapping, an unknown format)',
  'partition-table-invalid': 'The MBR or GPT partition table contradicts itself or points past the end of the disk',
} as const;

export type ProblemCode = keyof typeof PROBLEM_CODES;

/** A place a missing parent was looked for, in the order it was tried. */
export interface ParentCandidate { how: 'relative' | 'volume' | 'absolute' | 'name' | 'folder'; path: string }

export interface Problem {
  code: ProblemCode;
  /** For people (the CLI, logs, the tree's description): never parsed. */
  message: string;
  /** The chain layer whose file has the problem, when it is not the image itself (0 = the image, 1 = its parent...). */
  layer?: { index: number; path: string };
  /** parent-missing: every place the parent was looked for. */
  tried?: ParentCandidate[];
}
