/**
 * Bounded time for integration tests: every test and every wait ends, with a message saying what
 * never happened.
 *
 *   test('...', BOUNDED, async (t) => { ... });           // 60 s; bounded(120) for a slower test
 *   await waitFor(() => proxy.log.some((line) => line.startsWith('STOR')), 'the upload to start');
 */

/** A test's time limit, in seconds. */
export function bounded(seconds: number): { readonly timeout: number } {
  return { timeout: seconds * 1000 };
}

/** The time limit of most integration tests: a few runs of the CLI against a local server. */
export const BOUNDED = bounded(60);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves once `condition()` is true; rejects after `timeoutMs` naming `what`. Checks every 25 ms. */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(25);
  }
}
