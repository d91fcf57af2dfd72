import { expect, test } from '@playwright/test';

test('customer can check out', { tag: '@critical' }, async ({ page }) => {
  await page.goto('/');
  const products = page.getByTestId('product');
  await products.nth(0).getByRole('button', { name: 'Add to cart' }).click();
  await products.nth(1).getByRole('button', { name: 'Add to cart' }).click();
  await expect(page.getByTestId('cart-count')).toHaveText('2');

  await page.getByRole('button', { name: 'Checkout', exact: true }).click();
  await expect(page.getByRole('status')).toContainText(/Order confirmed #\w+/);
});
