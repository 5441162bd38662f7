// qcow2 header (big-endian): size, cluster size, backing file name, and the header checks qemu makes before it
// opens an image (table sizes, alignment, feature bits), so an image qemu refuses is never reported clean.
import { RangeReader, u64be } from '../reader';
import { problem } from '../problems';
import { ParsedImage, baseParsed } from '../types';

export const QCOW_MAGIC = 0x514649fb; // "QFI\xfb"
/** qemu's limits (block/qcow2.h): L1 table 32 MiB, refcount table 8 MiB, 65536 snapshots. */
const MAX_L1_BYTES = 32 * 1024 * 1024;
const MAX_REFTABLE_BYTES = 8 * 1024 * 1024;
const MAX_SNAPSHOTS = 65536;
/** Incompatible feature bits qemu knows: dirty, corrupt, external data file, compression type, extended L2. */
const KNOWN_INCOMPATIBLE = 0x1fn;
/** The backing-format header extension; qemu keeps the name in 16 bytes. */
const BACKING_FORMAT_EXT = 0xe2792aca;
/** The external data file name extension ("DATA"); only followed when incompatible bit 2 is set. */
const DATA_FILE_EXT = 0x44415441;

export async function inspectQcow2(r: RangeReader): Promise<ParsedImage> {
  const b = await r.readExact(0, 104);
  const p = baseParsed('qcow2', 0);
  p.subtype = 'dynamic';
  if (!b) {
    p.problems.push(problem('truncated', 'qcow header'));
    return p;
  }
  const bad = (d: string) => p.problems.push(problem('bad-header', d));
  const version = b.readUInt32BE(4);
  const clusterBits = b.readUInt32BE(20);
  const size = u64be(b, 24);
  p.details.version = version;
  // version 1 is the old qcow format, laid out differently: not a qcow2 image
  if (version < 2 || version > 3) bad(`qcow version ${version}`);
  if (clusterBits >= 9 && clusterBits <= 21) p.blockSize = 2 ** clusterBits;
  else bad(`cluster bits ${clusterBits}`);
  if (size === null) bad('virtual size does not fit 2^53');
  else p.virtualSize = size;
  const crypt = b.readUInt32BE(32);
  p.details.encrypted = crypt !== 0;
  if (crypt > 2) bad(`encryption method ${crypt}`);
  const backingOffset = u64be(b, 8);
  const backingLen = b.readUInt32BE(16);
  const cluster = p.blockSize ?? 512;
  if (b.readBigUInt64BE(8) !== 0n) {
    if (backingOffset === null || backingOffset > cluster || backingLen > Math.min(1023, cluster - backingOffset) || backingOffset + backingLen > r.size) {
      bad('backing file name outside the first cluster or the file');
    } else if (backingLen) {
      p.details.backingFile = (await r.readExact(backingOffset, backingLen))!.toString('utf8');
    }
  }
  if (version >= 2 && version <= 3 && p.blockSize) {
    const ctype = version === 3 ? (await r.read(104, 1))[0] : undefined; // the compression type byte (v3, header length >= 105)
    checkTables(b, r.size, p.blockSize, version, size, bad, (d) => p.problems.push(problem('truncated', d)), ctype);
    const ext = await checkExtensions(r, b, p.blockSize, version, backingOffset, bad);
    if (ext.backingFormat !== undefined) p.details.backingFormat = ext.backingFormat;
    if (version === 3 && (b.readBigUInt64BE(72) & 4n)) p.details.dataFile = ext.dataFile ?? null;
  }
  return p;
}

/** Header extensions (magic, length, data padded to 8) between the header and the backing name or cluster end. */
async function checkExtensions(r: RangeReader, b: Buffer, cluster: number, version: number, backingOffset: number | null,
  bad: (d: string) => void): Promise<{ backingFormat?: string; dataFile?: string }> {
  const out: { backingFormat?: string; dataFile?: string } = {};
  const start = version === 3 ? b.readUInt32BE(100) : 72;
  const end = backingOffset && backingOffset <= cluster ? backingOffset : cluster;
  if (start >= end) return out;
  const x = await r.read(start, end - start);
  for (let o = 0; o + 8 <= x.length;) {
    const magic = x.readUInt32BE(o), len = x.readUInt32BE(o + 4);
    o += 8;
    if (len > end - start - o) { bad(`header extension 0x${magic.toString(16)} of ${len} bytes is too large`); return out; }
    if (magic === 0) return out;
    if (magic === BACKING_FORMAT_EXT && len >= 16) { bad(`backing format name of ${len} bytes`); return out; }
    if (magic === BACKING_FORMAT_EXT) out.backingFormat = x.toString('latin1', o, o + len).replace(/\0.*$/s, '');
    if (magic === DATA_FILE_EXT) out.dataFile = x.toString('utf8', o, o + len).replace(/\0.*$/s, '');
    o += Math.ceil(len / 8) * 8;
  }
  return out;
}

function checkTables(b: Buffer, fileSize: number, cluster: number, version: number, size: number | null,
  bad: (d: string) => void, truncated: (d: string) => void, ctype?: number): void {
  let extendedL2 = false;
  if (version === 3) {
    const headerLength = b.readUInt32BE(100);
    const incompatible = b.readBigUInt64BE(72);
    if (headerLength < 104 || headerLength > cluster) bad(`header length ${headerLength}`);
    if (incompatible & ~KNOWN_INCOMPATIBLE) bad(`unknown incompatible features 0x${incompatible.toString(16)}`);
    if (incompatible & 2n) bad('the image is marked corrupt');
    // the compression type bit needs a non-zlib compression type byte in a header long enough to hold it
    if (incompatible & 8n && headerLength < 105) bad('compression type bit set without a compression type field');
    // qemu knows zlib (0) and zstd (1); zlib must not set the compression type bit, zstd must
    if (headerLength >= 105 && ctype !== undefined) {
      if (ctype > 1) bad(`unknown compression type ${ctype}`);
      else if ((ctype === 1) !== ((incompatible & 8n) !== 0n)) bad(`compression type ${ctype} with the compression type bit ${incompatible & 8n ? 'set' : 'unset'}`);
    }
    extendedL2 = (incompatible & 16n) !== 0n;
    const refcountOrder = b.readUInt32BE(96);
    if (refcountOrder > 6) bad(`refcount order ${refcountOrder}`);
  }
  const aligned = (o: bigint) => o % BigInt(cluster) === 0n;
  const l1Size = b.readUInt32BE(36), l1Offset = b.readBigUInt64BE(40);
  const l2Entries = cluster / (extendedL2 ? 16 : 8);
  if (l1Size * 8 > MAX_L1_BYTES) bad(`L1 table of ${l1Size} entries is too large`);
  else if (size !== null && l1Size < Math.ceil(size / (cluster * l2Entries))) bad(`L1 table of ${l1Size} entries is too small for ${size} bytes`);
  const INT64_MAX = 2n ** 63n - 1n;
  // qemu validates every table offset, even of an empty table: cluster-aligned and below 2^63
  if (!aligned(l1Offset) || l1Offset > INT64_MAX - BigInt(l1Size * 8)) bad(`L1 table offset 0x${l1Offset.toString(16)} invalid`);
  else if (l1Size && l1Offset + BigInt(l1Size * 8) > BigInt(fileSize)) truncated(`L1 table at 0x${l1Offset.toString(16)} beyond the end of the file`);
  const rtOffset = b.readBigUInt64BE(48), rtClusters = b.readUInt32BE(56);
  if (rtOffset === 0n || rtClusters === 0) bad('no refcount table');
  else if (rtClusters * cluster > MAX_REFTABLE_BYTES) bad(`refcount table of ${rtClusters} clusters is too large`);
  else if (!aligned(rtOffset) || rtOffset > INT64_MAX - BigInt(rtClusters * cluster)) bad(`refcount table offset 0x${rtOffset.toString(16)} invalid`);
  else if (rtOffset + BigInt(rtClusters * cluster) > BigInt(fileSize)) truncated(`refcount table at 0x${rtOffset.toString(16)} beyond the end of the file`);
  const snapshots = b.readUInt32BE(60), snOffset = b.readBigUInt64BE(64);
  if (snapshots > MAX_SNAPSHOTS) bad(`${snapshots} snapshots`);
  else if (!aligned(snOffset) || snOffset > INT64_MAX - 40n * BigInt(snapshots)) bad(`snapshot table offset 0x${snOffset.toString(16)} invalid`);
  else if (snapshots && snOffset + 40n * BigInt(snapshots) > BigInt(fileSize)) truncated('snapshot table beyond the end of the file');
}
