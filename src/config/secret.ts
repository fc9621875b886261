import { inspect } from 'node:util';

const MASK = '***';

/**
 * A password that cannot leak by accident: printing, logging, JSON and
 * util.inspect all show `***`; only `reveal()` gives the value, and the
 * callers of `reveal()` are the places that hand it to an FTP or SMTP login.
 */
export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  /** Returns the clear-text value. */
  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return MASK;
  }

  toJSON(): string {
    return MASK;
  }

  [inspect.custom](): string {
    return MASK;
  }
}
