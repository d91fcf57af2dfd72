import { expect, test } from '@playwright/test';

// Deliberately untagged: a nice-to-have that `--grep @critical` leaves out.
test('footer shows the version', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByRole('contentinfo')).toContainText('version');
  await expect(page.getByTestId('version')).toHaveText(/^\d+\.\d+\.\d+/);
});
