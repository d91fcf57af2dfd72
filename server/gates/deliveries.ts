import type Database from 'better-sqlite3';

/** GitHub redelivers for 3 days; a month leaves room for slow hands and costs a few rows. */
export const DELIVERY_RETENTION_MS = 30 * 86_400_000;

export type DeliverySource = 'github';

export interface Deliveries {
  /** The deployment an earlier delivery with this id was acted on with, if any. */
  seen(source: DeliverySource, deliveryId: string): { deploymentId: string } | undefined;
  /** Remembers the delivery (and forgets those past retention). */
  record(source: DeliverySource, deliveryId: string, deploymentId: string, nowMs: number): void;
  /** Forgets deliveries past retention, for the retention pass (a quiet gate records none); returns how many. */
  prune(nowMs: number): number;
}

/** Delivery ids in the service's SQLite file, so a redelivery after a restart is still recognised. */
export function createDeliveries(db: Database.Database): Deliveries {
  const q = {
    get: db.prepare('SELECT deployment_id FROM gate_deliveries WHERE source = ? AND delivery_id = ?'),
    insert: db.prepare('INSERT OR IGNORE INTO gate_deliveries (source, delivery_id, deployment_id, received_at) VALUES (?, ?, ?, ?)'),
    prune: db.prepare('DELETE FROM gate_deliveries WHERE received_at < ?'),
  };
  return {
    seen(source, deliveryId) {
      const row = q.get.get(source, deliveryId) as { deployment_id: string } | undefined;
      return row && { deploymentId: row.deployment_id };
    },
    record(source, deliveryId, deploymentId, nowMs) {
      q.insert.run(source, deliveryId, deploymentId, nowMs);
      q.prune.run(nowMs - DELIVERY_RETENTION_MS);
    },
    prune: (nowMs) => q.prune.run(nowMs - DELIVERY_RETENTION_MS).changes,
  };
}
