// One file, no chain: detect, then hand the reader to that format's parser.
import { RangeReader } from './reader';
import { KeptBytes, keepBytes } from './same-bytes';
import { detectWith } from './detect';
import { problem } from './problems';
import { extensionProblems } from './extension-check';
import { ParsedImage, baseParsed } from './types';

export interface OneFile {
  parsed: ParsedImage;
  fileSize: number;
  /** The file as opened (RangeReader.stamp). */
  stamp: string;
  /**
   * With `record`: every byte range the parse read and its bytes. `parsed` is a function of these bytes, the file's
   * size and its path alone (parsers read only through the RangeReader), which is what same-bytes.ts relies on.
   */
  kept?: KeptBytes;
}

export async function inspectOne(file: string, opts: { record?: boolean } = {}): Promise<OneFile> {
  const r = await RangeReader.open(file);
  try {
    if (opts.record) r.startRecording();
    const parsed = await parseWith(r, file);
    parsed.problems.push(...extensionProblems(file, parsed.format));
    // a parse that met a read error (reported as a problem by parseWith) may read differently next time: no bytes kept
    const ranges = r.readFailed ? null : r.ranges();
    return { parsed, fileSize: r.size, stamp: r.stamp, ...(ranges ? { kept: keepBytes(ranges) } : {}) };
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
