import { z } from 'zod';
import type { DeploymentRecord } from '../verification/records.ts';
import { badge, between, deploymentTone, duration, time } from './format.ts';
import { html } from './html.ts';
import { page } from './layout.ts';
import type { PagePaths } from './paths.ts';

/** The overview's filters, as its GET form sends them; '' is the form's "any". */
export const overviewQuery = z.strictObject({
  environment: z.string().max(64, { error: 'must be at most 64 characters' }).optional(),
  verdict: z.enum(['', 'pass', 'fail', 'inconclusive', 'pending'], { error: "must be one of pass, fail, inconclusive or pending" }).optional(),
});

export type OverviewFilter = { readonly environment?: string; readonly verdict?: 'pass' | 'fail' | 'inconclusive' | 'pending' };

/** Deployments the overview lists at most, newest first. */
export const OVERVIEW_LIMIT = 50;

const VERDICT_OPTIONS = [
  ['', 'Any verdict'],
  ['pass', 'Pass'],
  ['fail', 'Fail'],
  ['inconclusive', 'Inconclusive'],
  ['pending', 'Not judged yet'],
] as const;

export function overviewPage(
  deployments: readonly DeploymentRecord[],
  filter: OverviewFilter,
  environments: readonly string[],
  paths: PagePaths,
  signedIn = false,
): string {
  const filtered = filter.environment !== undefined || filter.verdict !== undefined;
  const body = html`<h1>Deployments</h1>
<form class="filters" method="get" action="${paths.home()}">
<label for="f-environment">Environment</label>
<select id="f-environment" name="environment">
<option value="">Any environment</option>
${environments.map((e) => html`<option value="${e}"${filter.environment === e && ' selected'}>${e}</option>`)}
</select>
<label for="f-verdict">Verdict</label>
<select id="f-verdict" name="verdict">
${VERDICT_OPTIONS.map(([value, text]) => html`<option value="${value}"${(filter.verdict ?? '') === value && ' selected'}>${text}</option>`)}
</select>
<button type="submit">Filter</button>
${filtered && html`<a href="${paths.home()}">Clear</a>`}
</form>
${
  deployments.length === 0
    ? html`<p class="empty">${filtered ? 'No deployment matches these filters.' : 'No deployment yet: smoke lists each deploy it verifies here.'}</p>`
    : html`<div class="scroll"><table class="deployments">
<caption>The ${deployments.length === OVERVIEW_LIMIT ? `${OVERVIEW_LIMIT} most recent` : deployments.length} deployment${deployments.length === 1 ? '' : 's'}${filtered && ' matching the filters'}, newest first</caption>
<thead><tr><th scope="col">Service</th><th scope="col">Environment</th><th scope="col">Version</th><th scope="col">Verdict</th><th scope="col">Created</th><th scope="col">Took</th></tr></thead>
<tbody>
${deployments.map((d) => {
  const took = between(d.startedAt ?? d.createdAt, d.finishedAt);
  return html`<tr><th scope="row"><a href="${paths.deployment(d.id)}">${d.service}</a></th><td>${d.environment}</td><td>${d.version}</td><td>${badge(deploymentTone(d))}</td><td>${time(d.createdAt)}</td><td>${took === undefined ? '—' : duration(took)}</td></tr>
`;
})}</tbody>
</table></div>`
}`;
  return page({ title: 'Deployments', paths, body, signedIn });
}
