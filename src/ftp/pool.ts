import type { TargetConfig } from '../config/types.js';
import { FtpError } from '../errors.js';
import type { Logger } from '../delivery/log.js';
import { FtpSession } from './session.js';

/**
 * At most `maxConnections` connections to one target, shared by listing, rename, delete and
 * transfers: a session for the internal client (opened when first needed, kept for reuse), or
 * a bare slot for a backend that opens its own connection (curl, ncftpput). A server that
 * refuses an extra connection (421 "too many connections", or a reset before the greeting)
 * while others are open makes the pool smaller for the rest of the run instead of failing it.
 */
export class SessionPool {
  readonly #idle: FtpSession[] = [];
  /** Every open session, idle or busy: abort() closes them all. */
  readonly #open = new Set<FtpSession>();
  readonly #waiters: (() => void)[] = [];
  /** Sessions open, idle or in use. */
  #sessions = 0;
  /** Slots lent to a backend's own connection. */
  #slots = 0;
  #limit: number;
  #closed = false;

  constructor(
    readonly target: TargetConfig,
    /** The connection the inventory was taken over: the pool's first session. */
    first: FtpSession,
    readonly log: Logger,
  ) {
    this.#limit = target.maxConnections;
    this.#idle.push(first);
    this.#open.add(first);
    this.#sessions = 1;
  }

  /** Connections the pool may still open at once (it shrinks after a refused one). */
  get limit(): number {
    return this.#limit;
  }

  /** Returns what `task` returns, run on a session of this target that nobody else uses meanwhile. */
  async use<T>(task: (session: FtpSession) => Promise<T>): Promise<T> {
    const session = await this.#acquire();
    try {
      return await task(session);
    } finally {
      this.#release(session);
    }
  }

  /** Returns what `task` returns, run while it holds one connection slot for a connection of its own. */
  async useSlot<T>(task: () => Promise<T>): Promise<T> {
    for (;;) {
      await this.#takeSlot();
      try {
        return await task();
      } catch (error) {
        // The backend's own connection was refused (421): the same as a refused session.
        if (!this.#shrinksAfter(error, this.#sessions + this.#slots - 1)) throw error;
      } finally {
        this.#slots--;
        this.#wake();
      }
    }
  }

  async #takeSlot(): Promise<void> {
    while (this.#sessions + this.#slots >= this.#limit) {
      this.#assertOpen();
      // An idle session costs the server a connection too: give its slot to the transfer.
      const idle = this.#idle.pop();
      if (idle !== undefined) {
        idle.close();
        this.#open.delete(idle);
        this.#sessions--;
      } else {
        await this.#wait();
      }
    }
    this.#slots++;
  }

  /**
   * Returns true, after making the pool smaller, when `error` is a refused connection while
   * `others` connections are open: the server lets us have `others`, not more.
   */
  #shrinksAfter(error: unknown, others: number): boolean {
    if (!(error instanceof FtpError) || error.kind !== 'connect' || others === 0) return false;
    this.#limit = others;
    this.log.warn(
      `${this.target.name}: the server refused connection ${others + 1} (${error.message}); using ${others} from now on` +
        ` (lower targets.${this.target.name}.maxConnections to ${others} to avoid this)`,
    );
    return true;
  }

  async #acquire(): Promise<FtpSession> {
    for (;;) {
      this.#assertOpen();
      const idle = this.#idle.pop();
      if (idle !== undefined) return idle;
      if (this.#sessions + this.#slots < this.#limit) {
        this.#sessions++;
        try {
          const session = await FtpSession.open(this.target);
          if (this.#closed) session.close();
          else this.#open.add(session);
          return session;
        } catch (error) {
          this.#sessions--;
          if (!this.#shrinksAfter(error, this.#sessions + this.#slots)) {
            this.#wake();
            throw error;
          }
          continue;
        }
      }
      await this.#wait();
    }
  }

  #release(session: FtpSession): void {
    if (this.#closed) {
      session.close();
      this.#open.delete(session);
    } else {
      this.#idle.push(session);
    }
    this.#wake();
  }

  #wait(): Promise<void> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  #wake(): void {
    this.#waiters.shift()?.();
  }

  #assertOpen(): void {
    if (this.#closed) throw new FtpError(`the connections to ${this.target.name} are closed`, 'permanent');
  }

  /** Closes every idle session now and each busy one when its task ends. */
  close(): void {
    this.#closed = true;
    for (const session of this.#idle.splice(0)) {
      session.close();
      this.#open.delete(session);
    }
    for (const wake of this.#waiters.splice(0)) wake();
  }

  /** Closes every session now, busy ones too: their transfers fail at once (a signal stops the run). */
  abort(): void {
    this.close();
    for (const session of this.#open) session.close();
    this.#open.clear();
  }
}
