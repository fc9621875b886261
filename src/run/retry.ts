import type { TargetConfig } from '../config/types.js';
import { FtpError } from '../errors.js';

/** How often and how patiently one target's failed operations are tried again. */
export interface RetryPolicy {
  /** Retries of a transient failure after the first attempt. */
  readonly retries: number;
  /** Wait before the first retry; doubled after each further failure. */
  readonly baseDelayMs: number;
  /** Longest wait between two attempts, whatever the doubling says. */
  readonly maxDelayMs: number;
  /**
   * Retries of a lost server ("could not connect" after the run had started), within `retries`:
   * a server that stays away must not hold a scheduled task for long.
   */
  readonly connectRetries: number;
}

/** A server that rebooted is usually back within a minute: no wait is longer than that. */
const MAX_DELAY_MS = 60_000;
/** A server that refuses connections twice in a row mid-run is down, not hiccuping. */
const CONNECT_RETRIES = 2;

/** Returns the retry policy of a target's config. */
export function retryPolicyOf(target: Pick<TargetConfig, 'retries' | 'retryDelaySeconds'>): RetryPolicy {
  return {
    retries: target.retries,
    baseDelayMs: target.retryDelaySeconds * 1000,
    maxDelayMs: MAX_DELAY_MS,
    connectRetries: Math.min(CONNECT_RETRIES, target.retries),
  };
}

/**
 * Called before each retry with the failure, the number of the coming retry (1-based), the wait,
 * and how many retries this kind of failure gets at most: `connectRetries` for a lost server
 * (counted on their own), `retries` for the rest.
 */
export type OnRetry = (error: FtpError, retry: number, delayMs: number, of: number) => void;

/** Returns the log line of a coming retry: `login failed (...); retry 1 of 2 in 2.0 s`. */
export function describeRetry(what: string, error: FtpError, retry: number, delayMs: number, of: number): string {
  return `${what} failed (${error.message}); retry ${retry} of ${of} in ${(delayMs / 1000).toFixed(1)} s`;
}

/**
 * Returns what `task` returns, trying it again after a transient failure (or, at most
 * `connectRetries` times, a lost server), waiting `baseDelayMs`, then twice that, and so on.
 * Rejects with the last error once the retries are used up, and at once with anything else:
 * permanent, auth and not-found FtpErrors, LocalFileError, bugs. Decided from the error's kind
 * only, never its message. `task` gets the attempt number (0 first) so it can resume.
 */
export async function withRetries<T>(
  policy: RetryPolicy,
  task: (attempt: number) => Promise<T>,
  onRetry?: OnRetry,
  signal?: AbortSignal,
): Promise<T> {
  let connectFailures = 0;
  for (let attempt = 0; ; attempt++) {
    try {
      return await task(attempt);
    } catch (error) {
      if (!(error instanceof FtpError) || attempt >= policy.retries || signal?.aborted === true) throw error;
      if (error.kind === 'connect') {
        connectFailures++;
        if (connectFailures > policy.connectRetries) throw error;
      } else if (error.kind !== 'transient') {
        throw error;
      }
      const delayMs = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
      if (error.kind === 'connect') onRetry?.(error, connectFailures, delayMs, policy.connectRetries);
      else onRetry?.(error, attempt + 1, delayMs, policy.retries);
      await sleep(delayMs, signal);
    }
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
