import type { TargetConfig } from '../config/types.js';
import { FtpError } from '../errors.js';
import type { Logger } from '../delivery/log.js';
import { ConnectionBudget } from './budget.js';
import { FtpSession } from './session.js';

/**
 * At most `maxConnections` connections to one target, shared by listing, rename, delete and
 * transfers: a session for the internal client (opened when first needed, kept for reuse), or
 * a bare slot for a backend that opens its own connection (curl, ncftpput). The counting is the
 * ConnectionBudget's; the pool opens sessions, and a server that refuses an extra connection (421
 * "too many connections", or a reset before the greeting) while others are open makes the budget
 * smaller for the rest of the run instead of failing it.
 */
export class SessionPool {
  readonly #budget: ConnectionBudget<FtpSession>;
  /** Every open session, idle or busy: abort() closes them all. */
  readonly #open = new Set<FtpSession>();

  constructor(
    readonly target: TargetConfig,
    /** The connection the inventory was taken over: the pool's first session. */
    first: FtpSession,
    readonly log: Logger,
  ) {
    this.#budget = new ConnectionBudget<FtpSession>(
      target.maxConnections,
      (session) => {
        session.close();
        this.#open.delete(session);
      },
      () => new FtpError(`the connections to ${target.name} are closed`, 'permanent'),
    );
    this.#open.add(first);
    this.#budget.adopt(first);
  }

  /** Connections the pool may still open at once (it shrinks after a refused one). */
  get limit(): number {
    return this.#budget.limit;
  }

  /**
   * Returns what `task` returns, run on a session of this target that nobody else uses meanwhile.
   * `giveUp` aborted (before or while `task` runs) closes the session's connection, so that `task`
   * fails at once instead of waiting for a server that does not answer; the next use reconnects.
   */
  async use<T>(task: (session: FtpSession) => Promise<T>, giveUp?: AbortSignal): Promise<T> {
    const session = await this.#acquire();
    const drop = () => session.dropConnection();
    giveUp?.addEventListener('abort', drop, { once: true });
    try {
      giveUp?.throwIfAborted();
      return await task(session);
    } finally {
      giveUp?.removeEventListener('abort', drop);
      this.#budget.keep(session);
    }
  }

  /** Returns what `task` returns, run while it holds one connection slot for a connection of its own. */
  async useSlot<T>(task: () => Promise<T>): Promise<T> {
    for (;;) {
      await this.#budget.slot();
      try {
        return await task();
      } catch (error) {
        // The backend's own connection was refused (421): the same as a refused session.
        if (!this.#shrinksAfter(error)) throw error;
      } finally {
        this.#budget.release();
      }
    }
  }

  async #acquire(): Promise<FtpSession> {
    for (;;) {
      const idle = await this.#budget.connection();
      if (idle !== undefined) return idle;
      let session: FtpSession;
      try {
        session = await FtpSession.open(this.target);
      } catch (error) {
        const shrunk = this.#shrinksAfter(error);
        this.#budget.release();
        if (shrunk) continue;
        throw error;
      }
      // A stop while the session was being opened: its task finds it closed and fails at once.
      if (this.#budget.closed) session.close();
      else this.#open.add(session);
      return session;
    }
  }

  /**
   * Returns true, after making the budget smaller, when `error` is a refused connection while
   * others are open: the server lets us have those, not more. Called while the refused
   * connection's token is still held.
   */
  #shrinksAfter(error: unknown): boolean {
    if (!(error instanceof FtpError) || error.kind !== 'connect') return false;
    const allowed = this.#budget.refused();
    if (allowed === 0) return false;
    this.log.warn(
      `${this.target.name}: the server refused connection ${allowed + 1} (${error.message}); using ${allowed} from now on` +
        ` (lower targets.${this.target.name}.maxConnections to ${allowed} to avoid this)`,
    );
    return true;
  }

  /** Closes every idle session now and each busy one when its task ends. */
  close(): void {
    this.#budget.close();
  }

  /** Closes every session now, busy ones too: their transfers fail at once (a signal stops the run). */
  abort(): void {
    this.close();
    for (const session of this.#open) session.close();
    this.#open.clear();
  }
}
