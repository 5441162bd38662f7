// Sizes as users type them: bytes, or a number with K, M, G, T (powers of 1024; "KiB", "MB" and "GiB" read the
// same). Shared by the CLI and the commands; no I/O.

const UNITS: Record<string, number> = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };

/** The byte count of `text`, or an Error naming what is wrong. Fractions are allowed when the result is whole. */
export function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$/i.exec(text);
  if (!m) throw new Error(`"${text}" is not a size: use bytes or a number with K, M, G or T (powers of 1024), e.g. 64G`);
  const n = Number(m[1]) * UNITS[m[2].toUpperCase()];
  if (!Number.isSafeInteger(n)) throw new Error(`"${text}" is not a whole number of bytes`);
  return n;
}

/** 1073741824 -> "1 GiB", 1536 -> "1.5 KiB". */
export function formatSize(n: number): string {
  for (const [u, v] of [['TiB', 2 ** 40], ['GiB', 2 ** 30], ['MiB', 2 ** 20], ['KiB', 2 ** 10]] as const) {
    if (n >= v) return `${Number((n / v).toFixed(2))} ${u}`;
  }
  return `${n} bytes`;
}
