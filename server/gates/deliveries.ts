/** GitHub redelivers for 3 days; a month leaves room for slow hands and costs a few rows. */
export const DELIVERY_RETENTION_MS = 30 * 86_400_000;

export type DeliverySource = 'github';

/** Delivery ids in the store (implemented in `../store/gate-deliveries.ts`), so a redelivery after a restart, or to another replica, is still recognised. */
export interface Deliveries {
  /** The deployment an earlier delivery with this id was acted on with, if any. */
  seen(source: DeliverySource, deliveryId: string): Promise<{ deploymentId: string } | undefined>;
  /** Remembers the delivery (and forgets those past retention). */
  record(source: DeliverySource, deliveryId: string, deploymentId: string, nowMs: number): Promise<void>;
  /** Forgets deliveries past retention, for the retention pass (a quiet gate records none); returns how many. */
  prune(nowMs: number): Promise<number>;
}
