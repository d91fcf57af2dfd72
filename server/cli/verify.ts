import { verifyDeploy } from './client.ts';
import { parseVerifyArgs, VERIFY_USAGE } from './options.ts';
import { describeOutcome, EXIT, exitCodeOf } from './report.ts';

export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly env: NodeJS.ProcessEnv;
  readonly fetch?: typeof fetch;
}

/**
 * `smoke verify …`: for pipelines and Argo CD PostSync jobs. Resolves with the
 * exit code: 0 pass, 1 fail, 2 anything else (inconclusive, superseded,
 * timed out, refused, unreachable, bad usage).
 */
export async function runVerify(argv: readonly string[], io: CliIo): Promise<number> {
  const parsed = parseVerifyArgs(argv, io.env);
  if (parsed.kind === 'help') {
    io.stdout(VERIFY_USAGE);
    return 0;
  }
  if (parsed.kind === 'usage') {
    io.stderr(`smoke verify: ${parsed.error}\n\n${VERIFY_USAGE}`);
    return EXIT.other;
  }
  const { options } = parsed;
  const outcome = await verifyDeploy(options, io.fetch);
  const hasDeployment = outcome.kind === 'done' || outcome.kind === 'timeout';
  if (options.json && hasDeployment) io.stdout(`${JSON.stringify(outcome.deployment, null, 2)}\n`);
  const summary = describeOutcome(outcome, options.timeoutSeconds);
  // With --json, stdout stays parseable: the summary goes to stderr.
  if (!hasDeployment || options.json) io.stderr(summary);
  else io.stdout(summary);
  return exitCodeOf(outcome);
}
