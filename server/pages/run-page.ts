import type { RunWithResults } from '../verification/records.ts';
import { flowsSection } from './flows-table.ts';
import { between, duration, isOpen, runTone, time } from './format.ts';
import { html, type SafeHtml } from './html.ts';
import { page } from './layout.ts';
import type { PagePaths } from './paths.ts';
import { runNotices, verdictBanner } from './verdict-banner.ts';

const TRIGGERS = { deploy: 'a deploy', schedule: 'its schedule', manual: 'hand' } as const;

/** One run of any trigger: a deploy's, a schedule's tick, or one started by hand. */
export function runPage(run: RunWithResults, paths: PagePaths, signedIn = false): string {
  const body = html`<h1>Run ${run.id} <span class="to">on ${run.target}</span></h1>
<p class="subtitle">Started by ${TRIGGERS[run.trigger]}${run.schedule && html` · schedule <a href="${paths.schedules()}#schedule-${run.schedule}">${run.schedule}</a>`}${run.deploymentId && html` · deployment <a href="${paths.deployment(run.deploymentId)}">${run.deploymentId}</a>`}</p>
${runLive(run, paths)}`;
  return page({
    title: `${runTone(run).word} run ${run.id} on ${run.target}`,
    paths,
    body,
    signedIn,
    ...(isOpen(run.status) && { live: `${paths.run(run.id)}/live` }),
  });
}

/** The part of the run page that changes while it runs, polled by `live.js`. */
export function runLive(run: RunWithResults, paths: PagePaths): SafeHtml {
  const open = isOpen(run.status);
  const took = between(run.startedAt ?? run.createdAt, run.finishedAt);
  return html`<div id="live" aria-live="polite" data-status="${open ? 'running' : 'done'}">
${verdictBanner(runTone(run), run.verdict, open && html`<p>Flows appear below as they finish; this page follows them.</p>`)}
<dl class="facts-list">
<div><dt>Trigger</dt><dd>${run.trigger}</dd></div>
<div><dt>Environments</dt><dd>${run.environments.join(', ')}</dd></div>
${run.schedule && html`<div><dt>Schedule</dt><dd>${run.schedule}</dd></div>`}
${run.grep && html`<div><dt>Grep</dt><dd><code>${run.grep}</code></dd></div>`}
<div><dt>Status</dt><dd>${run.status}</dd></div>
${run.replica && html`<div><dt>Ran on</dt><dd><code>${run.replica}</code></dd></div>`}
<div><dt>Created</dt><dd>${time(run.createdAt)}</dd></div>
<div><dt>Started</dt><dd>${time(run.startedAt)}</dd></div>
<div><dt>Finished</dt><dd>${time(run.finishedAt)}</dd></div>
<div><dt>Took</dt><dd>${took === undefined ? html`<span class="muted">—</span>` : duration(took)}</dd></div>
</dl>
${runNotices(run)}
${flowsSection(run, paths)}
</div>`;
}
