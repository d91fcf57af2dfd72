import { expect, test, type Page } from '@playwright/test';

// Regressed on a canary whose Checkout button does nothing (`broken-button`):
// each waits for a confirmation that never appears, until the expect timeout.
// Tagged @checkout-ui so the benchmark can run just these through the CLI.

async function checkOut(page: Page, products: readonly number[]): Promise<void> {
  await page.goto('/');
  for (const index of products) await page.getByTestId('product').nth(index).getByRole('button', { name: 'Add to cart' }).click();
  await expect(page.getByTestId('cart-count')).toHaveText(String(products.length));
  await page.getByRole('button', { name: 'Checkout', exact: true }).click();
  await expect(page.getByText(/Order confirmed #\d+/)).toBeVisible();
}

test('customer can check out one product', { tag: ['@critical', '@checkout-ui'] }, async ({ page }) => {
  await checkOut(page, [0]);
});

test('customer can check out two products', { tag: ['@critical', '@checkout-ui'] }, async ({ page }) => {
  await checkOut(page, [1, 2]);
});

test('customer can check out the whole catalogue', { tag: ['@critical', '@checkout-ui'] }, async ({ page }) => {
  await checkOut(page, [0, 1, 2, 3]);
});
