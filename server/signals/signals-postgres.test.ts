import { after, before } from 'node:test';
import { startPostgres, type Postgres } from '../testing/postgres.ts';
import { signalReplicasContract } from './replicas-contract.ts';

let server: Postgres;
let databases = 0;
before(async () => {
  server = await startPostgres({ database: 'signals' });
});
after(async () => {
  await server?.stop();
});

signalReplicasContract('postgres', async () => ({ kind: 'postgres', url: await server.createDatabase(`signals_${++databases}`) }));
