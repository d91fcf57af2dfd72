/**
 * Flagger's canary scheduler, reduced to what decides which webhooks it calls
 * and what their answers do, for replaying a Canary's hook sequence against a
 * real smoke. Modelled on fluxcd/flagger v1.44.0 (commit 15bd6ad5):
 * `advanceCanary`, `checkCanaryStatus` and `runCanary` in
 * pkg/controller/scheduler.go, the `run*Hooks` functions in
 * pkg/controller/scheduler_hooks.go, and `callWebhook` in
 * pkg/controller/webhook.go. Left out: the Kubernetes work between the
 * hooks (scaling, routing, readiness — taken as succeeding), blue/green and
 * A/B strategies, mirroring, and promotion with stepWeightPromotion.
 */

export type Phase = 'Initialized' | 'Waiting' | 'Progressing' | 'WaitingPromotion' | 'Promoting' | 'Finalising' | 'Succeeded' | 'Failed';

export type HookType = 'pre-rollout' | 'rollout' | 'confirm-rollout' | 'confirm-traffic-increase' | 'confirm-promotion' | 'rollback' | 'post-rollout' | 'event';

export interface Webhook {
  readonly name: string;
  readonly type: HookType;
  readonly url: string;
  /** Flagger's default is 10s (CallWebhook). */
  readonly timeoutMs?: number;
  readonly metadata?: Readonly<Record<string, string>>;
}

export interface CanarySpec {
  readonly name: string;
  readonly namespace: string;
  /** Flagger's hash of the revision (canaryChecksum): the same for every call about it. */
  readonly checksum: string;
  readonly threshold: number;
  readonly maxWeight: number;
  readonly stepWeight: number;
  readonly webhooks: readonly Webhook[];
}

export interface CanaryStatus {
  phase: Phase;
  canaryWeight: number;
  failedChecks: number;
  iterations: number;
}

export interface HookCall {
  readonly tick: number;
  readonly hook: string;
  readonly type: HookType;
  readonly phase: Phase;
  /** The HTTP status, or 0 when no answer came (connection refused, timeout). */
  readonly status: number;
  readonly ok: boolean;
}

export interface FlaggerModel {
  readonly status: Readonly<CanaryStatus>;
  readonly calls: readonly HookCall[];
  /** One analysis interval: one call of advanceCanary. */
  tick(): Promise<void>;
}

/**
 * A canary whose new revision Flagger has just detected (phase Initialized,
 * target changed). `metricsPass` stands for the Canary's own metric checks
 * (runAnalysis), which are no part of smoke.
 */
export function flaggerModel(spec: CanarySpec, options: { metricsPass?: () => boolean } = {}): FlaggerModel {
  const metricsPass = options.metricsPass ?? (() => true);
  const status: CanaryStatus = { phase: 'Initialized', canaryWeight: 0, failedChecks: 0, iterations: 0 };
  const calls: HookCall[] = [];
  let tickNo = 0;

  /** callWebhook: POST the payload; 200-202 is success, any other status or no answer an error. */
  async function call(hook: Webhook, phase: Phase): Promise<boolean> {
    const payload = { name: spec.name, namespace: spec.namespace, phase, checksum: spec.checksum, metadata: hook.metadata ?? {} };
    let code = 0;
    try {
      const response = await fetch(hook.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(payload),
        signal: AbortSignal.timeout(hook.timeoutMs ?? 10_000),
      });
      await response.arrayBuffer();
      code = response.status;
    } catch {
      code = 0;
    }
    const ok = code >= 200 && code <= 202;
    calls.push({ tick: tickNo, hook: hook.name, type: hook.type, phase, status: code, ok });
    return ok;
  }

  /** Every hook of the type in order; false at the first that fails (runConfirm*Hooks, runPreRolloutHooks). */
  async function all(type: HookType, phase: Phase): Promise<boolean> {
    for (const hook of spec.webhooks.filter((h) => h.type === type)) if (!(await call(hook, phase))) return false;
    return true;
  }

  /** runRollbackHooks: true at the first hook that answers success. */
  async function anyRollback(phase: Phase): Promise<boolean> {
    for (const hook of spec.webhooks.filter((h) => h.type === 'rollback')) if (await call(hook, phase)) return true;
    return false;
  }

  const rollback = () => {
    status.phase = 'Failed';
    status.canaryWeight = 0;
  };

  async function advance(): Promise<void> {
    // checkCanaryStatus: a new revision waits for confirm-rollout, then is scaled up (the rest of the tick is skipped).
    if (!['Progressing', 'WaitingPromotion', 'Promoting', 'Finalising'].includes(status.phase)) {
      if (status.phase === 'Succeeded' || status.phase === 'Failed') return;
      if (!(await all('confirm-rollout', status.phase))) {
        status.phase = 'Waiting';
        return;
      }
      Object.assign(status, { phase: 'Progressing', canaryWeight: 0, failedChecks: 0, iterations: 0 });
      return;
    }
    if (status.phase === 'Progressing' || status.phase === 'WaitingPromotion') {
      if (await anyRollback(status.phase)) return rollback();
    }
    // runPromotionTrafficShift (all traffic to primary in one go), then scale to zero.
    if (status.phase === 'Promoting') {
      status.phase = 'Finalising';
      return;
    }
    if (status.phase === 'Finalising') {
      status.phase = 'Succeeded';
      await all('post-rollout', 'Succeeded');
      return;
    }
    if (status.failedChecks >= spec.threshold) return rollback();

    if (status.canaryWeight === 0 && status.iterations === 0) {
      if (!(await all('pre-rollout', 'Progressing'))) {
        status.failedChecks++;
        return;
      }
    } else if (!(await all('rollout', 'Progressing')) || !metricsPass()) {
      // runAnalysis: rollout hooks, then the metric checks.
      status.failedChecks++;
      return;
    }

    // The canary strategy: confirm-traffic-increase outside promotion, then runCanary.
    if (status.phase !== 'WaitingPromotion' && !(await all('confirm-traffic-increase', 'Progressing'))) return;
    if (status.canaryWeight < spec.maxWeight) {
      status.canaryWeight = Math.min(100, status.canaryWeight + spec.stepWeight);
      return;
    }
    if (!(await all('confirm-promotion', 'Progressing'))) {
      status.phase = 'WaitingPromotion';
      return;
    }
    status.phase = 'Promoting';
  }

  return {
    status,
    calls,
    async tick() {
      tickNo++;
      await advance();
    },
  };
}
