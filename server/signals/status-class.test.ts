import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { statusClassOf } from './status-class.ts';

describe('statusClassOf', () => {
  it('classes HTTP statuses', () => {
    const table: [number, string][] = [
      [100, 'network'],
      [199, 'network'],
      [600, 'network'],
      [Number.NaN, 'network'],
      [200, '2xx'],
      [204, '2xx'],
      [301, '3xx'],
      [404, '4xx'],
      [429, '4xx'],
      [503, '5xx'],
      [599, '5xx'],
      [101, 'network'],
      [999, 'network'],
    ];
    for (const [status, expected] of table) assert.equal(statusClassOf(status), expected, String(status));
  });
});
