import { expect, test } from '@playwright/test';

type Product = { id: string; name: string; priceCents: number };

test('products API lists the catalogue', { tag: '@critical' }, async ({ request }) => {
  const response = await request.get('/api/products');
  expect(response.status()).toBe(200);
  expect(((await response.json()) as { products: Product[] }).products.length).toBeGreaterThanOrEqual(3);
});

test('products API answers JSON', { tag: '@critical' }, async ({ request }) => {
  const response = await request.get('/api/products');
  expect(response.headers()['content-type']).toMatch(/^application\/json/);
});

test('product ids are unique', { tag: '@critical' }, async ({ request }) => {
  const { products } = (await (await request.get('/api/products')).json()) as { products: Product[] };
  expect(new Set(products.map((p) => p.id)).size).toBe(products.length);
});

test('product prices are whole positive cents', { tag: '@critical' }, async ({ request }) => {
  const { products } = (await (await request.get('/api/products')).json()) as { products: Product[] };
  for (const p of products) {
    expect(Number.isInteger(p.priceCents), p.id).toBe(true);
    expect(p.priceCents, p.id).toBeGreaterThan(0);
  }
});

test('health endpoint reports a version', { tag: '@critical' }, async ({ request }) => {
  const response = await request.get('/healthz');
  expect(response.status()).toBe(200);
  expect(await response.json()).toMatchObject({ status: 'ok', version: expect.stringMatching(/^\d+\.\d+\.\d+/) });
});
