import type { RunRecord } from '../verification/records.ts';
import type { Verdict } from '../verdict/types.ts';
import type { Tone } from './format.ts';
import { html, type SafeHtml } from './html.ts';

/** The verdict in large type, in words (colour only repeats them), with its reasons. */
export function verdictBanner(tone: Tone, verdict: Verdict | undefined, extra?: SafeHtml | false): SafeHtml {
  const reasons = verdict?.reasons ?? [];
  return html`<div class="banner ${tone.tone}">
<p class="verdict"><span aria-hidden="true">${tone.mark}</span> ${tone.word}</p>
${verdict?.kind === 'inconclusive' && html`<p class="cause">${CAUSES[verdict.cause]}</p>`}
${reasons.length > 0 && html`<ul class="reasons">${reasons.map((r) => html`<li>${r}</li>`)}</ul>`}
${verdict?.kind === 'pass' && verdict.flaky.length > 0 && html`<p>Flaky (passed on a retry): ${verdict.flaky.join(', ')}</p>`}
${extra}
</div>`;
}

const CAUSES: Record<Extract<Verdict, { kind: 'inconclusive' }>['cause'], string> = {
  baseline: 'The baseline failed too, so the flows cannot tell whether this deploy broke anything.',
  service: "smoke's own problem (its browser or runner broke), not the deploy's.",
  unreachable: 'An environment could not be reached, so its flows could not say anything.',
  'no-flows': 'No flow ran, so there is nothing to judge.',
};

/** Why a run ended as it did when that is not in its flows: the runner's own fault, a deadline, a stop. */
export function runNotices(run: RunRecord): SafeHtml {
  const outcome = run.outcome;
  const unreachable = Object.entries(run.reachability ?? {}).filter(([, r]) => !r.reachable);
  return html`${outcome?.kind === 'fault' && html`<p class="notice fault"><strong>smoke's own problem, not the deploy's:</strong> the runner broke: ${outcome.reason}</p>`}
${outcome?.kind === 'deadline' && html`<p class="notice">The run hit its deadline of ${outcome.seconds} s and was stopped.</p>`}
${outcome?.kind === 'cancelled' && html`<p class="notice">The run was cancelled: ${outcome.reason}</p>`}
${run.note && html`<p class="notice">${run.note}</p>`}
${unreachable.map(([env, r]) => html`<p class="notice">${env} could not be reached: ${r.reachable ? '' : r.error}</p>`)}
${run.diagnostics.length > 0 && html`<details class="diagnostics"><summary>Diagnostics (${run.diagnostics.length})</summary><pre>${run.diagnostics.join('\n')}</pre></details>`}`;
}
