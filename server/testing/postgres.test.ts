import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { processesIn, reapOrphans } from './postgres-processes.ts';
import { startPostgres, type Postgres } from './postgres.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));

async function query<T extends pg.QueryResultRow>(url: string, sql: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql, values)).rows;
  } finally {
    await client.end();
  }
}

describe('a test PostgreSQL', () => {
  let server: Postgres;
  before(async () => {
    server = await startPostgres();
  });
  after(async () => {
    await server?.stop();
  });

  test('answers queries on its URL, as a real server', async () => {
    assert.match(server.url, /^postgres:\/\/postgres@127\.0\.0\.1:\d+\/smoke$/);
    const [row] = await query<{ db: string; version: string; zone: string; fsync: string }>(
      server.url,
      "SELECT current_database() AS db, current_setting('server_version_num') AS version, current_setting('TimeZone') AS zone, current_setting('fsync') AS fsync",
    );
    assert.equal(row?.db, 'smoke');
    assert.ok(Number(row?.version) >= 150000, `server_version_num ${row?.version}`);
    assert.equal(row?.zone, 'UTC');
    assert.equal(row?.fsync, 'off');
    assert.ok(processesIn(server.folder).length > 0, 'its processes are found by folder');
  });

  test('keeps its data over a clean stop and start, and over a killed server', async () => {
    await query(server.url, 'CREATE TABLE kept (id int PRIMARY KEY, note text)');
    await query(server.url, 'INSERT INTO kept VALUES (1, $1)', ['before the restart']);

    await server.stopServer();
    assert.equal(server.running, false);
    assert.deepEqual(processesIn(server.folder), [], 'no process of the stopped server is left');
    await assert.rejects(query(server.url, 'SELECT 1'), /ECONNREFUSED/);

    await server.startServer();
    assert.deepEqual(await query(server.url, 'SELECT id, note FROM kept'), [{ id: 1, note: 'before the restart' }]);

    // Committed just before an immediate shutdown (a crash): still there after recovery.
    await query(server.url, 'INSERT INTO kept VALUES (2, $1)', ['just before the crash']);
    await server.restart('immediate');
    assert.deepEqual(await query(server.url, 'SELECT id FROM kept ORDER BY id'), [{ id: 1 }, { id: 2 }]);
  });

  test('ends a pool\'s open sessions when stopped, and the pool reconnects after the start', async () => {
    const pool = new pg.Pool({ connectionString: server.url, max: 2 });
    pool.on('error', () => undefined); // Idle clients lose their server on the stop: expected here.
    try {
      assert.equal((await pool.query('SELECT 1 AS one')).rows[0].one, 1);
      await server.stopServer();
      await assert.rejects(pool.query('SELECT 1'));
      await server.startServer();
      assert.equal((await pool.query('SELECT 2 AS two')).rows[0].two, 2);
    } finally {
      await pool.end();
    }
  });

  test('creates more databases, one per test', async () => {
    const url = await server.createDatabase('another_one');
    assert.deepEqual(await query(url, 'SELECT current_database() AS db'), [{ db: 'another_one' }]);
    await assert.rejects(server.createDatabase('Robert"; DROP'), /database name "Robert"; DROP": use lower-case letters/);
  });

  test('stop() removes the folder and leaves no process; a second stop() does nothing', async () => {
    const other = await startPostgres({ database: 'short_lived' });
    assert.ok(existsSync(other.folder));
    await other.stop();
    await other.stop();
    assert.equal(existsSync(other.folder), false);
    assert.deepEqual(processesIn(other.folder), []);
  });
});

describe('start-up failures', () => {
  test('say what failed', async () => {
    await assert.rejects(startPostgres({ database: 'x-y' }), /database name "x-y"/);
    await assert.rejects(startPostgres({ binDir: '/nonexistent/bin' }), /initdb failed for the test PostgreSQL in .*smoke-pg-/);
  });
});

describe('a test process that does not stop its server', () => {
  // A child process starts a server, prints its folder, then ends as told.
  async function abandon(ending: 'exit' | 'hang'): Promise<{ folder: string; child: ReturnType<typeof spawn> }> {
    const script = `
      import { startPostgres } from ${JSON.stringify(path.join(HERE, 'postgres.ts'))};
      const server = await startPostgres();
      console.log(server.folder);
      ${ending === 'exit' ? 'process.exit(1);' : 'setInterval(() => {}, 1000);'}
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8');
    const [line] = await new Promise<string[]>((resolve, reject) => {
      child.stdout.on('data', (chunk: string) => {
        out += chunk;
        if (out.includes('\n')) resolve(out.split('\n'));
      });
      child.once('exit', (code) => reject(new Error(`the child exited (${code}) before printing its folder: ${out}`)));
    });
    assert.ok(line?.includes('smoke-pg-'), `a folder, not ${line}`);
    return { folder: line!, child };
  }

  test('exiting (a failed test): the server is stopped and its folder removed', async () => {
    const { folder, child } = await abandon('exit');
    if (child.exitCode === null) await once(child, 'exit');
    assert.deepEqual(processesIn(folder), []);
    assert.equal(existsSync(folder), false);
  });

  test('killed with SIGKILL (no exit handler runs): the next start reaps its server', async () => {
    const { folder, child } = await abandon('hang');
    assert.ok(processesIn(folder).length > 0);
    child.kill('SIGKILL');
    await once(child, 'exit');
    assert.ok(processesIn(folder).length > 0, 'the orphan is still running');
    reapOrphans(os.tmpdir());
    assert.deepEqual(processesIn(folder), []);
    assert.equal(existsSync(folder), false);
  });
});
