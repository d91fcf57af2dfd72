import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { safeNext } from './login.ts';

describe('safeNext: where a sign-in may send the browser', () => {
  const cases: [string | undefined, string, string][] = [
    [undefined, '', '/'],
    ['/', '', '/'],
    ['/runs/run_1?x=1#flow', '', '/runs/run_1?x=1#flow'],
    ['/deployments/dep_1', '/smoke', '/smoke/'],
    ['/smoke/deployments/dep_1', '/smoke', '/smoke/deployments/dep_1'],
    ['/smoke', '/smoke', '/smoke'],
    ['/smokey/x', '/smoke', '/smoke/'],
    ['//evil.example/x', '', '/'],
    ['/\\evil.example', '', '/'],
    ['\\\\evil.example', '', '/'],
    ['https://evil.example/', '', '/'],
    ['javascript:alert(1)', '', '/'],
    ['runs/x', '', '/'],
    ['/\t/evil.example', '', '/'],
    ['/x\r\nSet-Cookie: a=b', '', '/'],
    ['/smoke/../evil', '/smoke', '/smoke/'],
    ['/login?next=/x', '', '/'],
    ['/smoke/login', '/smoke', '/smoke/'],
  ];
  for (const [next, prefix, expected] of cases) {
    it(`${JSON.stringify(next)} under '${prefix}' → ${expected}`, () => assert.equal(safeNext(next, prefix), expected));
  }
});
