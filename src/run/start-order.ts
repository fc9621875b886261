/**
 * Transfers that start one after the other in a fixed order (the plan's, core/order.ts): each
 * waits for its turn, which comes once the transfer before it holds its connection, or will
 * never start (failed, stopped, nothing to send). Turns are handed out in the order they are
 * taken.
 */
export interface Turn {
  /** Resolves when this transfer may ask for its connection. */
  readonly ready: Promise<void>;
  /** Passes the turn on: call it once the transfer holds its connection, or will not start; a second call does nothing. */
  started(): void;
}

/** Returns a line of turns: each `take()` is one transfer, after every one taken before it. */
export function startOrder(): { take(): Turn } {
  let last: Promise<void> = Promise.resolve();
  return {
    take() {
      const ready = last;
      let started!: () => void;
      last = new Promise<void>((resolve) => (started = resolve));
      return { ready, started };
    },
  };
}
