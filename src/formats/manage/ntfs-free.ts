// Which clusters of an NTFS volume are free ($Bitmap), for a file-system-aware compact. The volume is trusted only
// when Windows (or ntfs-3g) closed it cleanly: $Volume not marked dirty, the $LogFile restart area clean (what
// ntfs-3g checks before a read-write mount; Fast Startup and hibernation leave it unclean) and no hibernation
// file that says "hibr". Any metadata that does not parse means "do not release" (a Refusal), never a guess.
import { countFree, FreeMap, Read, Refusal } from './free-map';
import { applyFixups, AT, Attribute, NtfsBoot, NtfsError, parseBoot, parseRecord, Run, wholeRuns } from './ntfs-records';
import { hiberfilHeader } from './ntfs-index';

const MFT_VOLUME = 3, MFT_BITMAP = 6, MFT_LOGFILE = 2;
export const VOLUME_IS_DIRTY = 0x0001;

export async function ntfsFree(read: Read, start: number, size: number): Promise<FreeMap | Refusal | null> {
  if (size < 512) return null;
  let boot: NtfsBoot | null;
  try {
    boot = parseBoot(await read(start, 512), size);
  } catch (e) {
    if (e instanceof NtfsError) return { fs: 'ntfs', start, refused: e.message };
    throw e;
  }
  if (!boot) return null;
  try {
    return await freeClusters(new Volume(read, start, boot), size);
  } catch (e) {
    if (e instanceof NtfsError) return { fs: 'ntfs', start, refused: e.message };
    throw e;
  }
}

/** An NTFS volume's MFT records and attribute contents, read through the runlists. */
export class Volume {
  private mft: Run[] | null = null;
  private mftBytes = 0;
  /** Runs of the metadata read so far: the $Bitmap must mark every one of their clusters in use. */
  readonly metadata: Run[] = [];
  constructor(private readonly readDisk: Read, readonly start: number, readonly boot: NtfsBoot) {}

  async record(n: number): Promise<{ inUse: boolean; base: number; attributes: Attribute[] }> {
    const { recordSize, clusterSize, clusters, mftLcn } = this.boot;
    if (!this.mft) {
      const r0 = parseRecord(await this.readDisk(this.start + mftLcn * clusterSize, recordSize), 0, clusters);
      const data = r0.attributes.find((a) => a.type === AT.data && !a.name);
      if (!data) throw new NtfsError('$MFT has no data attribute');
      this.mft = wholeRuns(data, clusterSize, '$MFT\'s data');
      this.metadata.push(...this.mft);
      this.mftBytes = data.dataSize!;
    }
    if (this.mftBytes < (n + 1) * recordSize) throw new NtfsError(`$MFT holds ${this.mftBytes} bytes, not record ${n}`);
    const rec = parseRecord(await this.readRuns(this.mft, n * recordSize, recordSize, 'sparse-fails'), n, clusters);
    if (!rec.inUse) throw new NtfsError(`MFT record ${n} is not in use`);
    if (rec.base !== 0) throw new NtfsError(`MFT record ${n} is an extension record, not a file`);
    return rec;
  }

  /** Bytes [off, off+len) of an attribute's contents; a sparse run reads as `sparse` (0xff) or fails. */
  async readRuns(runs: Run[], off: number, len: number, sparse: 'sparse-fails' | 'sparse-used'): Promise<Buffer> {
    const cs = this.boot.clusterSize, out = Buffer.alloc(len);
    for (let done = 0; done < len;) {
      const vcn = Math.floor((off + done) / cs);
      const run = runs.find((r) => vcn >= r.vcn && vcn < r.vcn + r.length);
      if (!run) throw new NtfsError(`VCN ${vcn} is not mapped by its runlist`);
      const inRun = off + done - run.vcn * cs;
      const n = Math.min(len - done, run.length * cs - inRun);
      if (run.lcn === null) {
        if (sparse === 'sparse-fails') throw new NtfsError(`VCN ${vcn} is sparse where NTFS keeps metadata`);
        out.fill(0xff, done, done + n);
      } else {
        (await this.readDisk(this.start + run.lcn * cs + inRun, n)).copy(out, done);
      }
      done += n;
    }
    return out;
  }
}

async function freeClusters(v: Volume, size: number): Promise<FreeMap | Refusal> {
  const { clusterSize, clusters } = v.boot;
  const no = (refused: string): Refusal => ({ fs: 'ntfs', start: v.start, refused });
  const info = (await v.record(MFT_VOLUME)).attributes.find((a) => a.type === AT.volumeInformation);
  if (!info?.value || info.value.length < 12) return no('$Volume has no volume information');
  if (info.value.readUInt16LE(10) & VOLUME_IS_DIRTY) {
    return no('the NTFS volume is marked dirty (not shut down cleanly, or a check is scheduled): run `chkdsk /f` on it in Windows, or `ntfsfix -d` on Linux, then compact again');
  }
  const log = await logFileClean(v);
  if (log) return no(log);
  const hibr = await hiberfilHeader(v);
  if (hibr) return no(hibr);
  const bitmap = (await v.record(MFT_BITMAP)).attributes.find((a) => a.type === AT.data && !a.name);
  if (!bitmap) return no('$Bitmap has no data attribute');
  if (bitmap.flags & 0x40ff) return no('$Bitmap is compressed or encrypted');
  const bytes = Math.ceil(clusters / 8);
  if ((bitmap.value?.length ?? bitmap.dataSize!) < bytes) return no(`$Bitmap holds ${bitmap.value?.length ?? bitmap.dataSize} bytes for ${clusters} clusters`);
  let used: Buffer;
  if (bitmap.value) used = Buffer.from(bitmap.value.subarray(0, bytes));
  else {
    const runs = wholeRuns(bitmap, clusterSize, '$Bitmap\'s data');
    v.metadata.push(...runs);
    used = await v.readRuns(runs, 0, bytes, 'sparse-used');
    if (bitmap.initSize! < bytes) used.fill(0xff, bitmap.initSize!); // never written: do not trust it as free
  }
  const free = (c: number) => !(used[c >> 3] & (1 << (c & 7)));
  if (free(0)) return no('its $Bitmap marks the boot sector\'s cluster free, so it cannot be trusted');
  for (const r of v.metadata) {
    for (let c = r.lcn ?? 0; r.lcn !== null && c < r.lcn + r.length; c++) {
      if (free(c)) return no(`its $Bitmap marks cluster ${c}, which holds its own metadata, free, so it cannot be trusted`);
    }
  }
  return { fs: 'ntfs', start: v.start, size, unit: clusterSize, units: clusters, used, freeBytes: countFree(used, clusters) * clusterSize };
}

/** Null when the $LogFile says the volume was closed cleanly (ntfs-3g's ntfs_is_logfile_clean), else why not. */
async function logFileClean(v: Volume): Promise<string | null> {
  const data = (await v.record(MFT_LOGFILE)).attributes.find((a) => a.type === AT.data && !a.name);
  if (!data) throw new NtfsError('$LogFile has no data attribute');
  const runs = wholeRuns(data, v.boot.clusterSize, '$LogFile\'s data');
  v.metadata.push(...runs);
  const head = await v.readRuns(runs, 0, Math.min(512, data.dataSize!), 'sparse-fails');
  if (head.length < 512) throw new NtfsError(`$LogFile is ${data.dataSize} bytes`);
  const pageSize = head.toString('latin1', 0, 4) === 'RSTR' || head.toString('latin1', 0, 4) === 'CHKD' ? head.readUInt32LE(16) : 4096;
  if (pageSize < 512 || pageSize > 65536 || pageSize & (pageSize - 1) || 2 * pageSize > data.dataSize!) throw new NtfsError(`$LogFile's restart page size ${pageSize} does not fit it`);
  let best: { lsn: bigint; inUse: number; flags: number } | null = null, empty = 0;
  for (const at of [0, pageSize]) {
    const page = await v.readRuns(runs, at, pageSize, 'sparse-fails');
    const magic = page.toString('latin1', 0, 4);
    if (page.readUInt32LE(0) === 0xffffffff) { empty++; continue; }
    if (magic !== 'RSTR' && magic !== 'CHKD') continue;
    try { applyFixups(page, '$LogFile restart page'); } catch { continue; }
    const ra = page.readUInt16LE(24);
    if (ra + 16 > pageSize) continue;
    const lsn = page.readBigUInt64LE(ra);
    if (!best || lsn > best.lsn) best = { lsn, inUse: page.readUInt16LE(ra + 12), flags: page.readUInt16LE(ra + 14) };
  }
  if (!best) {
    if (empty === 2) return null; // emptied after a clean unmount (ntfsfix, ntfs-3g)
    throw new NtfsError('$LogFile has no readable restart page');
  }
  if (best.inUse !== 0xffff && !(best.flags & 0x0002)) {
    return 'Windows did not close the NTFS volume cleanly: its $LogFile has pending changes (Fast Startup, hibernation or a crash). Start that Windows and shut it down fully (`shutdown /s /t 0`, or turn Fast Startup off), or run `chkdsk /f`, then compact again';
  }
  return null;
}
