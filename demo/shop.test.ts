import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import type { TestContext } from 'node:test';
import { createShopApp } from './shop.ts';
import type { ShopOptions } from './shop.ts';

/** Serves a fresh shop on an ephemeral port for one test and stops it afterwards. */
async function startShop(t: TestContext, options: Partial<ShopOptions> = {}) {
  const shop = createShopApp({ name: 'test', ...options });
  const server = createServer(shop.app);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    // fetch keeps connections alive, which would hold close() open.
    server.closeAllConnections();
    server.close();
  });
  const { port } = server.address() as AddressInfo;
  return { ...shop, url: `http://127.0.0.1:${port}` };
}

function postJson(url: string, body: unknown): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

const ORDER = { items: [{ id: 'enamel-mug', qty: 2 }, { id: 'wool-socks', qty: 1 }] };

describe('healthy shop', () => {
  test('renders the storefront with its name, version and products', async (t) => {
    const { url } = await startShop(t, { name: 'canary', version: '2.1.0' });
    const res = await fetch(`${url}/`);
    assert.equal(res.status, 200);
    const html = await res.text();
    assert.match(html, /<h1>Smoke Shop<\/h1>/);
    assert.match(html, /data-testid="instance">canary</);
    assert.match(html, /data-testid="version">2\.1\.0</);
    assert.ok((html.match(/data-testid="product"/g) ?? []).length >= 3);
    assert.doesNotMatch(html, /\/api\/products/, 'the page must not depend on the products API');
  });

  test('lists the catalogue', async (t) => {
    const { url } = await startShop(t);
    const res = await fetch(`${url}/api/products`);
    assert.equal(res.status, 200);
    const { products } = (await res.json()) as { products: { id: string; name: string; priceCents: number }[] };
    assert.ok(products.length >= 3);
    for (const p of products) {
      assert.equal(typeof p.id, 'string');
      assert.equal(typeof p.name, 'string');
      assert.ok(Number.isInteger(p.priceCents));
    }
  });

  test('accepts an order and totals it', async (t) => {
    const { url } = await startShop(t);
    const first = await postJson(`${url}/api/checkout`, ORDER);
    assert.equal(first.status, 201);
    assert.deepEqual(await first.json(), { orderId: '1001', totalCents: 2 * 1400 + 1200 });
    const second = (await (await postJson(`${url}/api/checkout`, ORDER)).json()) as { orderId: string };
    assert.equal(second.orderId, '1002');
  });

  const badBodies: [string, string | undefined][] = [
    ['no items', '{}'],
    ['empty items', '{"items":[]}'],
    ['unknown product', '{"items":[{"id":"nope","qty":1}]}'],
    ['zero quantity', '{"items":[{"id":"enamel-mug","qty":0}]}'],
    ['fractional quantity', '{"items":[{"id":"enamel-mug","qty":1.5}]}'],
    ['malformed JSON', '{"items":'],
  ];
  for (const [label, body] of badBodies) {
    test(`rejects an order with ${label} with a JSON 400`, async (t) => {
      const { url } = await startShop(t);
      const res = await fetch(`${url}/api/checkout`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      assert.equal(res.status, 400);
      const json = (await res.json()) as { error: unknown };
      assert.equal(typeof json.error, 'string');
    });
  }

  test('answers health checks', async (t) => {
    const { url } = await startShop(t);
    assert.equal((await fetch(`${url}/healthz`)).status, 200);
  });
});

describe('faults', () => {
  test('checkout-500 fails checkout but not the catalogue', async (t) => {
    const { url } = await startShop(t, { fault: 'checkout-500' });
    const res = await postJson(`${url}/api/checkout`, ORDER);
    assert.equal(res.status, 500);
    assert.equal(typeof ((await res.json()) as { error: unknown }).error, 'string');
    assert.equal((await fetch(`${url}/api/products`)).status, 200);
  });

  test('flaky-products alternates 503 and 200, starting with 503', async (t) => {
    const { url } = await startShop(t, { fault: 'flaky-products' });
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await fetch(`${url}/api/products`)).status);
    assert.deepEqual(statuses, [503, 200, 503, 200]);
  });

  test('flaky-products starts over with 503 after a deploy', async (t) => {
    const { url } = await startShop(t, { fault: 'flaky-products' });
    assert.equal((await fetch(`${url}/api/products`)).status, 503);
    await postJson(`${url}/__demo/deploy`, { version: '1.0.1', fault: 'none' });
    assert.equal((await fetch(`${url}/api/products`)).status, 200);
    await postJson(`${url}/__demo/deploy`, { version: '1.0.2', fault: 'flaky-products' });
    assert.equal((await fetch(`${url}/api/products`)).status, 503);
    assert.equal((await fetch(`${url}/api/products`)).status, 200);
  });

  test('broken-button renders a Checkout button the page script does not handle', async (t) => {
    const healthy = await (await fetch(`${(await startShop(t)).url}/`)).text();
    const broken = await (await fetch(`${(await startShop(t, { fault: 'broken-button' })).url}/`)).text();
    assert.notEqual(broken, healthy);
    assert.match(healthy, /data-action="checkout">Checkout</);
    assert.doesNotMatch(broken, /data-action="checkout"/);
    assert.match(broken, />Checkout<\/button>/);
  });

  test('slow delays shop responses but not the demo controls', async (t) => {
    const { url } = await startShop(t, { fault: 'slow', slowMs: 200 });
    let started = performance.now();
    assert.equal((await fetch(`${url}/healthz`)).status, 200);
    assert.ok(performance.now() - started >= 190, 'shop response should wait for slowMs');
    started = performance.now();
    assert.equal((await fetch(`${url}/__demo/state`)).status, 200);
    assert.ok(performance.now() - started < 150, 'demo controls should not wait');
  });
});

describe('demo controls', () => {
  test('deploy switches version and fault, visible in state and on the page', async (t) => {
    const shop = await startShop(t, { name: 'production' });
    const res = await postJson(`${shop.url}/__demo/deploy`, { version: '1.1.0', fault: 'checkout-500' });
    assert.equal(res.status, 200);
    const expected = { name: 'production', version: '1.1.0', fault: 'checkout-500' };
    assert.deepEqual(await res.json(), expected);
    assert.deepEqual(await (await fetch(`${shop.url}/__demo/state`)).json(), expected);
    assert.deepEqual(shop.state, { version: '1.1.0', fault: 'checkout-500' });
    assert.match(await (await fetch(`${shop.url}/`)).text(), /data-testid="version">1\.1\.0</);
    assert.equal((await postJson(`${shop.url}/api/checkout`, ORDER)).status, 500);
  });

  const badDeploys: [string, unknown][] = [
    ['an unknown fault', { version: '1.1.0', fault: 'meltdown' }],
    ['no version', { fault: 'none' }],
    ['an empty version', { version: ' ', fault: 'none' }],
  ];
  for (const [label, body] of badDeploys) {
    test(`deploy with ${label} is a 400 and changes nothing`, async (t) => {
      const shop = await startShop(t, { version: '1.0.0' });
      const res = await postJson(`${shop.url}/__demo/deploy`, body);
      assert.equal(res.status, 400);
      assert.equal(typeof ((await res.json()) as { error: unknown }).error, 'string');
      assert.deepEqual(shop.state, { version: '1.0.0', fault: 'none' });
    });
  }

  test('escapes a deployed version in the page', async (t) => {
    const { url } = await startShop(t);
    await postJson(`${url}/__demo/deploy`, { version: '<script>x</script>' });
    const html = await (await fetch(`${url}/`)).text();
    assert.doesNotMatch(html, /<script>x<\/script>/);
    assert.match(html, /&#60;script&#62;x/);
  });
});

test('createShopApp refuses an unknown fault', () => {
  assert.throws(() => createShopApp({ name: 'x', fault: 'nope' as never }), /Unknown fault "nope"/);
});
