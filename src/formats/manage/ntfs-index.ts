// The one file lookup the NTFS compact needs: is there a hiberfil.sys in the root folder that says Windows is
// hibernated (ntfs-3g's ntfs_volume_check_hiberfile)? Every entry of the root index is scanned (its root and all
// its INDX blocks), not searched by collation: a stale entry can only cause a refusal, never a release.
import { applyFixups, AT, NtfsError } from './ntfs-records';
import type { Volume } from './ntfs-free';

const MFT_ROOT = 5;
const MAX_ROOT_INDEX = 16 << 20;

/** Null when Windows is not hibernated on this volume, else why the volume is refused. */
export async function hiberfilHeader(v: Volume): Promise<string | null> {
  const root = await v.record(MFT_ROOT);
  const ir = root.attributes.find((a) => a.type === AT.indexRoot && a.name === '$I30');
  if (!ir?.value || ir.value.length < 32) throw new NtfsError('the root folder has no index');
  const refs = entries(ir.value, 16, 'the root index');
  const ia = root.attributes.find((a) => a.type === AT.indexAllocation && a.name === '$I30');
  if (ia?.runs) {
    const blockSize = ir.value.readUInt32LE(8);
    if (blockSize < 512 || blockSize > 65536 || blockSize & (blockSize - 1)) throw new NtfsError(`the root index has ${blockSize}-byte blocks`);
    v.metadata.push(...ia.runs);
    const total = Math.min(ia.dataSize!, ia.initSize!);
    if (total > MAX_ROOT_INDEX) throw new NtfsError(`the root index is ${total} bytes`);
    for (let at = 0; at + blockSize <= total; at += blockSize) {
      const b = await v.readRuns(ia.runs, at, blockSize, 'sparse-used');
      if (b.toString('latin1', 0, 4) !== 'INDX') continue; // unused block
      applyFixups(b, `root index block at ${at}`);
      refs.push(...entries(b, 0x18, `root index block at ${at}`));
    }
  }
  for (const ref of refs) {
    let rec;
    try { rec = await v.record(ref); } catch (e) {
      if (e instanceof NtfsError && /not in use|extension record/.test(e.message)) continue; // a stale entry
      throw e;
    }
    const data = rec.attributes.find((a) => a.type === AT.data && !a.name);
    if (!data) continue;
    const size = data.value ? data.value.length : Math.min(data.dataSize!, data.initSize!);
    if (size < 4096) return 'hiberfil.sys is shorter than its header: Windows hibernated this volume. Start that Windows and shut it down fully, then compact again';
    const head = data.value ? data.value.subarray(0, 4) : data.runs ? await v.readRuns(data.runs, 0, 4, 'sparse-used') : Buffer.alloc(4);
    const magic = head.toString('latin1').toLowerCase();
    if (magic === 'hibr') return 'Windows is hibernated on this volume (hiberfil.sys says "hibr"): start that Windows and shut it down fully (`shutdown /s /t 0`, or turn Fast Startup off), then compact again';
  }
  return null;
}

/** MFT record numbers of the index entries named hiberfil.sys in the node whose INDEX_HEADER is at `h`. */
function entries(b: Buffer, h: number, what: string): number[] {
  const first = b.readUInt32LE(h), length = b.readUInt32LE(h + 4);
  const end = Math.min(b.length, h + length);
  const out: number[] = [];
  for (let at = h + first, n = 0; at + 16 <= end; n++) {
    const len = b.readUInt16LE(at + 8), keyLen = b.readUInt16LE(at + 10), flags = b.readUInt16LE(at + 12);
    if (flags & 2) break; // last entry
    if (len < 16 || len % 8 || at + len > end || keyLen + 16 > len) throw new NtfsError(`${what}: entry ${n} has length ${len}`);
    if (keyLen >= 66) {
      const nameLen = b[at + 16 + 64];
      if (66 + nameLen * 2 <= keyLen && b.toString('utf16le', at + 16 + 66, at + 16 + 66 + nameLen * 2).toLowerCase() === 'hiberfil.sys') {
        out.push(Number(b.readBigUInt64LE(at) & 0xffffffffffffn));
      }
    }
    at += len;
  }
  return out;
}
