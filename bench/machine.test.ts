import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { median, secs, times } from './machine.ts';

describe('median', () => {
  const cases: [readonly number[], number | undefined][] = [
    [[], undefined],
    [[7], 7],
    [[3, 1, 2], 2],
    [[4, 1, 3, 2], 2.5],
  ];
  for (const [values, expected] of cases) it(`of [${values.join(', ')}] is ${expected}`, () => assert.equal(median(values), expected));
});

describe('figures', () => {
  it('prints n/a for what was not measured', () => {
    assert.equal(secs(undefined), 'n/a');
    assert.equal(secs(1549), '1.5 s');
    assert.equal(times(undefined, 2), 'n/a');
    assert.equal(times(3, 0), 'n/a');
    assert.equal(times(3, 2), '1.50×');
  });
});
