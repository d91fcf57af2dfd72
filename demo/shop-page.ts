import type { Product } from './catalogue.ts';

export type ShopPage = {
  name: string;
  version: string;
  products: readonly Product[];
  /** Renders the Checkout button the way a bad deploy might: present, but wired to nothing. */
  brokenCheckout: boolean;
};

/**
 * The storefront, rendered on the server so that the products API's faults
 * cannot reach it. The cart lives in the page; only Checkout calls the API.
 */
export function renderShopPage(page: ShopPage): string {
  // A misspelt action is what such a bug looks like in practice: the click handler never matches it.
  const checkoutAction = page.brokenCheckout ? 'chekout' : 'checkout';
  const items = page.products
    .map(
      (p) => `
      <li data-testid="product" data-product-id="${escapeHtml(p.id)}">
        <span class="name">${escapeHtml(p.name)}</span>
        <span class="price">${formatPrice(p.priceCents)}</span>
        <button type="button" data-action="add" data-product-id="${escapeHtml(p.id)}">Add to cart</button>
      </li>`,
    )
    .join('');

  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Smoke Shop</title>
  <link rel="icon" href="data:,">
  <style>
    body { font-family: system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; padding: 0 1rem; }
    ul { list-style: none; padding: 0; }
    li { display: flex; gap: 1rem; align-items: center; padding: .5rem 0; border-bottom: 1px solid #ddd; }
    .name { flex: 1; }
    footer { margin-top: 2rem; color: #666; font-size: .875rem; }
  </style>
</head>
<body>
  <header>
    <h1>Smoke Shop</h1>
    <p>Cart: <span data-testid="cart-count">0</span> items</p>
  </header>
  <main>
    <ul>${items}
    </ul>
    <button type="button" data-action="${checkoutAction}">Checkout</button>
    <p role="status" data-testid="order-status"></p>
  </main>
  <footer>Served by <span data-testid="instance">${escapeHtml(page.name)}</span>,
    version <span data-testid="version">${escapeHtml(page.version)}</span></footer>
  <script>${CART_SCRIPT}</script>
</body>
</html>
`;
}

const CART_SCRIPT = `
  const cart = new Map();
  const count = document.querySelector('[data-testid="cart-count"]');
  const status = document.querySelector('[role="status"]');
  const showCount = () => { count.textContent = String([...cart.values()].reduce((a, b) => a + b, 0)); };

  async function checkout() {
    if (cart.size === 0) { status.textContent = 'Your cart is empty.'; return; }
    status.textContent = 'Placing your order…';
    const items = [...cart].map(([id, qty]) => ({ id, qty }));
    try {
      const res = await fetch('/api/checkout', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ items }),
      });
      const body = await res.json().catch(() => ({}));
      if (res.status !== 201) throw new Error((body.error || 'unexpected response') + ' (HTTP ' + res.status + ')');
      cart.clear();
      showCount();
      status.textContent = 'Order confirmed #' + body.orderId;
    } catch (err) {
      status.textContent = 'Checkout failed: ' + err.message;
    }
  }

  document.addEventListener('click', (event) => {
    const button = event.target.closest('[data-action]');
    if (!button) return;
    if (button.dataset.action === 'add') {
      const id = button.dataset.productId;
      cart.set(id, (cart.get(id) || 0) + 1);
      showCount();
    } else if (button.dataset.action === 'checkout') {
      void checkout();
    }
  });
`;

function formatPrice(cents: number): string {
  return `$${(cents / 100).toFixed(2)}`;
}

/** Name and version come from the command line and the deploy endpoint, so they are escaped. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
