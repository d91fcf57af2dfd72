import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { between, duration, time } from './format.ts';

describe('page formats', () => {
  const durations: [number, string][] = [
    [0, '0 ms'],
    [850, '850 ms'],
    [1000, '1.0 s'],
    [5_949, '5.9 s'],
    [59_999, '59.9 s'],
    [60_000, '1 min 0 s'],
    [72_400, '1 min 12 s'],
    [3_600_000, '1 h 0 min'],
    [7_380_000, '2 h 3 min'],
    [-1, '—'],
    [Number.NaN, '—'],
  ];
  for (const [ms, text] of durations) {
    it(`says ${ms} ms as "${text}"`, () => assert.equal(duration(ms), text));
  }

  it('shows times as UTC text in a <time> element', () => {
    assert.equal(time('2026-03-01T10:02:03.456Z').toString(), '<time datetime="2026-03-01T10:02:03.456Z">2026-03-01 10:02:03 UTC</time>');
    assert.match(time(undefined).toString(), /—/);
  });

  it('measures between two ISO times, and nothing when one is missing', () => {
    assert.equal(between('2026-03-01T10:00:00Z', '2026-03-01T10:01:12Z'), 72_000);
    assert.equal(between(undefined, '2026-03-01T10:01:12Z'), undefined);
  });
});
