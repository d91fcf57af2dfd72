import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startSite, writeReport, type SiteRig } from '../testing/site-rig.ts';

const TOKEN = 'page-token-0123456789abcdef';
const HTML = { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' };

async function get(rig: SiteRig, route: string, headers: Record<string, string> = {}) {
  const response = await fetch(`${rig.url}${route}`, { headers, redirect: 'manual' });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

async function login(rig: SiteRig, fields: Record<string, string>, headers: Record<string, string> = {}) {
  const response = await fetch(`${rig.url}${rig.prefix}/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(fields).toString(),
    redirect: 'manual',
  });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

const cookieOf = (setCookie: string | null) => setCookie!.split(';')[0]!;

describe('pages without an API token', () => {
  let rig: SiteRig;
  before(async () => (rig = await startSite()));
  after(() => rig.close());

  it('are open, and /login goes home', async () => {
    assert.equal((await get(rig, '/', HTML)).status, 200);
    assert.equal((await get(rig, `/runs/${rig.runId}`, HTML)).status, 200);
    assert.equal((await get(rig, `/runs/${rig.runId}/artifacts/${rig.screenshot}`)).status, 200);
    assert.equal((await get(rig, '/trace/index.html')).status, 200);
    const loginPage = await get(rig, '/login', HTML);
    assert.equal(loginPage.status, 303);
    assert.equal(loginPage.headers.get('location'), '/');
  });

  it('carry the security headers; the viewer a policy of its own that admits its inline script by hash', async () => {
    const home = await get(rig, '/', HTML);
    assert.match(home.headers.get('content-security-policy')!, /^default-src 'self'; img-src 'self' data:; frame-ancestors 'none'/);
    assert.equal(home.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(home.headers.get('referrer-policy'), 'same-origin');
    const viewer = await get(rig, '/trace/index.html');
    const policy = viewer.headers.get('content-security-policy')!;
    assert.match(policy, /script-src 'self' 'sha256-[A-Za-z0-9+/=]+'/);
    assert.match(policy, /connect-src 'self'(;|$)/);
    assert.doesNotMatch(policy, /unsafe-eval|script-src[^;]*unsafe-inline|\*/);
    assert.match((await get(rig, '/trace/sw.bundle.js')).headers.get('content-type')!, /javascript/);
    const trace = await get(rig, '/trace');
    assert.equal(trace.status, 301);
    assert.equal(trace.headers.get('location'), 'trace/');
  });

  it('serves a flow’s files sandboxed, so an attachment cannot act as smoke', async () => {
    const shot = await get(rig, `/runs/${rig.runId}/artifacts/${rig.screenshot}`);
    assert.equal(shot.headers.get('content-type'), 'image/png');
    assert.match(shot.headers.get('content-security-policy')!, /^sandbox;/);
    assert.equal((await get(rig, `/api/v1/runs/${rig.runId}/artifacts/${rig.screenshot}`)).headers.get('content-security-policy'), shot.headers.get('content-security-policy'));
  });
});

describe('pages with an API token', () => {
  let rig: SiteRig;
  let cookie: string;
  before(async () => {
    rig = await startSite({ apiToken: TOKEN });
    const signedIn = await login(rig, { token: TOKEN, next: `/runs/${rig.runId}` });
    cookie = cookieOf(signedIn.headers.get('set-cookie'));
  });
  after(() => rig.close());

  it('send a browser to the login form and back, and tell other clients 401', async () => {
    const page = await get(rig, `/runs/${rig.runId}?tab=flows`, HTML);
    assert.equal(page.status, 303);
    assert.equal(page.headers.get('location'), `/login?next=${encodeURIComponent(`/runs/${rig.runId}?tab=flows`)}`);
    const client = await get(rig, `/runs/${rig.runId}`, { accept: '*/*' });
    assert.equal(client.status, 401);
    assert.equal(JSON.parse(client.text).error.code, 'unauthorized');
    for (const route of ['/', '/schedules', '/trace/index.html', `/runs/${rig.runId}/artifacts/${rig.screenshot}`, `/runs/${rig.runId}/report/`]) {
      assert.equal((await get(rig, route, HTML)).status, 303, route);
      assert.equal((await get(rig, route)).status, 401, route);
    }
  });

  it('leave the probes, metrics, assets and unknown paths as they were', async () => {
    assert.equal((await get(rig, '/healthz')).status, 200);
    assert.equal((await get(rig, '/metrics')).status, 200);
    assert.equal((await get(rig, '/assets/smoke.css')).status, 200);
    assert.equal((await get(rig, '/no-such-page', HTML)).status, 404);
  });

  it('show a labelled form, and refuse a wrong token with 401 and no cookie', async () => {
    const form = await get(rig, `/login?next=${encodeURIComponent('/"><script>alert(1)</script>')}`, HTML);
    assert.equal(form.status, 200);
    assert.match(form.text, /<label for="token">/);
    assert.match(form.text, /<input id="token" name="token" type="password"/);
    assert.doesNotMatch(form.text, /<script>alert/);
    const wrong = await login(rig, { token: 'not-the-token-at-all', next: '/' });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.headers.get('set-cookie'), null);
    assert.match(wrong.text, /not the one this service was configured with/);
    assert.ok(!wrong.text.includes('not-the-token-at-all'));
    const empty = await login(rig, { next: '/' });
    assert.equal(empty.status, 400);
    assert.match(empty.text, /token is required/);
  });

  it('sign in with an HttpOnly, SameSite=Strict cookie and go to `next`', async () => {
    const signedIn = await login(rig, { token: TOKEN, next: `/runs/${rig.runId}` });
    assert.equal(signedIn.status, 303);
    assert.equal(signedIn.headers.get('location'), `/runs/${rig.runId}`);
    const set = signedIn.headers.get('set-cookie')!;
    assert.match(set, /^smoke_session=v1\./);
    for (const attribute of ['HttpOnly', 'SameSite=Strict', 'Path=/']) assert.ok(set.includes(`; ${attribute}`), attribute);
    assert.ok(!set.includes('Secure'), 'plain http: not Secure');
  });

  it('open pages, the viewer, reports and artifacts with the cookie or the bearer header', async () => {
    writeReport(rig, { 'index.html': '<!doctype html><title>report</title><script>document.title="r"</script>', 'data/a.txt': 'attachment' });
    const routes = ['/', '/schedules', `/runs/${rig.runId}`, '/trace/index.html', `/runs/${rig.runId}/artifacts/${rig.trace}`, `/runs/${rig.runId}/report/`, `/runs/${rig.runId}/report/data/a.txt`];
    for (const route of routes) {
      assert.equal((await get(rig, route, { ...HTML, cookie })).status, 200, `${route} with the cookie`);
      assert.equal((await get(rig, route, { authorization: `Bearer ${TOKEN}` })).status, 200, `${route} with the bearer header`);
    }
    const wrongBearer = await get(rig, '/', { ...HTML, authorization: 'Bearer wrong-token-wrong-token', cookie });
    assert.equal(wrongBearer.status, 401, 'a wrong bearer header is not saved by a cookie');
  });

  it('let the cookie read the API but never write it', async () => {
    assert.equal((await get(rig, `/api/v1/runs/${rig.runId}`, { cookie })).status, 200);
    const write = await fetch(`${rig.url}/api/v1/deployments`, {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/json' },
      body: JSON.stringify({ environment: 'canary', version: '1' }),
    });
    assert.equal(write.status, 401);
  });

  it('refuse to redirect off the site after signing in', async () => {
    for (const next of ['//evil.example/x', 'https://evil.example/', '/\\evil.example', 'javascript:alert(1)', '/%0d%0aLocation:%20https://evil.example']) {
      const response = await login(rig, { token: TOKEN, next });
      assert.equal(response.status, 303, next);
      const location = response.headers.get('location')!;
      assert.ok(location === '/' || (location.startsWith('/') && !location.startsWith('//') && !location.includes('\\')), `${next} → ${location}`);
      assert.equal(new URL(location, 'http://smoke.test').host, 'smoke.test', next);
    }
  });

  it('refuse a form posted from another site', async () => {
    const forged = await login(rig, { token: TOKEN, next: '/' }, { origin: 'https://evil.example' });
    assert.equal(forged.status, 403);
    assert.equal(forged.headers.get('set-cookie'), null);
    const crossSite = await login(rig, { token: TOKEN, next: '/' }, { 'sec-fetch-site': 'cross-site' });
    assert.equal(crossSite.status, 403);
    const ours = await login(rig, { token: TOKEN, next: '/' }, { origin: rig.url, 'sec-fetch-site': 'same-origin' });
    assert.equal(ours.status, 303);
  });

  it('sign out by clearing the cookie', async () => {
    const response = await fetch(`${rig.url}/logout`, { method: 'POST', headers: { cookie, origin: rig.url }, redirect: 'manual' });
    assert.equal(response.status, 303);
    assert.equal(response.headers.get('location'), '/login');
    assert.match(response.headers.get('set-cookie')!, /^smoke_session=; .*Max-Age=0/);
  });

  it('let the login page resume a session a cross-site link did not carry', async () => {
    assert.equal((await get(rig, '/login/session', { cookie })).status, 204);
    assert.equal((await get(rig, '/login/session')).status, 401);
    assert.equal((await get(rig, '/login?next=/schedules', { ...HTML, cookie })).headers.get('location'), '/schedules');
  });

  it('serve no file outside what a run names, whatever the path says', async () => {
    writeReport(rig, { 'index.html': '<!doctype html><title>report</title>' });
    const auth = { authorization: `Bearer ${TOKEN}` };
    const attempts = [
      `/runs/${rig.runId}/artifacts/target/unnamed.txt`,
      `/runs/${rig.runId}/artifacts/..%2F..%2Foutside.txt`,
      `/runs/${rig.runId}/artifacts/%2e%2e/%2e%2e/outside.txt`,
      `/runs/${rig.runId}/report/..%2F..%2Foutside.txt`,
      `/runs/${rig.runId}/report/%2e%2e/target/unnamed.txt`,
      `/runs/${rig.runId}/report/..%5C..%5Coutside.txt`,
      `/runs/${rig.runId}/report/.hidden`,
      '/trace/..%2F..%2F..%2Fpackage.json',
      '/trace/%2e%2e/%2e%2e/%2e%2e/package.json',
      `/runs/..%2F${rig.runId}/report/index.html`,
    ];
    for (const route of attempts) {
      const response = await get(rig, route, auth);
      assert.ok(response.status >= 400 && response.status < 500, `${route}: ${response.status}`);
      assert.ok(!/outside any run|not named by any result|"name": "playwright-core"/.test(response.text), route);
    }
  });

  it('say why a run has no report', async () => {
    const auth = { ...HTML, authorization: `Bearer ${TOKEN}` };
    const open = { id: rig.openRunId };
    const pending = await get(rig, `/runs/${open.id}/report/`, auth);
    assert.equal(pending.status, 404);
    assert.match(pending.text, /written when the run ends/);
    const redirect = await get(rig, `/runs/${open.id}/report`, auth);
    assert.equal(redirect.status, 301);
    assert.equal(redirect.headers.get('location'), `${open.id}/report/`);
  });
});

describe('pages behind a path prefix', () => {
  let rig: SiteRig;
  before(async () => (rig = await startSite({ apiToken: TOKEN, prefix: '/smoke' })));
  after(() => rig.close());

  it('redirect to the prefixed login whether the proxy keeps the prefix or strips it', async () => {
    for (const route of ['/smoke/schedules', '/schedules']) {
      const response = await get(rig, route, HTML);
      assert.equal(response.status, 303, route);
      assert.equal(response.headers.get('location'), `/smoke/login?next=${encodeURIComponent('/smoke/schedules')}`, route);
    }
  });

  it('set the cookie on the prefix and keep `next` under it', async () => {
    const inside = await login(rig, { token: TOKEN, next: `/smoke/runs/${rig.runId}` });
    assert.equal(inside.headers.get('location'), `/smoke/runs/${rig.runId}`);
    assert.ok(inside.headers.get('set-cookie')!.includes('; Path=/smoke;'));
    const outside = await login(rig, { token: TOKEN, next: '/elsewhere' });
    assert.equal(outside.headers.get('location'), '/smoke/');
    const cookie = cookieOf(inside.headers.get('set-cookie'));
    for (const route of ['/smoke/', '/smoke/trace/index.html', `/smoke/runs/${rig.runId}/artifacts/${rig.screenshot}`, `/runs/${rig.runId}`]) {
      assert.equal((await get(rig, route, { ...HTML, cookie })).status, 200, route);
    }
  });
});
