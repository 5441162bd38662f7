// Seeds for the block target (docs/fuzzing.md): small images that hold data, so that mutations reach the data
// paths (BAT entries and sector bitmaps, L1/L2 tables and compressed clusters, grain directories and grain markers,
// VDI block maps, backing files and differencing parents). Named `data-*`, which also gives them the block regions
// of block-layouts.ts.
import * as cp from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { createDifferencingDisk } from '../../src/formats';
import { writeVhdChildBlock, writeVhdxChildBlock } from '../support/diff-writer';
import { pattern } from '../support/pattern';
import type { FuzzFormat, SeedEntry } from './corpus';

export const BLOCK_FUZZ_FORMATS = ['vhd', 'vhdx', 'qcow2', 'vmdk', 'vdi'] as const;
const MiB = 1 << 20;

function qemu(args: string[], cwd: string): void {
  cp.execFileSync('qemu-img', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function source(dir: string, size: number): string {
  const f = path.join(dir, 'data-source.bin');
  const b = Buffer.alloc(size);
  for (const [at, n] of [[0, 4096], [MiB - 1000, 5000], [size - 70000, 70000]]) pattern(n, at + 1).copy(b, at);
  b.fill(0xab, MiB + 8192, MiB + 16384);
  fs.writeFileSync(f, b);
  return f;
}

export async function generateBlockSeeds(dir: string, format: FuzzFormat, add: (e: SeedEntry) => void): Promise<void> {
  const gen = (name: string, extra: Partial<SeedEntry> = {}) => add({ name, format, origin: 'generated', ...extra });
  const src = source(dir, 2 * MiB + 3 * 512);
  const conv = (fmt: string, out: string, opts: string[] = []) => qemu(['convert', '-q', '-f', 'raw', '-O', fmt, ...opts, src, out], dir);
  switch (format) {
    case 'vhd':
      conv('vpc', 'data-dyn.vhd', ['-o', 'subformat=dynamic']);
      conv('vpc', 'data-fixed.vhd', ['-o', 'subformat=fixed']);
      await createDifferencingDisk(path.join(dir, 'data-dyn.vhd'), path.join(dir, 'data-diff.vhd'));
      writeVhdChildBlock(path.join(dir, 'data-diff.vhd'), 0, [[3, 5], [64, 100]], 1);
      gen('data-dyn.vhd'); gen('data-fixed.vhd'); gen('data-diff.vhd', { parent: 'data-dyn.vhd' });
      break;
    case 'vhdx':
      conv('vhdx', 'data-dyn.vhdx', ['-o', 'block_size=1M']);
      await createDifferencingDisk(path.join(dir, 'data-dyn.vhdx'), path.join(dir, 'data-diff.vhdx'));
      await writeVhdxChildBlock(path.join(dir, 'data-diff.vhdx'), 0, 'partial', [[3, 5], [64, 100]], 1);
      await writeVhdxChildBlock(path.join(dir, 'data-diff.vhdx'), 1, 'full', [], 2);
      gen('data-dyn.vhdx'); gen('data-diff.vhdx', { parent: 'data-dyn.vhdx' });
      break;
    case 'qcow2':
      conv('qcow2', 'data-v2.qcow2', ['-o', 'compat=0.10,cluster_size=4096']);
      conv('qcow2', 'data-comp.qcow2', ['-c', '-o', 'cluster_size=4096']);
      conv('qcow2', 'data-xl2.qcow2', ['-o', 'extended_l2=on,cluster_size=16384']);
      qemu(['create', '-q', '-f', 'qcow2', '-o', 'cluster_size=4096', '-b', 'data-v2.qcow2', '-F', 'qcow2', 'data-top.qcow2'], dir);
      cp.execFileSync('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x5c 4096 8192', '-c', 'write -z 65536 4096', path.join(dir, 'data-top.qcow2')], { stdio: 'ignore' });
      gen('data-v2.qcow2'); gen('data-comp.qcow2'); gen('data-xl2.qcow2'); gen('data-top.qcow2', { parent: 'data-v2.qcow2' });
      break;
    case 'vmdk':
      conv('vmdk', 'data-sparse.vmdk', ['-o', 'subformat=monolithicSparse']);
      conv('vmdk', 'data-stream.vmdk', ['-o', 'subformat=streamOptimized']);
      conv('vmdk', 'data-flat.vmdk', ['-o', 'subformat=monolithicFlat']);
      qemu(['create', '-q', '-f', 'vmdk', '-b', 'data-sparse.vmdk', '-F', 'vmdk', 'data-child.vmdk'], dir);
      cp.execFileSync('qemu-io', ['-f', 'vmdk', '-c', 'write -P 0x5d 65536 4096', path.join(dir, 'data-child.vmdk')], { stdio: 'ignore' });
      gen('data-sparse.vmdk'); gen('data-stream.vmdk'); gen('data-flat.vmdk'); gen('data-child.vmdk', { parent: 'data-sparse.vmdk' });
      break;
    case 'vdi':
      conv('vdi', 'data-dyn.vdi');
      conv('vdi', 'data-static.vdi', ['-o', 'static=on']);
      gen('data-dyn.vdi'); gen('data-static.vdi');
      break;
    default:
      break;
  }
}
