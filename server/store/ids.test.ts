import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { newId } from './ids.ts';

describe('ids', () => {
  it('sort by creation within a process, also many in one millisecond, and never repeat', () => {
    const ids = Array.from({ length: 5_000 }, () => newId('run'));
    assert.deepEqual([...ids].sort(), ids);
    assert.equal(new Set(ids).size, ids.length);
    assert.match(ids[0]!, /^run_[0-9a-z]{12}[0-9a-f]{10}$/);
  });
});
