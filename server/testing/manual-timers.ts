import assert from 'node:assert/strict';
import type { Timers } from '../verification/settlement.ts';

/** Retry timers a test fires by hand, recording each delay asked for: no real clock in unit tests. */
export class ManualTimers implements Timers {
  readonly delays: number[] = [];
  private due: (() => void) | undefined;
  set(fn: () => void, ms: number): unknown {
    this.delays.push(ms);
    this.due = fn;
    return fn;
  }
  clear(): void {
    this.due = undefined;
  }
  fire(): void {
    const fn = this.due;
    this.due = undefined;
    assert.ok(fn, 'a retry is scheduled');
    fn();
  }
  get scheduled(): boolean {
    return this.due !== undefined;
  }
}
