import assert from 'node:assert/strict';
import { RequestError } from '../errors.ts';

/** Runs `fn` and returns the RequestError it throws; fails the test when it throws nothing else. */
export function refusal(fn: () => unknown): RequestError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof RequestError, String(err));
    return err;
  }
  assert.fail('expected a RequestError');
}
