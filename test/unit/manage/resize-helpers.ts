// What the resize suites share: the kinds under test, making and writing images with qemu, reading them back
// through openDisk, qemu-img and libvhdi.
import * as assert from 'assert';
import * as crypto from 'crypto';
import * as fs from 'fs';
import { createImage } from '../../../src/formats/manage/create';
import { openDisk } from '../../../src/formats';
import { qemuInfo, run, vhdiInfo } from '../formats/helpers';

export const MiB = 2 ** 20;
/** Every test disk starts at 16 MiB; data at 1-3 MiB, 12-13 MiB and one sector at 13 MiB: the smallest safe size is 14 MiB. */
export const BASE = 16 * MiB, GROWN = 48 * MiB, SMALLEST = 14 * MiB;
export const DATA = ['write -P 0x5a 1M 2M', 'write -P 0x3c 12M 1M', 'write -P 0x11 13M 512'];
export type Kind = 'raw' | 'qcow2' | 'vhd-fixed' | 'vhd-dynamic' | 'vhdx-fixed' | 'vhdx-dynamic';
export const KINDS: Kind[] = ['raw', 'qcow2', 'vhd-fixed', 'vhd-dynamic', 'vhdx-fixed', 'vhdx-dynamic'];
export const EXT: Record<Kind, string> = { raw: 'img', qcow2: 'qcow2', 'vhd-fixed': 'vhd', 'vhd-dynamic': 'vhd', 'vhdx-fixed': 'vhdx', 'vhdx-dynamic': 'vhdx' };
export const QF: Record<Kind, string> = { raw: 'raw', qcow2: 'qcow2', 'vhd-fixed': 'vpc', 'vhd-dynamic': 'vpc', 'vhdx-fixed': 'vhdx', 'vhdx-dynamic': 'vhdx' };

export async function make(file: string, kind: Kind, size = BASE): Promise<void> {
  if (kind === 'raw') { fs.writeFileSync(file, ''); fs.truncateSync(file, size); }
  else if (kind === 'qcow2') run('qemu-img', ['create', '-q', '-f', 'qcow2', file, String(size)]);
  else {
    const [format, type] = kind.split('-') as ['vhd' | 'vhdx', 'fixed' | 'dynamic'];
    await createImage({ path: file, format, type, size, ...(format === 'vhdx' && type === 'dynamic' ? { blockSize: MiB } : {}) });
  }
}

export function write(file: string, kind: Kind, cmds: string[]): void {
  run('qemu-io', ['-f', QF[kind], ...cmds.flatMap((c) => ['-c', c]), file]);
}

export async function diskBytes(file: string): Promise<Buffer> {
  const d = await openDisk(file);
  try { const b = Buffer.alloc(d.size); await d.read(b, 0); return b; } finally { await d.close(); }
}

export const sha = (f: string) => crypto.createHash('sha256').update(fs.readFileSync(f)).digest('hex');
export const isZero = (b: Buffer) => b.every((x) => x === 0);

/** qemu-img's view of the disk as raw bytes (a fixed VHD's footer shows as one more sector, a qemu quirk). */
export function qemuRaw(file: string, kind: Kind, size: number): Buffer {
  const out = `${file}.qemu.raw`;
  run('qemu-img', ['convert', '-f', QF[kind], '-O', 'raw', file, out]);
  try { return fs.readFileSync(out).subarray(0, size); } finally { fs.rmSync(out); }
}

export async function checkReaders(file: string, kind: Kind, size: number): Promise<void> {
  const q = qemuInfo(file, QF[kind])['virtual-size'];
  if (kind === 'vhd-fixed') {
    // qemu sizes some fixed VHDs by the file (footer included): it must see the disk as one newly made at that size
    const fresh = `${file}.fresh.vhd`;
    await make(fresh, kind, size);
    try { assert.strictEqual(q, qemuInfo(fresh, 'vpc')['virtual-size'], 'qemu-img info: as a new fixed VHD of that size'); } finally { fs.rmSync(fresh); }
  } else assert.strictEqual(q, size, 'qemu-img info: the new virtual size');
  if (kind === 'qcow2' || kind.startsWith('vhdx')) assert.match(run('qemu-img', ['check', '-f', QF[kind], file]), /No errors were found/);
  if (kind.startsWith('vhd')) assert.strictEqual(vhdiInfo(file).mediaSize, size, 'libvhdi reads the new size');
}

/** The first `n` bytes of the disk (openDisk), for disks too large to read whole. */
export async function head(file: string, n: number): Promise<Buffer> {
  const d = await openDisk(file);
  try { const b = Buffer.alloc(n); await d.read(b, 0); return b; } finally { await d.close(); }
}
export const GiB = 2 ** 30;
