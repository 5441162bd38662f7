// One file, no chain: detect, then hand the reader to that format's parser.
import { RangeReader } from './reader';
import { detectWith } from './detect';
import { problem } from './problems';
import { extensionProblems } from './extension-check';
import { ParsedImage, baseParsed } from './types';

export interface OneFile {
  parsed: ParsedImage;
  fileSize: number;
  /** The file as opened (RangeReader.stamp). */
  stamp: string;
}

export async function inspectOne(file: string): Promise<OneFile> {
  const r = await RangeReader.open(file);
  try {
    const parsed = await parseWith(r, file);
    parsed.problems.push(...extensionProblems(file, parsed.format));
    return { parsed, fileSize: r.size, stamp: r.stamp };
  } finally {
    await r.close();
  }
}

export async function parseWith(r: RangeReader, file: string): Promise<ParsedImage> {
  const d = await detectWith(r);
  try {
    return await d.format.inspect(r, { file, descriptors: d.descriptors });
  } catch (e) {
    // a parser tripping over a hostile field must not hide what the file is
    const p = baseParsed(d.format.id, 0);
    p.problems.push(problem('bad-header', `cannot parse (${e instanceof Error ? e.message : String(e)})`));
    return p;
  }
}
