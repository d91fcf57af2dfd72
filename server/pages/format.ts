import type { DeploymentRecord, RunRecord } from '../verification/records.ts';
import type { FlowOutcome, Verdict } from '../verdict/types.ts';
import { html, type SafeHtml } from './html.ts';

/** Milliseconds as a person reads them: "850 ms", "5.9 s", "1 min 12 s", "2 h 3 min". */
export function duration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(Math.floor(ms / 100) / 10).toFixed(1)} s`;
  const seconds = Math.floor(ms / 1000);
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
}

/** Milliseconds between two ISO times, or undefined when either is missing. */
export function between(from: string | undefined, to: string | undefined): number | undefined {
  if (!from || !to) return undefined;
  const ms = Date.parse(to) - Date.parse(from);
  return Number.isFinite(ms) ? ms : undefined;
}

/** An ISO time as UTC text in a `<time>` element; '—' when absent. */
export function time(iso: string | undefined): SafeHtml {
  if (!iso) return html`<span class="muted">—</span>`;
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return html`${iso}`;
  const text = `${date.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
  return html`<time datetime="${date.toISOString()}">${text}</time>`;
}

/** What a badge or banner says and how it is coloured; the word always carries the meaning, colour only repeats it. */
export interface Tone {
  readonly word: string;
  readonly tone: 'pass' | 'fail' | 'warn' | 'info' | 'muted';
  /** A shape beside the word, for a glance at a table. */
  readonly mark: string;
}

const VERDICTS: Record<Verdict['kind'], Tone> = {
  pass: { word: 'PASS', tone: 'pass', mark: '✓' },
  fail: { word: 'FAIL', tone: 'fail', mark: '✗' },
  inconclusive: { word: 'INCONCLUSIVE', tone: 'warn', mark: '?' },
};

function verdictTone(kind: Verdict['kind']): Tone {
  return VERDICTS[kind];
}

const OUTCOMES = {
  passed: { word: 'passed', tone: 'pass', mark: '✓' },
  failed: { word: 'failed', tone: 'fail', mark: '✗' },
  flaky: { word: 'flaky', tone: 'warn', mark: '~' },
  skipped: { word: 'skipped', tone: 'muted', mark: '–' },
  error: { word: 'error', tone: 'warn', mark: '!' },
} as const satisfies Record<FlowOutcome, Tone>;

export function outcomeTone(outcome: FlowOutcome): Tone {
  return OUTCOMES[outcome];
}

/** Where a deployment stands: its verdict once done, else how far it got. */
export function deploymentTone(deployment: DeploymentRecord): Tone {
  if (deployment.status === 'queued') return { word: 'QUEUED', tone: 'info', mark: '…' };
  if (deployment.status === 'running') return { word: 'RUNNING', tone: 'info', mark: '…' };
  if (deployment.verdict) return verdictTone(deployment.verdict.kind);
  if (deployment.supersededBy) return { word: 'SUPERSEDED', tone: 'muted', mark: '–' };
  return { word: 'NO VERDICT', tone: 'muted', mark: '–' };
}

/** Where a run stands: its verdict once judged, else its status. */
export function runTone(run: RunRecord): Tone {
  if (run.verdict) return verdictTone(run.verdict.kind);
  switch (run.status) {
    case 'queued':
      return { word: 'QUEUED', tone: 'info', mark: '…' };
    case 'running':
      return { word: 'RUNNING', tone: 'info', mark: '…' };
    case 'cancelled':
      return { word: 'CANCELLED', tone: 'muted', mark: '–' };
    case 'interrupted':
      return { word: 'INTERRUPTED', tone: 'muted', mark: '–' };
    case 'done':
      return { word: 'NO VERDICT', tone: 'muted', mark: '–' };
  }
}

export function isOpen(status: RunRecord['status'] | DeploymentRecord['status']): boolean {
  return status === 'queued' || status === 'running';
}

/** A small coloured label that says its meaning in words. */
export function badge(tone: Tone, label = tone.word): SafeHtml {
  return html`<span class="badge ${tone.tone}"><span aria-hidden="true">${tone.mark}</span> ${label}</span>`;
}
