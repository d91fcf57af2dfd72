import type { Kysely } from 'kysely';
import { DELIVERY_RETENTION_MS, type Deliveries } from '../gates/deliveries.ts';
import { affected } from './engine.ts';
import { reading, writing } from './faults.ts';
import type { Schema } from './schema.ts';

/** Delivery ids the gates acted on; the same statements on both engines. */
export function createGateDeliveryStore(db: Kysely<Schema>): Deliveries {
  const prune = async (nowMs: number) => {
    const result = await db.deleteFrom('gate_deliveries').where('received_at', '<', nowMs - DELIVERY_RETENTION_MS).executeTakeFirst();
    return affected(result);
  };
  return {
    seen: (source, deliveryId) =>
      reading('read the gate delivery', async () => {
        const row = await db
          .selectFrom('gate_deliveries')
          .select('deployment_id')
          .where('source', '=', source)
          .where('delivery_id', '=', deliveryId)
          .executeTakeFirst();
        return row && { deploymentId: row.deployment_id };
      }),
    record: (source, deliveryId, deploymentId, nowMs) =>
      writing('remember the gate delivery', async () => {
        // A redelivery racing the first (to another replica) keeps the first's deployment.
        await db
          .insertInto('gate_deliveries')
          .values({ source, delivery_id: deliveryId, deployment_id: deploymentId, received_at: nowMs })
          .onConflict((oc) => oc.columns(['source', 'delivery_id']).doNothing())
          .execute();
        await prune(nowMs);
      }),
    prune: (nowMs) => writing('prune old gate deliveries', () => prune(nowMs)),
  };
}
