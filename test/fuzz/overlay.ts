// A pristine seed plus the patches of one case: the generator reads through it (to fix checksums after a change)
// and the worker writes only the patched ranges to disk, then restores them.
export interface Patch { offset: number; bytes: Buffer }

export class Overlay {
  readonly patches: Patch[] = [];
  constructor(readonly base: Buffer) {}
  get size(): number { return this.base.length; }

  read(offset: number, length: number): Buffer {
    const end = Math.min(this.base.length, offset + length);
    const out = Buffer.from(this.base.subarray(Math.max(0, offset), Math.max(0, end)));
    for (const p of this.patches) {
      const a = Math.max(offset, p.offset), b = Math.min(end, p.offset + p.bytes.length);
      if (a < b) p.bytes.copy(out, a - offset, a - p.offset, b - p.offset);
    }
    return out;
  }

  /** Patches are clipped to the seed's size: growing a file is a truncation/replace case, not a patch. */
  write(offset: number, bytes: Buffer): void {
    if (offset < 0 || offset >= this.base.length || bytes.length === 0) return;
    this.patches.push({ offset, bytes: Buffer.from(bytes.subarray(0, this.base.length - offset)) });
  }

  writeUInt(offset: number, width: 1 | 2 | 4 | 8, le: boolean, value: bigint): void {
    const b = Buffer.alloc(width);
    const v = BigInt.asUintN(width * 8, value);
    if (width === 8) { if (le) b.writeBigUInt64LE(v); else b.writeBigUInt64BE(v); } else b.writeUIntLE(Number(v), 0, width);
    if (width !== 8 && !le) b.reverse();
    this.write(offset, b);
  }

  readUInt(offset: number, width: 1 | 2 | 4 | 8, le: boolean): bigint {
    const b = this.read(offset, width);
    if (b.length < width) return 0n;
    if (width === 8) return le ? b.readBigUInt64LE(0) : b.readBigUInt64BE(0);
    return BigInt(le ? b.readUIntLE(0, width) : b.readUIntBE(0, width));
  }

  /** The whole mutated content (for fixtures and truncation cases). */
  materialize(): Buffer {
    return this.read(0, this.base.length);
  }
}
