// Raw: the file is the disk. Whatever no other format claims.
import * as path from 'path';
import { describeFormat } from '../descriptor';
import { checkWindowsIsoRules } from '../iso/inspect';
import { readPartitionTable } from '../partitions';
import type { RangeReader } from '../reader';
import { baseParsed, ParsedImage } from '../types';

async function inspectRaw(r: RangeReader, file: string): Promise<ParsedImage> {
  const p = baseParsed('raw', r.size);
  p.subtype = null;
  p.details = { dataOffset: 0, dataSize: r.size, partitionTable: await readPartitionTable(r, 0, r.size, p.problems) };
  // Content decides the format; a file named .iso that is not one is told why Windows would refuse it.
  if (path.extname(file).toLowerCase() === '.iso') p.problems.push(...(await checkWindowsIsoRules(r)));
  return p;
}

export const rawFormat = describeFormat('raw', {
  detectOrder: Number.MAX_SAFE_INTEGER,
  detect: async () => true,
  inspect: (r, ctx) => inspectRaw(r, ctx.file),
  qemuDriver: null,
});
