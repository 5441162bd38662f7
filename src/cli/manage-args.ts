// Parameters of the image-management commands from CLI flags (kept apart so the unit suite can test them).
import type { ConvertParams, CreateImageParams, ResizeParams } from '../common/protocol';
import { parseSize } from '../common/sizes';
import { INIT_FILE_SYSTEMS, InitSpec } from '../common/init-spec';

export class ArgError extends Error {}

const oneOf = <T extends string>(flag: string, v: string | true | undefined, allowed: readonly T[]): T => {
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) throw new ArgError(`${flag} is ${allowed.join(' or ')}`);
  return v as T;
};

const size = (flag: string, v: string | true | undefined): number | undefined => {
  if (v === undefined) return undefined;
  if (v === true) throw new ArgError(`${flag} needs a value`);
  try { return parseSize(v); } catch (e) { throw new ArgError(`${flag}: ${(e as Error).message}`); }
};

const sector = (flag: string, v: string | true | undefined): number | undefined =>
  v === undefined ? undefined : Number(oneOf(flag, v, ['512', '4096'] as const));

export function createArgs(file: string, get: (flag: string) => string | true | undefined): CreateImageParams {
  const s = size('--size', get('--size'));
  if (s === undefined) throw new ArgError('create needs --size');
  return {
    path: file, size: s,
    format: oneOf('--format', get('--format'), ['vhd', 'vhdx'] as const),
    type: oneOf('--type', get('--type'), ['dynamic', 'fixed'] as const),
    blockSize: size('--block-size', get('--block-size')),
    logicalSectorSize: sector('--logical-sector', get('--logical-sector')),
    physicalSectorSize: sector('--physical-sector', get('--physical-sector')),
    ...initArgs(get),
  };
}

/** --init gpt, --fs ext4|ntfs|fat32|exfat (implies --init gpt), --label L: only the flags given. */
function initArgs(get: (flag: string) => string | true | undefined): InitSpec {
  const out: InitSpec = {};
  if (get('--init') !== undefined) out.init = oneOf('--init', get('--init'), ['gpt'] as const);
  if (get('--fs') !== undefined) out.fileSystem = oneOf('--fs', get('--fs'), INIT_FILE_SYSTEMS);
  const label = get('--label');
  if (label === true) throw new ArgError('--label needs a value');
  if (label !== undefined) {
    if (out.fileSystem === undefined) throw new ArgError('--label names the file system: give --fs too');
    out.label = label;
  }
  return out;
}

export function convertArgs(source: string, dest: string, get: (flag: string) => string | true | undefined): ConvertParams {
  const t = get('--type');
  return {
    source, dest, format: oneOf('--format', get('--format'), ['vhd', 'vhdx', 'raw'] as const),
    type: t === undefined ? undefined : oneOf('--type', t, ['dynamic', 'fixed'] as const), force: get('--force') === true,
  };
}

export function resizeArgs(image: string, get: (flag: string) => string | true | undefined): ResizeParams {
  const smallest = get('--smallest') === true, n = size('--size', get('--size'));
  if (smallest === (n !== undefined)) throw new ArgError('resize needs --size SIZE or --smallest (one of them)');
  return { path: image, ...(smallest ? { smallest } : { size: n }), dryRun: get('--dry-run') === true, ...(get('--force') === true ? { force: true } : {}) };
}
