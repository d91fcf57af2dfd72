import type { FlowOutcome, VerdictKind } from '../server/verdict/types.ts';

/**
 * How the demo shows a deployment: the verdict in capitals, its reasons, a
 * table of flows per environment, and for failures the first error line and
 * the artifact links. Reads the API's JSON the way any client would.
 */

export interface FlowView {
  readonly flow: string;
  readonly outcome: FlowOutcome;
  readonly durationMs: number;
  readonly retries: number;
  readonly error: string | null;
  /** `viewer`, on traces: the trace opened in the trace viewer smoke serves. */
  readonly artifacts: readonly { readonly name: string; readonly url: string; readonly viewer?: string }[];
}

/** The fields of `GET /api/v1/deployments/:id` the demo prints. */
export interface DeploymentView {
  readonly id: string;
  readonly environment: string;
  readonly baseline: string | null;
  readonly version: string;
  readonly status: string;
  /** ISO times of the verification itself: reachability checks, the runner, judging. */
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
  readonly verdict: VerdictKind | null;
  readonly reasons: readonly string[];
  readonly flaky?: readonly string[];
  readonly failed?: readonly { readonly flow: string; readonly environment: string; readonly error?: string }[];
  readonly run: {
    readonly link: string;
    readonly environments: Readonly<Record<string, { readonly flows: readonly FlowView[] }>>;
  } | null;
  /** `page` is the deployment's page: what a person opens. */
  readonly links: { readonly self: string; readonly page: string };
}

/** Checks the few fields the demo relies on, so a changed API fails loudly here rather than printing `undefined`. */
export function readDeployment(json: unknown): DeploymentView {
  const d = json as Partial<DeploymentView> | undefined;
  if (!d || typeof d.id !== 'string' || typeof d.version !== 'string' || !Array.isArray(d.reasons) || d.run === undefined || typeof d.links?.page !== 'string') {
    throw new Error(`unexpected deployment answer from smoke: ${JSON.stringify(json)?.slice(0, 500)}`);
  }
  return d as DeploymentView;
}

export type Paint = (text: string) => string;
export interface Colours {
  readonly bold: Paint;
  readonly dim: Paint;
  readonly red: Paint;
  readonly green: Paint;
  readonly yellow: Paint;
  readonly cyan: Paint;
}

/** ANSI colours for a terminal; plain text for pipes, files and `NO_COLOR`. */
export function colours(enabled: boolean): Colours {
  const sgr = (open: number, close: number): Paint => (enabled ? (t) => `\x1b[${open}m${t}\x1b[${close}m` : (t) => t);
  return { bold: sgr(1, 22), dim: sgr(2, 22), red: sgr(31, 39), green: sgr(32, 39), yellow: sgr(33, 39), cyan: sgr(36, 39) };
}

export function verdictColour(c: Colours, verdict: VerdictKind | null): Paint {
  if (verdict === 'pass') return c.green;
  if (verdict === 'fail') return c.red;
  return c.yellow;
}

export function heading(c: Colours, text: string): string {
  return `\n${c.bold(c.cyan(`▶ ${text}`))}`;
}

/** Queue time below this is not worth a mention, ms. */
const QUEUED_MENTION_MS = 1_000;

/**
 * Everything a person wants to know about one deploy's verdict. `noticeAt`
 * (Unix ms the notice was sent) shows how long it queued for a run slot.
 */
export function formatDeployment(c: Colours, d: DeploymentView, elapsedMs: number, noticeAt?: number): string {
  const paint = verdictColour(c, d.verdict);
  const queuedMs = d.startedAt && noticeAt !== undefined ? Date.parse(d.startedAt) - noticeAt : 0;
  const queued = queuedMs >= QUEUED_MENTION_MS ? `, ${seconds(queuedMs)} of it queued for a run slot` : '';
  const lines = [
    `  ${d.environment} ${d.version}${d.baseline ? ` vs ${d.baseline}` : ''}: ${c.bold(paint((d.verdict ?? d.status).toUpperCase()))}  ${c.dim(`(${seconds(elapsedMs)} from notice to verdict${queued})`)}`,
    ...d.reasons.map((r) => `    - ${r}`),
  ];
  if (d.run) {
    for (const [environment, { flows }] of Object.entries(d.run.environments)) lines.push('', ...flowTable(c, environment, flows));
    lines.push(...failures(c, d));
    lines.push('', `  open in a browser: ${d.links.page}`);
  }
  return lines.join('\n');
}

const OUTCOME_COLOUR: Record<FlowOutcome, keyof Colours> = { passed: 'green', flaky: 'yellow', failed: 'red', error: 'red', skipped: 'dim' };

function flowTable(c: Colours, environment: string, flows: readonly FlowView[]): string[] {
  if (flows.length === 0) return [`  ${c.bold(environment)}  ${c.dim('no flow ran')}`];
  const rows = flows.map((f) => [f.flow, f.outcome, seconds(f.durationMs), String(f.retries)] as const);
  const header = ['flow', 'outcome', 'duration', 'retries'] as const;
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const cells = (r: readonly string[], paintOutcome: Paint = (t) => t) =>
    `    ${r[0]!.padEnd(widths[0]!)}  ${paintOutcome(r[1]!.padEnd(widths[1]!))}  ${r[2]!.padStart(widths[2]!)}  ${r[3]!.padStart(widths[3]!)}`;
  return [
    `  ${c.bold(environment)}`,
    c.dim(cells(header)),
    ...rows.map((r, i) => cells(r, c[OUTCOME_COLOUR[flows[i]!.outcome]])),
  ];
}

/** The flows that failed the deploy, each with its first error line and its screenshot and trace links. */
function failures(c: Colours, d: DeploymentView): string[] {
  if (!d.failed?.length || !d.run) return [];
  const lines = ['', `  ${c.bold(c.red('failed flows'))}`];
  for (const failed of d.failed) {
    const flow = d.run.environments[failed.environment]?.flows.find((f) => f.flow === failed.flow);
    lines.push(`    ✗ ${failed.flow} ${c.dim(`(${failed.environment})`)}`);
    lines.push(`      ${firstLine(failed.error ?? flow?.error ?? 'no error message')}`);
    for (const artifact of flow?.artifacts ?? []) lines.push(`      ${c.dim(`${artifact.name}:`)} ${artifact.viewer ?? artifact.url}`);
  }
  return lines;
}

/** The error's first meaningful line: Playwright's messages start with the assertion. */
export function firstLine(error: string): string {
  // Playwright colours its messages even in pipes; the demo prints its own.
  // eslint-disable-next-line no-control-regex
  const plain = error.replace(/\x1b\[[0-9;]*m/g, '');
  return plain.split('\n').find((line) => line.trim() !== '')?.trim() ?? plain;
}

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
