/** The demo shop's fixed catalogue and the rules for a valid order. */

export type Product = { id: string; name: string; priceCents: number };

export const PRODUCTS: readonly Product[] = Object.freeze([
  { id: 'enamel-mug', name: 'Enamel Mug', priceCents: 1400 },
  { id: 'canvas-tote', name: 'Canvas Tote', priceCents: 1900 },
  { id: 'wool-socks', name: 'Wool Socks', priceCents: 1200 },
  { id: 'field-notebook', name: 'Field Notebook', priceCents: 900 },
]);

/** Per line; keeps a typo like `qty: 1e9` from looking like a real order. */
export const MAX_QTY = 99;
export const MAX_LINES = PRODUCTS.length;

export type OrderLine = { product: Product; qty: number };

export type ParsedOrder = { kind: 'ok'; lines: OrderLine[]; totalCents: number } | { kind: 'invalid'; reason: string };

/** Checks a `{ items: [{ id, qty }] }` body; the reason is shown to the caller as is. */
export function parseOrder(body: unknown): ParsedOrder {
  if (!isRecord(body) || !Array.isArray(body.items)) {
    return { kind: 'invalid', reason: 'expected a JSON body { "items": [{ "id": string, "qty": number }] }' };
  }
  if (body.items.length === 0) return { kind: 'invalid', reason: 'items must not be empty' };
  if (body.items.length > MAX_LINES) return { kind: 'invalid', reason: `at most ${MAX_LINES} items per order` };

  const lines: OrderLine[] = [];
  for (const [index, item] of body.items.entries()) {
    if (!isRecord(item)) return { kind: 'invalid', reason: `items[${index}] must be an object` };
    const product = PRODUCTS.find((p) => p.id === item.id);
    if (!product) return { kind: 'invalid', reason: `items[${index}].id: unknown product ${JSON.stringify(item.id)}` };
    const qty = item.qty;
    if (typeof qty !== 'number' || !Number.isInteger(qty) || qty < 1 || qty > MAX_QTY) {
      return { kind: 'invalid', reason: `items[${index}].qty must be a whole number from 1 to ${MAX_QTY}` };
    }
    lines.push({ product, qty });
  }
  const totalCents = lines.reduce((sum, line) => sum + line.product.priceCents * line.qty, 0);
  return { kind: 'ok', lines, totalCents };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
