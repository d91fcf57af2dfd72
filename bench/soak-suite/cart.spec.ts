import { expect, test, type Page } from '@playwright/test';

const add = (page: Page, index: number) => page.getByTestId('product').nth(index).getByRole('button', { name: 'Add to cart' }).click();
const checkout = (page: Page) => page.getByRole('button', { name: 'Checkout', exact: true }).click();

test('adding a product counts it', { tag: '@critical' }, async ({ page }) => {
  await page.goto('/');
  await add(page, 0);
  await expect(page.getByTestId('cart-count')).toHaveText('1');
});

test('adding the same product twice counts two', { tag: '@critical' }, async ({ page }) => {
  await page.goto('/');
  await add(page, 2);
  await add(page, 2);
  await expect(page.getByTestId('cart-count')).toHaveText('2');
});

test('checkout of an empty cart says so', { tag: '@critical' }, async ({ page }) => {
  await page.goto('/');
  await checkout(page);
  await expect(page.getByRole('status')).toHaveText('Your cart is empty.');
});

test('customer can check out one product', { tag: '@critical' }, async ({ page }) => {
  await page.goto('/');
  await add(page, 1);
  await checkout(page);
  await expect(page.getByRole('status')).toContainText(/Order confirmed #\d+/);
});

test('customer can check out several products and the cart empties', { tag: '@critical' }, async ({ page }) => {
  await page.goto('/');
  for (const index of [0, 1, 3]) await add(page, index);
  await expect(page.getByTestId('cart-count')).toHaveText('3');
  await checkout(page);
  await expect(page.getByRole('status')).toContainText(/Order confirmed #\d+/);
  await expect(page.getByTestId('cart-count')).toHaveText('0');
});
