import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FtpError, LocalFileError, type FtpErrorKind } from '../../src/errors.js';
import { describeRetry, retryPolicyOf, withRetries } from '../../src/run/retry.js';

const POLICY = retryPolicyOf({ retries: 3, retryDelaySeconds: 0 });

/** Returns how many attempts withRetries made before it gave up or succeeded, and how it ended. */
async function attemptsUntil(fail: (attempt: number) => Error | undefined): Promise<{ attempts: number; error?: Error }> {
  let attempts = 0;
  try {
    await withRetries(POLICY, async (attempt) => {
      attempts++;
      const error = fail(attempt);
      if (error !== undefined) throw error;
    });
    return { attempts };
  } catch (error) {
    return { attempts, error: error as Error };
  }
}

const ftp = (kind: FtpErrorKind, code?: number) => new FtpError(`${kind} ${code ?? ''}`, kind, code);

describe('withRetries: decided by the error kind, never its message', () => {
  test('transient: retried `retries` times, then the last error', async () => {
    const result = await attemptsUntil(() => ftp('transient', 426));
    assert.equal(result.attempts, 4);
    assert.equal((result.error as FtpError).replyCode, 426);
  });

  test('transient that clears up: the attempt number lets the task resume', async () => {
    const seen: number[] = [];
    const result = await attemptsUntil((attempt) => {
      seen.push(attempt);
      return attempt < 2 ? ftp('transient', 421) : undefined;
    });
    assert.deepEqual(result, { attempts: 3 });
    assert.deepEqual(seen, [0, 1, 2]);
  });

  for (const kind of ['permanent', 'auth', 'not-found'] as const) {
    test(`${kind}: never retried`, async () => {
      const result = await attemptsUntil(() => ftp(kind, 552));
      assert.equal(result.attempts, 1);
    });
  }

  test('a message that reads "transient" does not make a permanent error retried', async () => {
    const result = await attemptsUntil(() => new FtpError('421 transient timeout, try again', 'permanent', 553));
    assert.equal(result.attempts, 1);
  });

  test('a lost server (connect): at most 2 retries, whatever `retries` says', async () => {
    const result = await attemptsUntil(() => ftp('connect'));
    assert.equal(result.attempts, 3);
  });

  test('each retry is counted against the limit of its kind, as the README says: a lost server "retry 1 of 2", the rest "retry 1 of 3"', async () => {
    const said: string[] = [];
    const failures = [ftp('transient', 421), ftp('connect'), ftp('connect'), ftp('transient', 426)];
    await assert.rejects(
      withRetries(
        POLICY,
        async (attempt) => {
          throw failures[attempt] ?? ftp('transient', 450);
        },
        (error, retry, delayMs, of) => said.push(describeRetry('login', error, retry, delayMs, of)),
      ),
    );
    assert.deepEqual(said, [
      'login failed (transient 421); retry 1 of 3 in 0.0 s',
      'login failed (connect ); retry 1 of 2 in 0.0 s',
      'login failed (connect ); retry 2 of 2 in 0.0 s',
    ]);
  });

  test('a local file that changed (LocalFileError) and bugs: never retried', async () => {
    assert.equal((await attemptsUntil(() => new LocalFileError('disk1.vmdk is 2 bytes, 1 when the run started'))).attempts, 1);
    assert.equal((await attemptsUntil(() => new TypeError('bug'))).attempts, 1);
  });

  test('retries: 0 tries once', async () => {
    let attempts = 0;
    await assert.rejects(
      withRetries(retryPolicyOf({ retries: 0, retryDelaySeconds: 0 }), async () => {
        attempts++;
        throw ftp('transient', 450);
      }),
    );
    assert.equal(attempts, 1);
  });

  test('waits double: base, 2x base, 4x base, capped at a minute', async () => {
    const delays: number[] = [];
    const policy = { ...retryPolicyOf({ retries: 3, retryDelaySeconds: 0.001 }) };
    await assert.rejects(
      withRetries(
        policy,
        async () => {
          throw ftp('transient', 425);
        },
        (_error, _retry, delayMs) => delays.push(delayMs),
      ),
    );
    assert.deepEqual(delays, [1, 2, 4]);
    assert.equal(retryPolicyOf({ retries: 20, retryDelaySeconds: 30 }).maxDelayMs, 60_000);
  });

  test('an aborted signal stops the retries', async () => {
    const controller = new AbortController();
    let attempts = 0;
    await assert.rejects(
      withRetries(
        POLICY,
        async () => {
          attempts++;
          controller.abort();
          throw ftp('transient', 426);
        },
        undefined,
        controller.signal,
      ),
    );
    assert.equal(attempts, 1);
  });
});
