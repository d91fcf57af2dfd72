import { expect, test } from '@playwright/test';

type Product = { id: string; priceCents: number };

test('checkout API accepts an order', { tag: '@critical' }, async ({ request }) => {
  const response = await request.post('/api/checkout', { data: { items: [{ id: 'enamel-mug', qty: 1 }] } });
  expect(response.status()).toBe(201);
  expect(await response.json()).toMatchObject({ orderId: expect.any(String) });
});

test('checkout API totals an order at catalogue prices', { tag: '@critical' }, async ({ request }) => {
  const { products } = (await (await request.get('/api/products')).json()) as { products: Product[] };
  const [a, b] = products as [Product, Product];
  const response = await request.post('/api/checkout', { data: { items: [{ id: a.id, qty: 2 }, { id: b.id, qty: 1 }] } });
  expect(response.status()).toBe(201);
  expect(((await response.json()) as { totalCents: number }).totalCents).toBe(a.priceCents * 2 + b.priceCents);
});

test('checkout API refuses an unknown product', { tag: '@critical' }, async ({ request }) => {
  const response = await request.post('/api/checkout', { data: { items: [{ id: 'no-such-thing', qty: 1 }] } });
  expect(response.status()).toBe(400);
  expect(((await response.json()) as { error: string }).error).toContain('unknown product');
});

test('checkout API refuses an empty order', { tag: '@critical' }, async ({ request }) => {
  const response = await request.post('/api/checkout', { data: { items: [] } });
  expect(response.status()).toBe(400);
});

test('checkout API refuses a body that is not JSON', { tag: '@critical' }, async ({ request }) => {
  const response = await request.post('/api/checkout', { headers: { 'content-type': 'application/json' }, data: '{"items": [' });
  expect(response.status()).toBe(400);
});
