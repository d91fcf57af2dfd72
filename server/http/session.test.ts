import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Secret } from '../values/secret.ts';
import { createSessions, readCookies, SESSION_COOKIE, SESSION_LIFETIME_SECONDS } from './session.ts';

const TOKEN = new Secret('a-token-of-at-least-16-chars');
const START = Date.parse('2030-01-01T00:00:00Z');

function sessions(options: { token?: Secret; now?: () => number; path?: string; secure?: boolean } = {}) {
  return createSessions({ token: options.token ?? TOKEN, path: options.path ?? '/', secure: options.secure ?? false, now: options.now ?? (() => START) });
}

describe('sessions', () => {
  it('accepts a cookie it issued until it expires, 12 hours on', () => {
    let now = START;
    const s = sessions({ now: () => now });
    const value = s.issue();
    assert.match(value, /^v1\.\d+\.[A-Za-z0-9_-]{43}$/);
    assert.equal(Number(value.split('.')[1]), START / 1000 + SESSION_LIFETIME_SECONDS);
    assert.equal(s.valid(value), true);
    now = START + SESSION_LIFETIME_SECONDS * 1000 - 1;
    assert.equal(s.valid(value), true);
    now = START + SESSION_LIFETIME_SECONDS * 1000;
    assert.equal(s.valid(value), false);
  });

  it('refuses tampered and malformed cookies', () => {
    const s = sessions();
    const value = s.issue();
    const [version, expires, mac] = value.split('.') as [string, string, string];
    const cases: [string, string | undefined][] = [
      ['missing', undefined],
      ['empty', ''],
      ['later expiry, same mac', `${version}.${Number(expires) + 3600}.${mac}`],
      ['other version', `v2.${expires}.${mac}`],
      ['flipped mac', `${version}.${expires}.${mac.startsWith('A') ? 'B' : 'A'}${mac.slice(1)}`],
      ['short mac', `${version}.${expires}.${mac.slice(0, 20)}`],
      ['no mac', `${version}.${expires}`],
      ['padding', `${value}=`],
      ['the token itself', TOKEN.reveal()],
    ];
    for (const [name, cookie] of cases) assert.equal(s.valid(cookie), false, name);
  });

  it('signs everyone out when the token changes', () => {
    const value = sessions().issue();
    assert.equal(sessions({ token: new Secret('another-token-of-16-chars') }).valid(value), false);
    // And another replica with the same token accepts it: nothing is kept in memory.
    assert.equal(sessions().valid(value), true);
  });

  it('sets an HttpOnly, SameSite=Strict cookie on the prefix, Secure behind https', () => {
    const plain = sessions({ path: '/smoke' }).signIn();
    assert.match(plain, new RegExp(`^${SESSION_COOKIE}=v1\\.`));
    for (const attribute of ['HttpOnly', 'SameSite=Strict', 'Path=/smoke', `Max-Age=${SESSION_LIFETIME_SECONDS}`]) assert.ok(plain.includes(`; ${attribute}`), attribute);
    assert.ok(!plain.includes('Secure'));
    assert.ok(sessions({ secure: true }).signIn().includes('; Secure'));
    const out = sessions({ path: '/smoke' }).signOut();
    assert.match(out, new RegExp(`^${SESSION_COOKIE}=; `));
    assert.ok(out.includes('Max-Age=0') && out.includes('Path=/smoke') && out.includes('HttpOnly'));
  });

  it('reads the cookie from a request, any of several with the name', () => {
    const s = sessions();
    const good = s.issue();
    const request = (cookie?: string) => ({ get: (name: string) => (name.toLowerCase() === 'cookie' ? cookie : undefined) }) as never;
    assert.equal(s.fromRequest(request(`a=b; ${SESSION_COOKIE}=${good}`)), true);
    assert.equal(s.fromRequest(request(`${SESSION_COOKIE}=v1.1.x; ${SESSION_COOKIE}=${good}`)), true);
    assert.equal(s.fromRequest(request(`other_${SESSION_COOKIE}=${good}`)), false);
    assert.equal(s.fromRequest(request(undefined)), false);
    assert.deepEqual(readCookies(' x=1 ;y=2; x=3', 'x'), ['1', '3']);
  });
});
