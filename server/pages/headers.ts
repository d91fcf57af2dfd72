/**
 * Headers of every page smoke renders: scripts and styles from /assets only,
 * images from the service (or data: URLs), no framing, no plugins, forms and
 * <base> only to itself. Playwright's own apps (the trace viewer, the
 * report) and files a flow wrote get policies of their own (trace-viewer.ts).
 */
export const PAGE_HEADERS = {
  'Content-Security-Policy': "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'same-origin',
} as const;
