// A file whose extension names a format its content does not have ("bad.vhdx" holding text): the content decides
// what the file is, and this problem says that the name lies. Windows refuses such a file ("the disk image file is
// corrupted"); vdisk refuses to attach it unless the user explicitly asks for a raw disk.
import * as path from 'path';
import type { ImageFormat, Problem } from '../common/image';
import { problem } from './problems';

const EXPECTED: Record<string, { formats: ImageFormat[]; name: string }> = {
  '.vhd': { formats: ['vhd'], name: 'VHD' },
  '.vhdx': { formats: ['vhdx'], name: 'VHDX' },
  '.avhdx': { formats: ['vhdx'], name: 'VHDX' },
  '.qcow2': { formats: ['qcow2'], name: 'QCOW2' },
  '.vmdk': { formats: ['vmdk'], name: 'VMDK' },
  '.vdi': { formats: ['vdi'], name: 'VDI' },
  '.iso': { formats: ['iso', 'udf'], name: 'ISO 9660 or UDF' },
};

const FOUND: Record<ImageFormat, string> = {
  vhd: 'a VHD', vhdx: 'a VHDX', iso: 'an ISO 9660 image', udf: 'a UDF image', qcow2: 'a QCOW2 image', vmdk: 'a VMDK', vdi: 'a VDI',
  raw: 'raw data (no image signature)',
};

/** The problem for `file` whose content is `found`, or none. A raw `.iso` is left to the ISO rules (iso-no-volume-descriptor). */
export function extensionProblems(file: string, found: ImageFormat): Problem[] {
  const ext = path.extname(file).toLowerCase();
  const want = EXPECTED[ext];
  if (!want || want.formats.includes(found) || (ext === '.iso' && found === 'raw')) return [];
  return [problem('content-does-not-match-extension', `${path.basename(file)} is named ${ext} (${want.name} expected) but its content is ${FOUND[found]}`)];
}
