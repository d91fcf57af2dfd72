import { expect, test } from '@playwright/test';

test('storefront lists products', { tag: '@critical' }, async ({ page }) => {
  await page.goto('/');
  await expect(page.getByRole('heading', { name: 'Smoke Shop' })).toBeVisible();

  const products = page.getByTestId('product');
  // At least three: the catalogue may grow without breaking the flow.
  await expect(products.nth(2)).toBeVisible();
  await expect(products.first().getByRole('button', { name: 'Add to cart' })).toBeVisible();
});
