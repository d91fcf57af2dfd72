import type { SignalView } from '../signals/signals.ts';
import type { DeploymentRecord, RunRecord, RunWithResults } from '../verification/records.ts';
import { flowsSection } from './flows-table.ts';
import { between, deploymentTone, duration, isOpen, runTone, badge, time } from './format.ts';
import { html, type SafeHtml } from './html.ts';
import { page } from './layout.ts';
import type { PagePaths } from './paths.ts';
import { runNotices, verdictBanner } from './verdict-banner.ts';

export interface DeploymentData {
  readonly deployment: DeploymentRecord;
  /** Every run of it, oldest first. */
  readonly runs: readonly RunRecord[];
  /** The newest run, with its flow results. */
  readonly latest: RunWithResults | undefined;
  readonly signals: readonly SignalView[];
}

export function deploymentPage(data: DeploymentData, paths: PagePaths, signedIn = false): string {
  const { deployment } = data;
  const body = html`<h1>${deployment.service} ${deployment.version} <span class="to">to ${deployment.environment}</span></h1>
<p class="subtitle">Deployment <code>${deployment.id}</code>${deployment.idempotencyKey && html` · key <code>${deployment.idempotencyKey}</code>`}</p>
${deploymentLive(data, paths)}`;
  return page({
    title: `${deploymentTone(deployment).word} ${deployment.service} ${deployment.version} to ${deployment.environment}`,
    paths,
    body,
    signedIn,
    ...(following(data) && { live: `${paths.deployment(deployment.id)}/live` }),
  });
}

/**
 * A fail can be given at the first confirmed regression while its run goes
 * on (`runs.failFast: false`) or stops: the page follows the run to its end,
 * so the screenshots, the other flows and the report link arrive without a reload.
 */
function following({ deployment, latest }: DeploymentData): boolean {
  return isOpen(deployment.status) || (latest !== undefined && isOpen(latest.status));
}

/**
 * The part of the page that changes while the verification runs; `live.js`
 * polls it and swaps it in until `data-status` says done.
 */
export function deploymentLive(data: DeploymentData, paths: PagePaths): SafeHtml {
  const { deployment, runs, latest, signals } = data;
  const open = isOpen(deployment.status);
  const superseded =
    deployment.supersededBy &&
    html`<p>A newer deploy to ${deployment.environment} replaced this one before it was judged: <a href="${paths.deployment(deployment.supersededBy)}">${deployment.supersededBy}</a>.</p>`;
  const running = open && html`<p>Flows appear below as they finish; this page follows them.</p>`;
  return html`<div id="live" aria-live="polite" data-status="${following(data) ? 'running' : 'done'}">
${verdictBanner(deploymentTone(deployment), deployment.verdict, superseded || running)}
${facts(deployment, latest)}
${latest && runNotices(latest)}
${latest ? flowsSection(latest, paths) : html`<p class="empty">No run has started yet.</p>`}
${runsTable(runs, paths)}
${signalsTable(signals)}
</div>`;
}

function facts(deployment: DeploymentRecord, latest: RunRecord | undefined): SafeHtml {
  const baseline = deployment.baseline ?? latest?.environments[1];
  const took = between(deployment.startedAt ?? deployment.createdAt, deployment.finishedAt);
  return html`<dl class="facts-list">
<div><dt>Service</dt><dd>${deployment.service}</dd></div>
<div><dt>Environment</dt><dd>${deployment.environment}</dd></div>
<div><dt>Version</dt><dd>${deployment.version}</dd></div>
<div><dt>Baseline</dt><dd>${baseline ?? html`<span class="muted">none</span>`}</dd></div>
${latest?.replica && html`<div><dt>Ran on</dt><dd><code>${latest.replica}</code></dd></div>`}
<div><dt>Created</dt><dd>${time(deployment.createdAt)}</dd></div>
<div><dt>Started</dt><dd>${time(deployment.startedAt)}</dd></div>
<div><dt>Finished</dt><dd>${time(deployment.finishedAt)}</dd></div>
<div><dt>Took</dt><dd>${took === undefined ? html`<span class="muted">—</span>` : duration(took)}</dd></div>
</dl>`;
}

/** Every run of the deployment: a superseded, interrupted or resumed one says so in its note. */
function runsTable(runs: readonly RunRecord[], paths: PagePaths): SafeHtml {
  if (runs.length === 0) return html``;
  return html`<section aria-labelledby="runs-heading">
<h2 id="runs-heading">Runs</h2>
<div class="scroll"><table>
<thead><tr><th scope="col">Run</th><th scope="col">Result</th><th scope="col">Note</th><th scope="col">Ran on</th><th scope="col">Created</th><th scope="col">Finished</th><th scope="col">Took</th></tr></thead>
<tbody>
${runs.map((run) => {
  const took = between(run.startedAt ?? run.createdAt, run.finishedAt);
  return html`<tr><th scope="row"><a href="${paths.run(run.id)}">${run.id}</a></th><td>${badge(runTone(run))} <span class="muted">${run.status}</span></td><td>${run.note ?? ''}</td><td>${run.replica ? html`<code>${run.replica}</code>` : html`<span class="muted">—</span>`}</td><td>${time(run.createdAt)}</td><td>${time(run.finishedAt)}</td><td>${took === undefined ? '—' : duration(took)}</td></tr>
`;
})}</tbody>
</table></div>
</section>`;
}

const SIGNAL_TONES = {
  pending: 'info',
  delivered: 'pass',
  rejected: 'fail',
  dead: 'fail',
} as const satisfies Record<SignalView['status'], string>;

/** Rollback webhooks sent for this deployment and how their delivery went. */
function signalsTable(signals: readonly SignalView[]): SafeHtml {
  if (signals.length === 0) return html``;
  return html`<section aria-labelledby="signals-heading">
<h2 id="signals-heading">Webhooks</h2>
<div class="scroll"><table>
<thead><tr><th scope="col">Webhook</th><th scope="col">Event</th><th scope="col">Delivery</th><th scope="col">Attempts</th><th scope="col">Created</th><th scope="col">Delivered</th><th scope="col">Last error</th></tr></thead>
<tbody>
${signals.map(
  (s) =>
    html`<tr><th scope="row">${s.webhook}</th><td>${s.event}</td><td><span class="badge ${SIGNAL_TONES[s.status]}">${s.status}</span></td><td>${s.attempts}</td><td>${time(s.createdAt)}</td><td>${time(s.deliveredAt)}</td><td>${s.lastError ?? ''}</td></tr>
`,
)}</tbody>
</table></div>
</section>`;
}
