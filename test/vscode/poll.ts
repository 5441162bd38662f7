// Polls a condition the extension host exposes no event for (a rendered webview model), with a deadline.
export async function until<T>(what: string, probe: () => T | undefined | false, timeoutMs = 15000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
