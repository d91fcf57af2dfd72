import { expect, test } from '@playwright/test';

test('products API lists the catalogue', { tag: '@critical' }, async ({ request }) => {
  const response = await request.get('/api/products');
  expect(response.status()).toBe(200);
  const body = (await response.json()) as { products: { id: string; name: string; priceCents: number }[] };
  expect(body.products.length).toBeGreaterThanOrEqual(3);
  expect(body.products[0]).toMatchObject({ id: expect.any(String), name: expect.any(String), priceCents: expect.any(Number) });
});

test('checkout API accepts an order', { tag: '@critical' }, async ({ request }) => {
  // A known product id rather than one read from /api/products: this flow should fail only when checkout does.
  const response = await request.post('/api/checkout', { data: { items: [{ id: 'enamel-mug', qty: 2 }] } });
  expect(response.status()).toBe(201);
  expect(await response.json()).toMatchObject({ orderId: expect.any(String), totalCents: expect.any(Number) });
});
