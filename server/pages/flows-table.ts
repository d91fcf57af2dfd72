import type { RunWithResults } from '../verification/records.ts';
import type { Artifact, FlowResult } from '../verdict/types.ts';
import { badge, duration, isOpen, outcomeTone } from './format.ts';
import { html, type SafeHtml } from './html.ts';
import type { PagePaths } from './paths.ts';

/**
 * A run's flows side by side: one row per flow, a column for the target and
 * one for its baseline, then what each failure left behind (screenshot,
 * trace, other attachments) and the link to the run's Playwright report.
 */
export function flowsSection(run: RunWithResults, paths: PagePaths): SafeHtml {
  const [target, baseline] = run.environments;
  const byFlow = new Map<string, { target?: FlowResult; baseline?: FlowResult }>();
  for (const result of run.results) {
    const row = byFlow.get(result.flow) ?? {};
    if (result.environment === target) row.target = result;
    else if (result.environment === baseline) row.baseline = result;
    byFlow.set(result.flow, row);
  }
  // What broke first: a person opens this page to see that, not the flows that passed.
  const rank = (row: { target?: FlowResult; baseline?: FlowResult }) => Math.min(RANK[row.target?.outcome ?? 'skipped'], RANK[row.baseline?.outcome ?? 'skipped']);
  const rows = [...byFlow].sort(([, a], [, b]) => rank(a) - rank(b));
  const open = isOpen(run.status);
  const ended = !open;

  const table =
    byFlow.size === 0
      ? html`<p class="empty">${open ? 'No flow has finished yet; they appear here as they do.' : 'No flow results were recorded for this run.'}</p>`
      : html`<div class="scroll"><table class="flows">
<caption>Flows of run ${run.id}${baseline ? html`: ${target} (target) beside ${baseline} (baseline)` : html` on ${target}`}</caption>
<thead><tr><th scope="col">Flow</th><th scope="col">${target} <span class="role">target</span></th>${baseline && html`<th scope="col">${baseline} <span class="role">baseline</span></th>`}</tr></thead>
<tbody>
${rows.map(
  ([flow, row]) => html`<tr>
<th scope="row"><span class="flow-name">${flow}</span>${flowPlace(row.target ?? row.baseline)}</th>
<td>${row.target ? cell(row.target) : missing(open, 'target', undefined)}</td>
${baseline && html`<td>${row.baseline ? cell(row.baseline) : missing(open, 'baseline', row.target)}</td>`}
</tr>
`,
)}</tbody>
</table></div>`;

  const failures = run.results.filter((r) => r.outcome === 'failed' || r.outcome === 'error' || (r.outcome === 'flaky' && r.artifacts.length > 0));
  const hasReport = ended && run.results.length > 0;
  return html`<section class="flows-section" aria-labelledby="flows-${run.id}">
<h2 id="flows-${run.id}">Flows</h2>
${hasReport && html`<p class="report-link"><a href="${paths.report(run.id)}">Open the Playwright HTML report</a> <span class="muted">(every flow of this run, with traces)</span></p>`}
${table}
${failures.length > 0 && html`<h2>What failed</h2>${failures.map((r) => failureDetails(run.id, r, paths))}`}
</section>`;
}

const RANK = { failed: 0, error: 1, flaky: 2, passed: 3, skipped: 4 } as const satisfies Record<FlowResult['outcome'], number>;

function flowPlace(result: FlowResult | undefined): SafeHtml | false {
  if (!result) return false;
  return html`<span class="flow-file">${result.file}${result.line !== undefined && `:${result.line}`}</span>`;
}

function cell(result: FlowResult): SafeHtml {
  const retries = result.retries === 1 ? '1 retry' : `${result.retries} retries`;
  return html`${badge(outcomeTone(result.outcome))}
<span class="facts">${duration(result.durationMs)} · ${retries}</span>
${result.fault && html`<p class="fault"><strong>smoke's own problem, not the deploy's:</strong> ${result.fault}</p>`}
${result.error && html`<pre class="error" tabindex="0">${result.error}</pre>`}`;
}

/** Honest words for a flow the column has no result for. */
function missing(open: boolean, column: 'target' | 'baseline', onTarget: FlowResult | undefined): SafeHtml {
  if (open) return html`<span class="muted">not run yet</span>`;
  if (column === 'target') return html`<span class="muted">not run on the target</span>`;
  // With runs.baseline: on-failure the baseline only runs what failed on the target.
  if (onTarget?.outcome === 'passed' || onTarget?.outcome === 'flaky') return html`<span class="muted">not run: passed on the target</span>`;
  if (onTarget?.outcome === 'skipped') return html`<span class="muted">not run: skipped on the target</span>`;
  return html`<span class="muted">not run: the run ended before the baseline ran it</span>`;
}

function failureDetails(runId: string, result: FlowResult, paths: PagePaths): SafeHtml {
  const screenshots = result.artifacts.filter((a) => a.contentType === 'image/png');
  const traces = result.artifacts.filter((a) => a.contentType === 'application/zip');
  const others = result.artifacts.filter((a) => !screenshots.includes(a) && !traces.includes(a));
  const url = (a: Artifact) => paths.artifact(runId, a.path);
  return html`<article class="failure">
<h3><span class="flow-name">${result.flow}</span> <span class="on">on ${result.environment}</span> ${badge(outcomeTone(result.outcome))}</h3>
${result.fault && html`<p class="fault"><strong>smoke's own problem, not the deploy's:</strong> ${result.fault}</p>`}
${result.error && html`<pre class="error" tabindex="0">${result.error}</pre>`}
${traces.length > 0 && html`<p class="links">${traces.map((t, i) => html`<a class="button" href="${paths.trace(url(t))}">Open trace${traces.length > 1 && ` ${i + 1}`}</a> `)}</p>`}
${screenshots.map(
  (s) => html`<figure>
<a href="${url(s)}"><img src="${url(s)}" alt="Screenshot of ${result.flow} on ${result.environment} when it ${result.outcome === 'flaky' ? 'failed an attempt' : 'failed'}"></a>
<figcaption>${s.name} · ${s.path}</figcaption>
</figure>`,
)}
${others.length > 0 && html`<ul class="attachments">${others.map((a) => html`<li><a href="${url(a)}">${a.name}</a> <span class="muted">${a.contentType}</span></li>`)}</ul>`}
</article>`;
}
