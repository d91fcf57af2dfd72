import { expect, test } from '@playwright/test';

// Healthy everywhere.

test('storefront lists products', { tag: '@critical' }, async ({ page }) => {
  await page.goto('/');
  await expect(page.getByRole('heading', { name: 'Smoke Shop' })).toBeVisible();
  await expect(page.getByTestId('product').nth(2)).toBeVisible();
});

test('adding a product counts it', { tag: '@critical' }, async ({ page }) => {
  await page.goto('/');
  await page.getByTestId('product').first().getByRole('button', { name: 'Add to cart' }).click();
  await expect(page.getByTestId('cart-count')).toHaveText('1');
});

test('products API lists the catalogue', { tag: '@critical' }, async ({ request }) => {
  const response = await request.get('/api/products');
  expect(response.status()).toBe(200);
  expect(((await response.json()) as { products: unknown[] }).products.length).toBeGreaterThanOrEqual(3);
});

test('checkout API accepts an order', { tag: '@critical' }, async ({ request }) => {
  const response = await request.post('/api/checkout', { data: { items: [{ id: 'wool-socks', qty: 1 }] } });
  expect(response.status()).toBe(201);
});

test('footer names the version', { tag: '@critical' }, async ({ page }) => {
  await page.goto('/');
  await expect(page.getByTestId('version')).toHaveText(/\S/);
});
