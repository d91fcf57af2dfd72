import { parseArgs } from 'node:util';
import { isHttpUrl } from '../values/primitives.ts';

/** Where the CLI finds smoke when neither `--url` nor `$SMOKE_URL` says. */
export const DEFAULT_URL = 'http://127.0.0.1:8080';
/** Seconds `smoke verify` waits for the verdict by default. */
export const DEFAULT_TIMEOUT_SECONDS = 300;
const MAX_TIMEOUT_SECONDS = 86_400;

interface OptionSpec {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  readonly value?: string;
  readonly help: string;
}

/** Every flag of `smoke verify`: the parser, the usage text and the deploy examples' test read this table. */
export const VERIFY_OPTIONS = {
  environment: { type: 'string', short: 'e', value: 'NAME', help: 'the environment that was deployed, as named in smoke.config.yaml (required)' },
  version: { type: 'string', value: 'VERSION', help: 'the version now running there (required)' },
  url: { type: 'string', value: 'URL', help: `where smoke answers (default: $SMOKE_URL or ${DEFAULT_URL})` },
  timeout: { type: 'string', value: 'SECONDS', help: `how long to wait for the verdict (default: ${DEFAULT_TIMEOUT_SECONDS})` },
  service: { type: 'string', value: 'NAME', help: 'the service deployed (default: the service set in smoke.config.yaml)' },
  'deployment-id': { type: 'string', value: 'KEY', help: 'idempotency key: the same key never starts a second verification (e.g. the pipeline run id)' },
  token: { type: 'string', value: 'TOKEN', help: 'the API token (default: $SMOKE_API_TOKEN; prefer the variable: arguments show in ps)' },
  json: { type: 'boolean', help: 'print the deployment as JSON instead of a summary' },
  help: { type: 'boolean', short: 'h', help: 'show this help' },
} as const satisfies Record<string, OptionSpec>;

export const VERIFY_USAGE = `usage: smoke verify --environment NAME --version VERSION [options]

Asks smoke to verify a deploy, waits for the verdict and exits with it:
0 pass, 1 fail (roll back), 2 inconclusive, timed out, or smoke could not be asked.

${Object.entries(VERIFY_OPTIONS as Record<string, OptionSpec>)
  .map(([name, spec]) => {
    const flag = `${spec.short ? `-${spec.short}, ` : '    '}--${name}${spec.value ? ` ${spec.value}` : ''}`;
    return `  ${flag.padEnd(28)} ${spec.help}`;
  })
  .join('\n')}
`;

export interface VerifyOptions {
  readonly environment: string;
  readonly version: string;
  /** Without a trailing slash. */
  readonly url: string;
  readonly timeoutSeconds: number;
  readonly service?: string;
  readonly deploymentId?: string;
  readonly token?: string;
  readonly json: boolean;
}

export type ParsedVerify = { readonly kind: 'options'; readonly options: VerifyOptions } | { readonly kind: 'help' } | { readonly kind: 'usage'; readonly error: string };

/** Arguments after `verify`, with `$SMOKE_URL` and `$SMOKE_API_TOKEN` as defaults. */
export function parseVerifyArgs(argv: readonly string[], env: NodeJS.ProcessEnv): ParsedVerify {
  let values;
  try {
    values = parseArgs({ args: [...argv], options: VERIFY_OPTIONS, allowPositionals: false, strict: true }).values;
  } catch (err) {
    return { kind: 'usage', error: (err as Error).message };
  }
  if (values.help) return { kind: 'help' };
  if (!values.environment) return { kind: 'usage', error: '--environment is required' };
  if (!values.version) return { kind: 'usage', error: '--version is required' };

  const url = (values.url ?? env.SMOKE_URL ?? DEFAULT_URL).replace(/\/+$/, '');
  if (!isHttpUrl(url)) return { kind: 'usage', error: `--url must be an http(s) URL, got '${url}'` };

  const timeout = values.timeout ?? String(DEFAULT_TIMEOUT_SECONDS);
  if (!/^\d+$/.test(timeout) || Number(timeout) < 1 || Number(timeout) > MAX_TIMEOUT_SECONDS) {
    return { kind: 'usage', error: `--timeout must be a whole number of seconds from 1 to ${MAX_TIMEOUT_SECONDS}, got '${timeout}'` };
  }
  const token = values.token ?? (env.SMOKE_API_TOKEN || undefined);
  return {
    kind: 'options',
    options: {
      environment: values.environment,
      version: values.version,
      url,
      timeoutSeconds: Number(timeout),
      ...(values.service !== undefined && { service: values.service }),
      ...(values['deployment-id'] !== undefined && { deploymentId: values['deployment-id'] }),
      ...(token !== undefined && { token }),
      json: values.json ?? false,
    },
  };
}
