import { inspect } from 'node:util';

/**
 * A value that must never reach a log line, an API response or a stored
 * artifact: every way of printing it yields `<redacted>`; `reveal()` is the
 * one deliberate way out.
 */
export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
    Object.freeze(this);
  }
  reveal(): string {
    return this.#value;
  }
  toString(): string {
    return '<redacted>';
  }
  toJSON(): string {
    return '<redacted>';
  }
  [inspect.custom](): string {
    return 'Secret(<redacted>)';
  }
}
