import type { ScheduleStatus } from '../scheduler/scheduler.ts';
import type { RunRecord } from '../verification/records.ts';
import { runTone, time } from './format.ts';
import { html, type SafeHtml } from './html.ts';
import { page } from './layout.ts';
import type { PagePaths } from './paths.ts';

/** Runs shown in each schedule's strip. */
export const STRIP_RUNS = 20;

export interface ScheduleRow {
  readonly status: ScheduleStatus;
  /** Its newest runs (up to `STRIP_RUNS` per environment), newest first as the store lists them. */
  readonly runs: readonly RunRecord[];
}

export function schedulesPage(rows: readonly ScheduleRow[], paths: PagePaths, signedIn = false): string {
  const body = html`<h1>Schedules</h1>
${
  rows.length === 0
    ? html`<p class="empty">No schedule is configured. Add <code>schedules</code> to the config to run the flows on a cron cadence.</p>`
    : rows.map((row) => scheduleSection(row, paths))
}`;
  return page({ title: 'Schedules', paths, body, signedIn });
}

function scheduleSection({ status, runs }: ScheduleRow, paths: PagePaths): SafeHtml {
  const { schedule } = status;
  const id = `schedule-${schedule.name}`;
  return html`<section class="schedule" id="${id}" aria-labelledby="${id}-name">
<h2 id="${id}-name">${schedule.name} ${status.failing && html`<span class="badge fail"><span aria-hidden="true">✗</span> failing</span>`}${status.running && html` <span class="badge info"><span aria-hidden="true">…</span> running</span>`}</h2>
<dl class="facts-list">
<div><dt>Cron</dt><dd><code>${schedule.cron}</code> (${schedule.timezone})</dd></div>
<div><dt>Environments</dt><dd>${schedule.environments.join(', ')}</dd></div>
<div><dt>Next run</dt><dd>${status.nextRunAt ? time(status.nextRunAt.toISOString()) : html`<span class="muted">not scheduled (stopped)</span>`}</dd></div>
${status.recheckAt && html`<div><dt>Re-check</dt><dd>${time(status.recheckAt.toISOString())}</dd></div>`}
</dl>
${strips(schedule.name, schedule.environments, runs, paths)}
</section>`;
}

/**
 * One strip per environment the schedule checks: production failing while
 * staging passes must not read as a flapping schedule.
 */
function strips(name: string, environments: readonly string[], runs: readonly RunRecord[], paths: PagePaths): SafeHtml[] | SafeHtml {
  if (runs.length === 0) return html`<p class="empty">No run yet.</p>`;
  if (environments.length === 1) return strip(name, undefined, runs.slice(0, STRIP_RUNS), paths);
  return environments.map((environment) =>
    strip(name, environment, runs.filter((run) => run.target === environment).slice(0, STRIP_RUNS), paths),
  );
}

/** The last runs as marks, oldest left and newest right; each says its result in words to assistive tech and on hover. */
function strip(name: string, environment: string | undefined, runs: readonly RunRecord[], paths: PagePaths): SafeHtml {
  const id = `strip-${name}${environment ? `-${environment}` : ''}`;
  const on = environment ? html`<strong>${environment}</strong>: ` : '';
  if (runs.length === 0) return html`<p class="strip-label">${on}${environment ? 'no run yet' : 'No run yet'}.</p>`;
  const ordered = [...runs].reverse();
  return html`<p class="strip-label" id="${id}">${on}${environment ? 'last' : 'Last'} ${runs.length} run${runs.length === 1 ? '' : 's'}, oldest first:</p>
<ol class="strip" aria-labelledby="${id}">
${ordered.map((run) => {
  const tone = runTone(run);
  const label = `${tone.word} on ${run.target}, ${run.createdAt.slice(0, 19).replace('T', ' ')} UTC (${run.id})`;
  return html`<li><a class="mark ${tone.tone}" href="${paths.run(run.id)}" title="${label}"><span aria-hidden="true">${tone.mark}</span><span class="visually-hidden">${label}</span></a></li>`;
})}
</ol>`;
}
