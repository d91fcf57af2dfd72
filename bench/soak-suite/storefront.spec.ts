import { expect, test } from '@playwright/test';

// The soak benchmark's suite: 20 critical flows over the demo shop's pages and APIs.

test('home page shows the shop', { tag: '@critical' }, async ({ page }) => {
  await page.goto('/');
  await expect(page).toHaveTitle('Smoke Shop');
  await expect(page.getByRole('heading', { name: 'Smoke Shop' })).toBeVisible();
});

test('catalogue shows every product with a price', { tag: '@critical' }, async ({ page }) => {
  await page.goto('/');
  const products = page.getByTestId('product');
  await expect(products).toHaveCount(4);
  for (const product of await products.all()) await expect(product.locator('.price')).toHaveText(/^\$\d+\.\d{2}$/);
});

test('every product can be added to the cart', { tag: '@critical' }, async ({ page }) => {
  await page.goto('/');
  const buttons = page.getByRole('button', { name: 'Add to cart' });
  await expect(buttons).toHaveCount(await page.getByTestId('product').count());
  for (const button of await buttons.all()) await expect(button).toBeEnabled();
});

test('footer names the instance and its version', { tag: '@critical' }, async ({ page }) => {
  await page.goto('/');
  await expect(page.getByTestId('instance')).not.toBeEmpty();
  await expect(page.getByTestId('version')).toHaveText(/^\d+\.\d+\.\d+/);
});

test('home page loads without script errors', { tag: '@critical' }, async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  await page.goto('/', { waitUntil: 'load' });
  await expect(page.getByTestId('cart-count')).toHaveText('0');
  expect(errors).toEqual([]);
});
