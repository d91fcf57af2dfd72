/**
 * Serves one demo shop:
 *   tsx demo/shop-server.ts --name production --port 3001 [--host 127.0.0.1] [--fault none] [--version 1.0.0]
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { FAULTS, createShopApp, isFault } from './shop.ts';
import type { Fault } from './shop.ts';

/** How long in-flight requests (up to the `slow` fault's delay) may finish after a signal. */
const SHUTDOWN_GRACE_MS = 5_000;

type ServerOptions = { name: string; port: number; host: string; fault: Fault; version: string };

class UsageError extends Error {
  override name = 'UsageError';
}

function parseOptions(argv: string[]): ServerOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      name: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string', default: '127.0.0.1' },
      fault: { type: 'string', default: 'none' },
      version: { type: 'string', default: '1.0.0' },
    },
    strict: true,
  });
  if (!values.name) throw new UsageError('--name is required, e.g. --name production');
  const port = Number(values.port);
  if (values.port === undefined || !Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new UsageError('--port must be a port number from 0 to 65535, e.g. --port 3001');
  }
  if (!isFault(values.fault)) throw new UsageError(`--fault must be one of ${FAULTS.join(', ')}`);
  return { name: values.name, port, host: values.host, fault: values.fault, version: values.version };
}

/** Listens until SIGTERM or SIGINT, then closes; resolves with the exit code. */
async function run(argv: string[]): Promise<number> {
  const options = parseOptions(argv);
  const { app } = createShopApp(options);
  const server = createServer(app);
  server.listen(options.port, options.host);
  await once(server, 'listening');

  const { port } = server.address() as AddressInfo;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  console.log(`shop "${options.name}" ${options.version} (fault: ${options.fault}) listening on http://${host}:${port}`);

  // npm and npx can forward the same Ctrl-C twice; the first signal starts the shutdown, the rest are ignored.
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.on('SIGTERM', resolve).on('SIGINT', resolve);
  });
  const closed = new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
  server.closeIdleConnections();
  setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS).unref();
  await closed;
  console.log(`shop "${options.name}" stopped on ${signal}`);
  return 0;
}

async function main(): Promise<void> {
  try {
    process.exitCode = await run(process.argv.slice(2));
  } catch (err) {
    const usage = err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    console.error(usage ? `shop-server: ${(err as Error).message}` : err);
    process.exit(usage ? 2 : 1);
  }
}

await main();
