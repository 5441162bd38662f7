// ISO 9660 with both Joliet and Rock Ridge: 7-Zip 24.09 always reads the Joliet tree (IsoIn.cpp, "FIXME: some volume
// can contain Rock Ridge, that is better than Joliet"), which has no symbolic links, modes or long POSIX names. When
// the primary volume's root carries Rock Ridge (SUSP "SP" in its "." record), 7-Zip is shown the volume with the
// Joliet descriptors' escape sequences blanked (in memory, for its reads only), so it reads the Rock Ridge tree.
import type { BlockReader } from '../../formats/block';
import type { Patch } from './thread-protocol';

const SECTOR = 2048;

export async function rockRidgeOverJoliet(disk: BlockReader, v: { offset: number; size: number }): Promise<Patch[]> {
  if (v.size < 20 * SECTOR) return [];
  const sector = async (n: number) => { const b = new Uint8Array(SECTOR); await disk.read(b, v.offset + n * SECTOR); return b; };
  const patches: Patch[] = [];
  let primary: Uint8Array | undefined;
  for (let n = 16; n < 64 && (n + 1) * SECTOR <= v.size; n++) {
    const d = await sector(n);
    if (String.fromCharCode(...d.subarray(1, 6)) !== 'CD001') return [];
    if (d[0] === 255) break;
    if (d[0] === 1) primary ??= d;
    // Joliet: a supplementary descriptor whose escape sequence is %/@, %/C or %/E
    if (d[0] === 2 && d[88] === 0x25 && d[89] === 0x2f && [0x40, 0x43, 0x45].includes(d[90])) {
      patches.push({ at: n * SECTOR + 88, bytes: new Uint8Array(32) });
    }
  }
  if (!primary || !patches.length) return [];
  const dv = new DataView(primary.buffer);
  const rootLba = dv.getUint32(156 + 2, true);
  if ((rootLba + 1) * SECTOR > v.size) return [];
  const root = await sector(rootLba);
  // the "." record: its name is one byte, its system use area follows at 34
  const len = root[0];
  const sp = root.subarray(34, len);
  return len >= 41 && sp[0] === 0x53 && sp[1] === 0x50 && sp[4] === 0xbe && sp[5] === 0xef ? patches : [];
}
