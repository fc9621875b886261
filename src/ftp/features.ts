import type { Logger } from '../delivery/log.js';
import { FtpError } from '../errors.js';
import type { RemoteHashMethod } from './hash.js';
import type { SessionPool } from './pool.js';
import { isUnknownCommand } from './session.js';

/**
 * What one target's server offers for uploads, learned once per run and said once in the log:
 * how it gives file digests (FEAT), and whether it appends to a file (APPE).
 */
export class ServerFeatures {
  #hashMethod: Promise<RemoteHashMethod | undefined> | undefined;
  #appends = true;

  constructor(
    readonly pool: SessionPool,
    readonly log: Logger,
  ) {}

  /** Returns how the server gives file digests (asked once, on any of the pool's sessions), undefined when it gives none. */
  hashMethod(): Promise<RemoteHashMethod | undefined> {
    const target = this.pool.target.name;
    this.#hashMethod ??= this.pool.use((session) => session.remoteHashMethod()).then(
      (method) => {
        if (method === undefined) {
          this.log.warn(
            `${target}: the server offers no file digest (HASH, XSHA256, XSHA512, XSHA1, XMD5 or XCRC in FEAT): verify 'hash' checks sizes only`,
          );
        } else {
          this.log.debug(`${target}: files are verified with ${method.command} (${method.algorithm})`);
        }
        return method;
      },
      (error: unknown) => {
        // Asked again next time: a lost connection says nothing about the server's features.
        this.#hashMethod = undefined;
        throw error;
      },
    );
    return this.#hashMethod;
  }

  /** Returns false once the server refused to append: every interrupted file is then sent from its first byte. */
  get appends(): boolean {
    return this.#appends;
  }

  /**
   * Returns true when `error` says the server does not know APPE (500/502 to a resume of `file`):
   * resuming is impossible there, so from now on `appends` is false, and the log says so once.
   */
  appendRefused(error: unknown, file: string): boolean {
    if (!(error instanceof FtpError && isUnknownCommand(error.replyCode))) return false;
    if (this.#appends) {
      this.#appends = false;
      this.log.warn(
        `${this.pool.target.name}: the server cannot append to a file (it answered ${error.replyCode} to APPE for ${file}): ` +
          'interrupted files are sent again from their first byte instead of resumed',
      );
    }
    return true;
  }
}
