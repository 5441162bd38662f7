// Parameters of the image-management commands from CLI flags (kept apart so the unit suite can test them).
import type { ConvertParams, CreateImageParams, ResizeParams } from '../common/protocol';
import { parseSize } from '../common/sizes';

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
  };
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
  return { path: image, ...(smallest ? { smallest } : { size: n }), dryRun: get('--dry-run') === true };
}
