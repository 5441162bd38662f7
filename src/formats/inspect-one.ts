// One file, no chain: detect, then hand the reader to that format's parser.
import * as path from 'path';
import { RangeReader } from './reader';
import { detectWith } from './detect';
import { inspectVhd } from './vhd/inspect';
import { inspectVhdx } from './vhdx/inspect';
import { inspectIso, checkWindowsIsoRules } from './iso/inspect';
import { inspectUdf } from './udf/inspect';
import { inspectQcow2 } from './qcow2/inspect';
import { inspectVmdk } from './vmdk/inspect';
import { inspectVdi } from './vdi/inspect';
import { readPartitionTable } from './partitions';
import { problem } from './problems';
import { extensionProblems } from './extension-check';
import { ParsedImage, baseParsed } from './types';

export interface OneFile { parsed: ParsedImage; fileSize: number }

export async function inspectOne(file: string): Promise<OneFile> {
  const r = await RangeReader.open(file);
  try {
    const parsed = await parseWith(r, file);
    parsed.problems.push(...extensionProblems(file, parsed.format));
    return { parsed, fileSize: r.size };
  } finally {
    await r.close();
  }
}

export async function parseWith(r: RangeReader, file: string): Promise<ParsedImage> {
  const d = await detectWith(r);
  try {
    switch (d.format) {
      case 'vhd': return await inspectVhd(r);
      case 'vhdx': return await inspectVhdx(r);
      case 'iso': return await inspectIso(r, d.descriptors);
      case 'udf': return await inspectUdf(r, d.descriptors);
      case 'qcow2': return await inspectQcow2(r);
      case 'vmdk': return await inspectVmdk(r);
      case 'vdi': return await inspectVdi(r);
      default: return await inspectRaw(r, file);
    }
  } catch (e) {
    // a parser tripping over a hostile field must not hide what the file is
    const p = baseParsed(d.format, 0);
    p.problems.push(problem('bad-header', `cannot parse (${e instanceof Error ? e.message : String(e)})`));
    return p;
  }
}

async function inspectRaw(r: RangeReader, file: string): Promise<ParsedImage> {
  const p = baseParsed('raw', r.size);
  p.subtype = null;
  p.details = { dataOffset: 0, dataSize: r.size, partitionTable: await readPartitionTable(r, 0, r.size, p.problems) };
  // Content decides the format; a file named .iso that is not one is told why Windows would refuse it.
  if (path.extname(file).toLowerCase() === '.iso') p.problems.push(...(await checkWindowsIsoRules(r)));
  return p;
}
