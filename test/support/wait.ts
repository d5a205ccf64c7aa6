/** Polling for conditions that real processes, daemons and the kernel make true in their own time. */

/** Resolves with the probe's first truthy value, or undefined once `timeoutMs` has passed. */
export async function poll<T>(probe: () => T | undefined | null | false, timeoutMs: number): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() >= deadline) return undefined;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Like poll, but a timeout is an error naming what was awaited (and `detail()` when given). */
export async function waitFor<T>(what: string, probe: () => T | undefined | null | false, timeoutMs = 10_000, detail?: () => string): Promise<T> {
  const value = await poll(probe, timeoutMs);
  if (value === undefined) throw new Error(`timed out waiting for ${what}${detail ? `: ${detail()}` : ''}`);
  return value;
}
