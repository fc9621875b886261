/**
 * Bounded polling for integration tests: every wait ends, with a message saying what never happened.
 *
 *   await waitFor(() => proxy.log.some((line) => line.startsWith('STOR')), 'the upload to start');
 */

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves once `condition()` is true; rejects after `timeoutMs` naming `what`. Checks every 25 ms. */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(25);
  }
}
