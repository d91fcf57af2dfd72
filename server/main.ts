import { parseArgs } from 'node:util';
import { DEFAULT_CONFIG_FILE, loadConfig } from './config/config.ts';
import { ConfigError, describeError } from './errors.ts';
import { createLogger } from './log.ts';
import { run } from './service.ts';

const USAGE = `usage: smoke [--config FILE]

  --config FILE   the YAML config (default: $SMOKE_CONFIG or ${DEFAULT_CONFIG_FILE})
`;

/** Exit codes: 0 stopped cleanly, 1 failed while running, 2 bad config or arguments. */
async function main(argv: string[]): Promise<number> {
  let args;
  try {
    args = parseArgs({ args: argv, options: { config: { type: 'string' }, help: { type: 'boolean', short: 'h' } } }).values;
  } catch (err) {
    process.stderr.write(`smoke: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  let config;
  try {
    config = loadConfig(args.config ?? process.env.SMOKE_CONFIG ?? DEFAULT_CONFIG_FILE);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`smoke: ${err.message}\n`);
    return 2;
  }

  const logger = createLogger();
  const service = await run(config, { logger }).catch((err: unknown) => {
    logger.fatal({ err: describeError(err) }, 'smoke could not start');
    return undefined;
  });
  if (!service) return 1;

  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  logger.info({ signal }, 'shutting down');
  await service.close();
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`smoke: unexpected failure: ${describeError(err)}\n`);
    process.exit(1);
  },
);
