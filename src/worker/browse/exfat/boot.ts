// The exFAT boot region (Microsoft's exFAT specification, section 3): the main boot sector and its checksum sector,
// with the backup region (sectors 12-23) used when the main one is damaged. Every field is checked against the
// volume it sits in, so nothing read later can point outside it.

export class ExfatError extends Error { }

export interface ExfatGeometry {
  sectorSize: number;
  clusterSize: number;
  /** Byte offsets inside the volume. */
  fatOffset: number;
  fatLength: number;
  heapOffset: number;
  clusterCount: number;
  rootCluster: number;
  /** 0 or 1: the FAT in use (TexFAT keeps two). */
  activeFat: number;
}

export const SIGNATURE = 'EXFAT   ';

/** The checksum of the 11 boot sectors (VolumeFlags and PercentInUse excluded). */
export function bootChecksum(region: Uint8Array, sectorSize: number): number {
  let sum = 0;
  for (let i = 0; i < sectorSize * 11; i++) {
    if (i === 106 || i === 107 || i === 112) continue;
    sum = (((sum & 1) ? 0x80000000 : 0) + (sum >>> 1) + region[i]) >>> 0;
  }
  return sum;
}

/**
 * `read(offset, length)` reads the volume. Returns the geometry of the first boot region (main, then backup) whose
 * signature, checksum and fields are valid; throws an ExfatError saying what is wrong otherwise.
 */
export async function readBoot(read: (offset: number, length: number) => Promise<Uint8Array>, volumeSize: number): Promise<ExfatGeometry> {
  const first = await read(0, 512);
  const shift = first[108];
  if (shift < 9 || shift > 12) throw new ExfatError(`boot sector: bytes per sector 2^${shift} (must be 512 to 4096)`);
  const sectorSize = 1 << shift;
  const problems: string[] = [];
  for (const [at, which] of [[0, 'main'], [12 * sectorSize, 'backup']] as const) {
    if (at + 12 * sectorSize > volumeSize) { problems.push(`${which}: outside the volume`); continue; }
    const region = await read(at, 12 * sectorSize);
    try { return check(region, sectorSize, volumeSize); } catch (e) { problems.push(`${which}: ${(e as Error).message}`); }
  }
  throw new ExfatError(`boot region damaged (${problems.join('; ')})`);
}

function check(b: Uint8Array, sectorSize: number, volumeSize: number): ExfatGeometry {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (String.fromCharCode(...b.subarray(3, 11)) !== SIGNATURE) throw new Error('no exFAT signature');
  if (b[510] !== 0x55 || b[511] !== 0xaa) throw new Error('no boot signature 55 AA');
  if (b.subarray(11, 64).some((x) => x !== 0)) throw new Error('bytes 11-63 are not zero');
  if (1 << b[108] !== sectorSize) throw new Error('bytes per sector differs from the main region');
  const sum = bootChecksum(b, sectorSize);
  for (let i = 0; i < sectorSize; i += 4) {
    if (dv.getUint32(11 * sectorSize + i, true) !== sum) throw new Error(`checksum mismatch (computed ${sum.toString(16)})`);
  }
  const spcShift = b[109];
  if (b[108] + spcShift > 25) throw new Error(`cluster size 2^${b[108] + spcShift} bytes (at most 32 MiB)`);
  const clusterSize = sectorSize << spcShift;
  const fats = b[110];
  if (fats !== 1 && fats !== 2) throw new Error(`${fats} FATs (1 or 2)`);
  const volumeLength = Number(dv.getBigUint64(72, true)) * sectorSize;
  const fatOffset = dv.getUint32(80, true) * sectorSize;
  const fatLength = dv.getUint32(84, true) * sectorSize;
  const heapOffset = dv.getUint32(88, true) * sectorSize;
  const clusterCount = dv.getUint32(92, true);
  const rootCluster = dv.getUint32(96, true);
  const activeFat = fats === 2 ? dv.getUint16(106, true) & 1 : 0;
  if (!Number.isSafeInteger(volumeLength) || volumeLength > volumeSize) {
    throw new Error(`volume length ${volumeLength} bytes is more than the ${volumeSize} bytes of the partition`);
  }
  if (fatOffset < 24 * sectorSize || fatLength < (clusterCount + 2) * 4 || fatOffset + fats * fatLength > heapOffset) {
    throw new Error(`FAT at ${fatOffset} (${fatLength} bytes, ${fats}) does not fit before the cluster heap at ${heapOffset} for ${clusterCount} clusters`);
  }
  if (clusterCount < 1 || clusterCount > 0xfffffff5 || heapOffset + clusterCount * clusterSize > volumeLength) {
    throw new Error(`cluster heap (${clusterCount} clusters of ${clusterSize} bytes at ${heapOffset}) does not fit in the volume`);
  }
  if (rootCluster < 2 || rootCluster > clusterCount + 1) throw new Error(`root folder at cluster ${rootCluster}, outside 2..${clusterCount + 1}`);
  return { sectorSize, clusterSize, fatOffset: fatOffset + activeFat * fatLength, fatLength, heapOffset, clusterCount, rootCluster, activeFat };
}
