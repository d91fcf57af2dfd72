/**
 * How one webhook attempt ended, as a bounded label: the HTTP status class
 * of the answer, or how it failed without a usable one. The one classifier
 * for both the outbox's attempt records and the delivery metrics.
 */
export type StatusClass = '2xx' | '3xx' | '4xx' | '5xx' | 'timeout' | 'network';

export const STATUS_CLASSES = Object.keys({ '2xx': 1, '3xx': 1, '4xx': 1, '5xx': 1, timeout: 1, network: 1 } satisfies Record<
  StatusClass,
  1
>) as StatusClass[];

/**
 * The class of a received status. Anything outside 200–599 is not an answer
 * a receiver can mean (fetch never surfaces 1xx; 600+ is a broken peer), so it
 * counts with the failures that had no answer at all.
 */
export function statusClassOf(status: number): StatusClass {
  if (Number.isInteger(status) && status >= 200 && status < 600) return `${Math.floor(status / 100)}xx` as StatusClass;
  return 'network';
}
