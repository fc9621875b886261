import type { NotifyConfig } from '../config/types.js';
import type { Logger } from './log.js';
import type { Redactor } from './redact.js';

export type PingMoment = 'start' | 'success' | 'failure';

/** A monitoring service keeps about this much of a ping's body (healthchecks.io: 100 kB); the summary fits. */
const MAX_BODY_BYTES = 10_000;

/**
 * Returns true when the ping was answered with a 2xx. Pings `notify`'s URL
 * for this moment (none set: nothing happens, true); `body` (the summary)
 * goes along with POST. A ping that fails or times out is a warning naming
 * the URL, never a failure of the run: monitoring must not break backups.
 */
export async function ping(
  notify: NotifyConfig | undefined,
  moment: PingMoment,
  body: string,
  log: Logger,
  redact: Redactor,
): Promise<boolean> {
  const url = notify?.[moment];
  if (notify === undefined || url === undefined) return true;
  const shown = redact(url);
  try {
    const response = await fetch(url, {
      method: notify.method,
      ...(notify.method === 'POST'
        ? { body: Buffer.from(redact(body)).subarray(0, MAX_BODY_BYTES), headers: { 'content-type': 'text/plain; charset=utf-8' } }
        : {}),
      signal: AbortSignal.timeout(notify.timeoutSeconds * 1000),
      redirect: 'follow',
    });
    // The body is not needed; reading it frees the connection.
    await response.arrayBuffer().catch(() => undefined);
    if (!response.ok) {
      log.warn(`notify: ${moment} ping to ${shown} answered ${response.status} ${response.statusText}; check notify.url or notify.${moment}`);
      return false;
    }
    log.debug(`notify: ${moment} ping to ${shown} answered ${response.status}`);
    return true;
  } catch (error) {
    const reason =
      error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')
        ? `no answer within ${notify.timeoutSeconds} s (notify.timeoutSeconds)`
        : describeFetchError(error);
    log.warn(`notify: ${moment} ping to ${shown} failed: ${reason}; the run goes on`);
    return false;
  }
}

/** fetch wraps the socket error in `cause`; that is the useful part (ECONNREFUSED, ENOTFOUND). */
function describeFetchError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause as { code?: unknown; message?: unknown } | undefined;
  if (cause !== undefined && typeof cause.code === 'string') return cause.code;
  if (cause !== undefined && typeof cause.message === 'string') return cause.message;
  return error.message;
}
