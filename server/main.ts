#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { runVerify } from './cli/verify.ts';
import { DEFAULT_CONFIG_FILE, loadConfig } from './config/config.ts';
import { ConfigError, describeError } from './errors.ts';
import { createLogger } from './log.ts';
import { run } from './service.ts';

const USAGE = `usage: smoke [--config FILE]           serve the API and run verifications
       smoke verify --environment NAME --version VERSION [options]
                                       ask a running smoke to verify a deploy (smoke verify --help)

  --config FILE   the YAML config (default: $SMOKE_CONFIG or ${DEFAULT_CONFIG_FILE})
`;

/**
 * Exit codes: 0 stopped cleanly, 1 failed while running, 2 bad config or
 * arguments; `smoke verify` exits with the verdict (see server/cli/verify.ts).
 */
async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'verify') {
    return runVerify(argv.slice(1), {
      stdout: (text) => process.stdout.write(text),
      stderr: (text) => process.stderr.write(text),
      env: process.env,
    });
  }
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

main(process.argv.slice(2))
  .catch((err: unknown) => {
    process.stderr.write(`smoke: unexpected failure: ${describeError(err)}\n`);
    return 1;
  })
  .then((code) => process.exit(code));
