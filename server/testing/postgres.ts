import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chownSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import pg from 'pg';
import { atExit, FOLDER_PREFIX, OWNER_FILE, processesIn, reapOrphans, reapSync } from './postgres-processes.ts';

/**
 * A real PostgreSQL server for tests, from the distribution's binaries, in a
 * temp folder of its own on a free loopback port: no system cluster, no mocks.
 * Durability is traded for speed (fsync off): a test's data only needs to
 * outlive a server restart, never a machine crash.
 */

const run = promisify(execFile);

/** Where Debian's postgresql package puts each major version's server binaries. */
const DEBIAN_ROOT = '/usr/lib/postgresql';
const SUPERUSER = 'postgres';
/** How much of the server log an error quotes, bytes. */
const LOG_TAIL_BYTES = 4_000;
/** How often start-up polls for a connection, milliseconds. */
const READY_POLL_MS = 50;
/** How long a fast shutdown may take before the server is killed, milliseconds. */
const STOP_TIMEOUT_MS = 30_000;
const DATABASE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export interface PostgresOptions {
  /** The database created for `url`; `smoke` by default. Lower-case letters, digits and `_`. */
  readonly database?: string;
  /** The folder holding `initdb` and `postgres`; the newest /usr/lib/postgresql/<major>/bin by default. */
  readonly binDir?: string;
  /** How long initdb plus start-up may take, milliseconds; 60 s by default (a busy 2-core CI machine). */
  readonly startTimeoutMs?: number;
  /** The server's TimeZone; UTC by default, so a test's dates do not depend on the machine. */
  readonly timeZone?: string;
}

/** `fast`: SIGINT, sessions are ended and the server shuts down cleanly. `immediate`: SIGQUIT, like a crash; the next start recovers from the WAL. */
export type StopMode = 'fast' | 'immediate';

export interface Postgres {
  /** `postgres://postgres@127.0.0.1:<port>/<database>`; no password (trust, loopback only). */
  readonly url: string;
  readonly port: number;
  /** The temp folder: `data/`, `socket/`, `server.log`. */
  readonly folder: string;
  /** Creates another empty database on this server and returns its URL: one per test, one server per file. */
  createDatabase(name: string): Promise<string>;
  /** Stops the server and keeps its data; the URL stays the same for `startServer`. */
  stopServer(mode?: StopMode): Promise<void>;
  /** Starts the stopped server again on the same port and data. */
  startServer(): Promise<void>;
  restart(mode?: StopMode): Promise<void>;
  readonly running: boolean;
  /** The end of the server's log, for a failing test's message. */
  logTail(): string;
  /** Stops the server and removes its folder. Safe to call twice. */
  stop(): Promise<void>;
}

export async function startPostgres(options: PostgresOptions = {}): Promise<Postgres> {
  const database = options.database ?? 'smoke';
  checkDatabaseName(database);
  const binDir = options.binDir ?? newestBinDir();
  const startTimeoutMs = options.startTimeoutMs ?? 60_000;
  const owner = serverUser();
  reapOrphans(os.tmpdir());

  const folder = mkdtempSync(path.join(os.tmpdir(), FOLDER_PREFIX));
  writeFileSync(path.join(folder, OWNER_FILE), String(process.pid));
  const dataDir = path.join(folder, 'data');
  const socketDir = path.join(folder, 'socket');
  const logFile = path.join(folder, 'server.log');
  mkdirSync(socketDir);
  if (owner) for (const p of [folder, socketDir]) chownSync(p, owner.uid, owner.gid);
  const spawnAs = { ...owner, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C' } };

  let child: ChildProcess | undefined;
  let port = 0;
  let stopped = false;
  const tail = () => readTail(logFile);
  const cleanUpAtExit = () => reapSync(folder, child?.pid);
  const forgetAtExit = atExit(cleanUpAtExit);

  const startServer = async (): Promise<void> => {
    if (child) throw new Error(`the test PostgreSQL in ${folder} is already running`);
    const log = openSync(logFile, 'a');
    const args = ['-D', dataDir, '-k', socketDir, '-h', '127.0.0.1', '-p', String(port)];
    // fsync off, synchronous_commit left on: a commit still reaches the kernel before it returns, so
    // data outlives a killed server (stopServer('immediate')), only not a machine crash.
    for (const setting of ['fsync=off', 'full_page_writes=off', `TimeZone=${options.timeZone ?? 'UTC'}`,
      // Dynamic shared memory as files in the data folder: removing the folder frees them even after a SIGKILL.
      'dynamic_shared_memory_type=mmap']) args.push('-c', setting);
    const started = spawn(path.join(binDir, 'postgres'), args, { ...spawnAs, stdio: ['ignore', log, log] });
    closeSync(log);
    let spawnError: Error | undefined;
    started.on('error', (error) => (spawnError = error));
    started.on('exit', () => {
      if (child === started) child = undefined;
    });
    child = started;
    await waitUntilReady(started, () => spawnError, port, startTimeoutMs, tail);
  };

  const stopServer = async (mode: StopMode = 'fast'): Promise<void> => {
    const current = child;
    if (!current) return;
    const exited = once(current, 'exit');
    current.kill(mode === 'fast' ? 'SIGINT' : 'SIGQUIT');
    const timeout = sleep(STOP_TIMEOUT_MS, 'timeout' as const, { ref: false });
    if ((await Promise.race([exited, timeout])) === 'timeout') {
      current.kill('SIGKILL');
      await exited;
    }
    // A killed postmaster can leave backends behind for a moment; none may outlive the stop.
    for (const pid of processesIn(folder)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Exited in the meantime.
      }
    }
  };

  try {
    await initdb(binDir, dataDir, spawnAs, folder, owner !== undefined);
    // A port found free can be taken before the server binds it: try another.
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      try {
        await startServer();
        break;
      } catch (error) {
        if (attempt >= 3 || !/could not (create listen socket|bind)/i.test(tail())) throw error;
      }
    }
    await createDatabase(port, database);
  } catch (error) {
    await stopServer('immediate');
    cleanUpAtExit();
    forgetAtExit();
    throw error;
  }

  return {
    url: urlOf(port, database),
    port,
    folder,
    createDatabase: async (name) => {
      checkDatabaseName(name);
      await createDatabase(port, name);
      return urlOf(port, name);
    },
    stopServer,
    startServer,
    restart: async (mode) => {
      await stopServer(mode);
      await startServer();
    },
    get running() {
      return child !== undefined;
    },
    logTail: tail,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await stopServer('fast');
      cleanUpAtExit();
      forgetAtExit();
    },
  };
}

/** The newest major version's server binaries under Debian's layout. */
export function newestBinDir(root = DEBIAN_ROOT): string {
  let versions: string[] = [];
  try {
    versions = readdirSync(root).filter((v) => /^\d+(\.\d+)?$/.test(v) && existsSync(path.join(root, v, 'bin', 'postgres')));
  } catch {
    // No PostgreSQL at all: said below.
  }
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0];
  if (!newest) throw new Error(`no PostgreSQL server under ${root}/<version>/bin: install Debian's postgresql package (scripts/setup.sh does)`);
  return path.join(root, newest, 'bin');
}

/** initdb refuses to run as root: as root the server runs as the `postgres` user, otherwise as whoever runs the tests. */
function serverUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith(`${SUPERUSER}:`));
  const [, , uid, gid] = line?.split(':') ?? [];
  if (uid === undefined || gid === undefined) throw new Error(`running as root, the test PostgreSQL needs the "${SUPERUSER}" user, which Debian's postgresql package creates; it is missing from /etc/passwd`);
  return { uid: Number(uid), gid: Number(gid) };
}

async function initdb(binDir: string, dataDir: string, spawnAs: object, folder: string, asRoot: boolean): Promise<void> {
  const args = ['-D', dataDir, '-U', SUPERUSER, '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions'];
  try {
    await run(path.join(binDir, 'initdb'), args, { ...spawnAs, maxBuffer: 1024 * 1024 });
  } catch (error) {
    const output = `${(error as { stdout?: string }).stdout ?? ''}${(error as { stderr?: string }).stderr ?? ''}`.slice(-LOG_TAIL_BYTES);
    const hint = asRoot ? ` (the ${SUPERUSER} user must be able to reach ${folder})` : '';
    throw new Error(`initdb failed for the test PostgreSQL in ${folder}${hint}:\n${output}`, { cause: error });
  }
}

async function waitUntilReady(child: ChildProcess, spawnError: () => Error | undefined, port: number, timeoutMs: number, tail: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (spawnError()) throw new Error(`could not start the test PostgreSQL (${child.spawnfile})`, { cause: spawnError() });
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`the test PostgreSQL exited during start-up (${child.exitCode ?? child.signalCode}); server log:\n${tail()}`);
    }
    const client = new pg.Client({ host: '127.0.0.1', port, user: SUPERUSER, database: 'postgres', connectionTimeoutMillis: 2_000 });
    try {
      await client.connect();
      await client.query('SELECT 1');
      return;
    } catch (error) {
      lastError = error; // Not listening yet, or "the database system is starting up".
    } finally {
      await client.end().catch(() => undefined);
    }
    await sleep(READY_POLL_MS);
  }
  throw new Error(`the test PostgreSQL did not accept connections on 127.0.0.1:${port} within ${timeoutMs} ms; server log:\n${tail()}`, { cause: lastError });
}

async function createDatabase(port: number, name: string): Promise<void> {
  const client = new pg.Client({ host: '127.0.0.1', port, user: SUPERUSER, database: 'postgres' });
  try {
    await client.connect();
    await client.query(`CREATE DATABASE "${name}"`);
  } catch (error) {
    throw new Error(`could not create database "${name}" on the test PostgreSQL at 127.0.0.1:${port}`, { cause: error });
  } finally {
    await client.end().catch(() => undefined);
  }
}

function checkDatabaseName(name: string): void {
  if (!DATABASE_NAME.test(name)) throw new Error(`database name "${name}": use lower-case letters, digits and _ (at most 63), starting with a letter or _`);
}

function urlOf(port: number, database: string): string {
  return `postgres://${SUPERUSER}@127.0.0.1:${port}/${database}`;
}

function readTail(file: string): string {
  try {
    return readFileSync(file, 'utf8').slice(-LOG_TAIL_BYTES);
  } catch {
    return '(no server log)';
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}
