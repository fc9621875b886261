/**
 * The connections one target may have open at once, counted as tokens, and the idle ones kept for
 * reuse (rclone's ftp backend keeps a token dispenser and a slice the same way). Every open
 * connection holds one token, idle or busy: a session of the internal client, or a connection a
 * backend opens for itself (curl, ncftpput), so the two together never pass the limit. It opens
 * nothing itself; `closeIdle` is how it ends an idle connection whose token someone else needs.
 */
export class ConnectionBudget<C> {
  #limit: number;
  /** Tokens out: connections open (idle or busy), being opened, or lent to a backend. */
  #held = 0;
  readonly #idle: C[] = [];
  readonly #waiters: (() => void)[] = [];
  #closed = false;

  constructor(
    limit: number,
    /** Ends an idle connection: its token goes to a backend's own connection, or the budget closed. */
    readonly closeIdle: (connection: C) => void,
    /** The error every wait rejects with once the budget is closed. */
    readonly closedError: () => Error,
  ) {
    this.#limit = limit;
  }

  /** Returns how many connections may be open at once (lower after a refused one). */
  get limit(): number {
    return this.#limit;
  }

  /** Returns how many tokens are out: connections open or being opened, and slots lent. */
  get held(): number {
    return this.#held;
  }

  /** Returns true once `close` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Returns how many open connections wait idle for reuse. */
  get idle(): number {
    return this.#idle.length;
  }

  /** Takes in a connection opened outside the budget (the inventory's): it holds a token and waits idle. */
  adopt(connection: C): void {
    this.#held++;
    this.#putIdle(connection);
  }

  /**
   * Returns an idle connection to reuse, or undefined once the caller holds a token to open a new
   * one (the caller then either keeps the connection or calls `release`); waits while neither is
   * possible. Rejects with `closedError()` once the budget is closed.
   */
  async connection(): Promise<C | undefined> {
    for (;;) {
      this.#assertOpen();
      const idle = this.#idle.pop();
      if (idle !== undefined) return idle;
      if (this.#held < this.#limit) {
        this.#held++;
        return undefined;
      }
      await this.#wait();
    }
  }

  /**
   * Resolves once the caller holds a token for a connection of its own (give it back with
   * `release`). When none is free, an idle connection is closed to free one: it costs the server a
   * connection too. Rejects with `closedError()` once the budget is closed.
   */
  async slot(): Promise<void> {
    for (;;) {
      this.#assertOpen();
      if (this.#held < this.#limit) {
        this.#held++;
        return;
      }
      const idle = this.#idle.pop();
      if (idle !== undefined) {
        this.closeIdle(idle);
        this.#held--;
      } else {
        await this.#wait();
      }
    }
  }

  /** Takes back a connection after use: it waits idle for the next caller, or is closed when the budget is. */
  keep(connection: C): void {
    if (this.#closed) {
      this.closeIdle(connection);
      this.release();
      return;
    }
    this.#putIdle(connection);
  }

  /** Gives back a token: its connection is closed or was never opened, or its slot ended. */
  release(): void {
    this.#held--;
    this.#wake();
  }

  /**
   * Call while holding the token of a connection the server refused; the token stays held. Returns
   * how many connections the server allows from now on, the others open now, and makes that the
   * limit; returns 0, limit unchanged, when no other was open (then the refusal says nothing about a limit).
   */
  refused(): number {
    const others = this.#held - 1;
    if (others > 0) this.#limit = others;
    return others;
  }

  /** Closes every idle connection now; every wait, now or later, rejects; busy connections are closed as they come back. */
  close(): void {
    this.#closed = true;
    for (const idle of this.#idle.splice(0)) {
      this.closeIdle(idle);
      this.#held--;
    }
    for (const wake of this.#waiters.splice(0)) wake();
  }

  #putIdle(connection: C): void {
    this.#idle.push(connection);
    this.#wake();
  }

  #wait(): Promise<void> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  #wake(): void {
    this.#waiters.shift()?.();
  }

  #assertOpen(): void {
    if (this.#closed) throw this.closedError();
  }
}
