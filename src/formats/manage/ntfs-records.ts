// NTFS on-disk structures the file-system-aware compact reads: the boot sector, MFT records (with their update
// sequence fixups), attributes and runlists. Every length and offset is checked against the structure it is in and
// against the volume; anything that does not fit throws NtfsError, which the caller turns into "do not release".

export class NtfsError extends Error {}

export interface NtfsBoot {
  sectorSize: number;
  clusterSize: number;
  /** Clusters in the volume (the bitmap's length in bits). */
  clusters: number;
  mftLcn: number;
  recordSize: number;
}

/** The NTFS geometry of a boot sector, null when it is not NTFS; throws when NTFS but impossible. */
export function parseBoot(b: Buffer, partitionSize: number): NtfsBoot | null {
  if (b.length < 512 || b.toString('latin1', 3, 11) !== 'NTFS    ') return null;
  const sectorSize = b.readUInt16LE(0x0b);
  if (sectorSize < 256 || sectorSize > 4096 || sectorSize & (sectorSize - 1)) throw new NtfsError(`its boot sector gives ${sectorSize} bytes per sector`);
  const spcRaw = b[0x0d];
  const spc = spcRaw <= 0x80 ? spcRaw : spcRaw >= 0xf4 ? 2 ** (256 - spcRaw) : 0;
  if (!spc || spc & (spc - 1)) throw new NtfsError(`its boot sector gives sectors per cluster ${spcRaw}`);
  const clusterSize = spc * sectorSize;
  if (clusterSize > 2 ** 21) throw new NtfsError(`its cluster size ${clusterSize} is larger than 2 MiB`);
  const totalSectors = Number(b.readBigUInt64LE(0x28));
  if (!Number.isSafeInteger(totalSectors) || totalSectors * sectorSize > partitionSize) {
    throw new NtfsError(`its boot sector gives ${totalSectors} sectors, more than the partition holds (${partitionSize} bytes)`);
  }
  const clusters = Math.floor(totalSectors / spc);
  const mftLcn = Number(b.readBigUInt64LE(0x30));
  if (!clusters || mftLcn >= clusters) throw new NtfsError(`its MFT is at cluster ${mftLcn} of ${clusters}`);
  const cpr = b.readInt8(0x40);
  const recordSize = cpr > 0 ? cpr * clusterSize : cpr < 0 && cpr >= -31 ? 2 ** -cpr : 0;
  if (recordSize < 512 || recordSize > 65536 || recordSize & (recordSize - 1)) throw new NtfsError(`its MFT record size (${cpr}) is not one NTFS uses`);
  return { sectorSize, clusterSize, clusters, mftLcn, recordSize };
}

/** Applies the update sequence fixups of a multi-sector record (FILE, INDX, RSTR) in place. */
export function applyFixups(rec: Buffer, what: string): void {
  const usaOfs = rec.readUInt16LE(4), usaCount = rec.readUInt16LE(6);
  if (usaCount - 1 !== rec.length / 512 || usaOfs & 1 || usaOfs < 8 || usaOfs + usaCount * 2 > 512) {
    throw new NtfsError(`${what}: its update sequence array (offset ${usaOfs}, ${usaCount} entries) does not fit the record`);
  }
  const usn = rec.readUInt16LE(usaOfs);
  for (let i = 1; i < usaCount; i++) {
    const at = i * 512 - 2;
    if (rec.readUInt16LE(at) !== usn) throw new NtfsError(`${what}: sector ${i - 1} was not written with the rest of the record (torn write)`);
    rec.writeUInt16LE(rec.readUInt16LE(usaOfs + 2 * i), at);
  }
}

export interface Attribute {
  type: number;
  name: string;
  flags: number;
  /** Resident value. */
  value?: Buffer;
  /** Non-resident: the runs, first VCN 0 to highest VCN, and the sizes. */
  runs?: Run[];
  lowVcn?: number;
  highVcn?: number;
  dataSize?: number;
  initSize?: number;
}

/** `lcn` null: a sparse run (reads as zeros). */
export interface Run { vcn: number; lcn: number | null; length: number }

export const AT = { attributeList: 0x20, fileName: 0x30, volumeInformation: 0x70, data: 0x80, indexRoot: 0x90, indexAllocation: 0xa0 } as const;

/** A FILE record (fixups applied): its flags and attributes. */
export function parseRecord(rec: Buffer, n: number, clusters: number): { inUse: boolean; base: number; attributes: Attribute[] } {
  if (rec.toString('latin1', 0, 4) !== 'FILE') throw new NtfsError(`MFT record ${n} has no FILE signature`);
  applyFixups(rec, `MFT record ${n}`);
  const flags = rec.readUInt16LE(0x16), bytesInUse = rec.readUInt32LE(0x18);
  if (bytesInUse > rec.length) throw new NtfsError(`MFT record ${n} uses ${bytesInUse} bytes of ${rec.length}`);
  const base = Number(rec.readBigUInt64LE(0x20) & 0xffffffffffffn);
  const attributes: Attribute[] = [];
  let off = rec.readUInt16LE(0x14);
  for (;;) {
    if (off + 4 > bytesInUse) throw new NtfsError(`MFT record ${n}: its attributes run past the bytes in use`);
    const type = rec.readUInt32LE(off);
    if (type === 0xffffffff) break;
    if (off + 24 > bytesInUse) throw new NtfsError(`MFT record ${n}: attribute at ${off} is cut short`);
    const len = rec.readUInt32LE(off + 4);
    if (len < 24 || len % 8 || off + len > bytesInUse) throw new NtfsError(`MFT record ${n}: attribute at ${off} has length ${len}`);
    attributes.push(parseAttribute(rec.subarray(off, off + len), n, clusters));
    off += len;
  }
  return { inUse: (flags & 1) !== 0, base, attributes };
}

function parseAttribute(a: Buffer, n: number, clusters: number): Attribute {
  const type = a.readUInt32LE(0), nonResident = a[8], nameLen = a[9], nameOfs = a.readUInt16LE(10), flags = a.readUInt16LE(12);
  if (nameLen && nameOfs + nameLen * 2 > a.length) throw new NtfsError(`MFT record ${n}: an attribute name runs past the attribute`);
  const name = nameLen ? a.toString('utf16le', nameOfs, nameOfs + nameLen * 2) : '';
  if (!nonResident) {
    const vlen = a.readUInt32LE(16), vofs = a.readUInt16LE(20);
    if (vofs + vlen > a.length) throw new NtfsError(`MFT record ${n}: a resident value runs past its attribute`);
    return { type, name, flags, value: a.subarray(vofs, vofs + vlen) };
  }
  if (a.length < 64) throw new NtfsError(`MFT record ${n}: a non-resident attribute is cut short`);
  const lowVcn = i64(a, 16), highVcn = i64(a, 24), mpOfs = a.readUInt16LE(32);
  const dataSize = i64(a, 48), initSize = i64(a, 56);
  if (lowVcn < 0 || highVcn < lowVcn - 1 || highVcn >= clusters || dataSize < 0 || initSize < 0 || initSize > dataSize || mpOfs >= a.length) {
    throw new NtfsError(`MFT record ${n}: a non-resident attribute has VCNs ${lowVcn}-${highVcn}, sizes ${dataSize}/${initSize}`);
  }
  return { type, name, flags, runs: decodeRuns(a, mpOfs, lowVcn, clusters, n), lowVcn, highVcn, dataSize, initSize };
}

function i64(b: Buffer, at: number): number {
  const v = b.readBigInt64LE(at);
  return v > BigInt(Number.MAX_SAFE_INTEGER) || v < -BigInt(Number.MAX_SAFE_INTEGER) ? -1 : Number(v);
}

function intLE(b: Buffer, at: number, n: number, signed: boolean): number {
  let v = 0n;
  for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[at + i]);
  if (signed && n && b[at + n - 1] & 0x80) v -= 1n << BigInt(8 * n);
  return v > BigInt(Number.MAX_SAFE_INTEGER) || v < -BigInt(Number.MAX_SAFE_INTEGER) ? NaN : Number(v);
}

/** Decodes a runlist (mapping pairs) starting at `p`; every run must lie inside the volume's `clusters`. */
export function decodeRuns(a: Buffer, p: number, vcn: number, clusters: number, n: number): Run[] {
  const runs: Run[] = [];
  let lcn = 0;
  while (p < a.length && a[p] !== 0) {
    const lenBytes = a[p] & 0xf, ofsBytes = a[p] >> 4;
    if (!lenBytes || lenBytes > 8 || ofsBytes > 8 || p + 1 + lenBytes + ofsBytes > a.length) throw new NtfsError(`MFT record ${n}: a runlist entry (header 0x${a[p].toString(16)}) does not fit`);
    const length = intLE(a, p + 1, lenBytes, true);
    if (!(length > 0) || length > clusters) throw new NtfsError(`MFT record ${n}: a run of ${length} clusters`);
    if (ofsBytes) {
      lcn += intLE(a, p + 1 + lenBytes, ofsBytes, true);
      if (!(lcn >= 0) || lcn + length > clusters) throw new NtfsError(`MFT record ${n}: a run at cluster ${lcn} (+${length}) outside the volume (${clusters} clusters)`);
    }
    runs.push({ vcn, lcn: ofsBytes ? lcn : null, length });
    vcn += length;
    if (vcn > clusters) throw new NtfsError(`MFT record ${n}: its runs add up to more clusters than the volume has`);
    p += 1 + lenBytes + ofsBytes;
  }
  if (p >= a.length) throw new NtfsError(`MFT record ${n}: a runlist without its end mark`);
  return runs;
}

/** Checks that a non-resident attribute is whole in this record (VCN 0 to its end) and covers `bytes`. */
export function wholeRuns(at: Attribute, clusterSize: number, what: string): Run[] {
  if (!at.runs) throw new NtfsError(`${what} is resident where NTFS keeps it non-resident`);
  if (at.lowVcn !== 0) throw new NtfsError(`${what} continues in another MFT record (an attribute list), which this compaction does not follow`);
  const total = at.runs.reduce((s, r) => s + r.length, 0);
  if (total !== at.highVcn! + 1) throw new NtfsError(`${what} is spread over several MFT records (its runs end at VCN ${total - 1}, the attribute at ${at.highVcn}), which this compaction does not follow`);
  if (at.dataSize! > total * clusterSize) throw new NtfsError(`${what}: ${at.dataSize} bytes in ${total} clusters`);
  return at.runs;
}
