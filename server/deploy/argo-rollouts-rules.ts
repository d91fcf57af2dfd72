/**
 * The Rollout checks Argo Rollouts' controller makes beyond the CRD schema,
 * for the strategy fields the examples use: argoproj/argo-rollouts v1.8.3
 * (commit 49fa1516), pkg/apis/rollouts/validation/validation.go,
 * ValidateRolloutStrategy, ValidateRolloutStrategyBlueGreen and
 * ValidateRolloutStrategyCanary. A Rollout failing them is never reconciled:
 * the controller marks it InvalidSpec.
 */

// Parsed YAML: untyped on purpose.
type Rollout = Record<string, any>;

const STEP_ACTIONS = ['experiment', 'pause', 'setWeight', 'analysis', 'setCanaryScale', 'setHeaderRoute', 'setMirrorRoute', 'plugin'];
/** Routers that route by service and so need both canaryService and stableService (requireCanaryStableServices). */
const SERVICE_ROUTERS = ['smi', 'apisix', 'ambassador', 'nginx', 'appMesh', 'traefik'];

export function rolloutSpecViolations(rollout: Rollout): string[] {
  const problems: string[] = [];
  const strategy = rollout.spec?.strategy ?? {};
  if (!strategy.blueGreen === !strategy.canary) {
    problems.push('spec.strategy: set exactly one of canary and blueGreen');
    return problems;
  }
  if (strategy.blueGreen) {
    const bg = strategy.blueGreen;
    if (bg.activeService === bg.previewService) problems.push('spec.strategy.blueGreen.activeService: must differ from previewService');
    return problems;
  }
  const canary = strategy.canary;
  const routing = canary.trafficRouting;
  if (routing) {
    const needsServices =
      (routing.alb && !canary.pingPong) || (routing.istio && !routing.istio.destinationRule && !canary.pingPong) || SERVICE_ROUTERS.some((r) => routing[r]);
    if (needsServices && !canary.stableService) problems.push('spec.strategy.canary.stableService: Canary service and Stable service must to be set to use Traffic Routing');
    if (needsServices && !canary.canaryService) problems.push('spec.strategy.canary.canaryService: Canary service and Stable service must to be set to use Traffic Routing');
  }
  (canary.steps ?? []).forEach((step: Record<string, unknown>, i: number) => {
    const actions = STEP_ACTIONS.filter((a) => step[a] !== undefined && step[a] !== null);
    if (actions.length !== 1) problems.push(`spec.strategy.canary.steps[${i}]: exactly one action per step (found ${actions.join(', ') || 'none'})`);
    if (step.setCanaryScale && !routing) problems.push('spec.strategy.canary.trafficRouting: SetCanaryScale requires TrafficRouting to be set');
    if ((step.setHeaderRoute || step.setMirrorRoute) && !routing) problems.push(`spec.strategy.canary.steps[${i}]: header and mirror routes require TrafficRouting`);
  });
  return problems;
}

/** Go duration strings as Argo writes them (`15s`, `2m`, `1h30m`), in seconds. */
export function durationSeconds(value: string): number {
  const parts = [...value.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== value) throw new Error(`'${value}' is not a duration such as 15s, 2m or 1h`);
  const unit = { ms: 0.001, s: 1, m: 60, h: 3600 } as const;
  return parts.reduce((sum, [, n, u]) => sum + Number(n) * unit[u as keyof typeof unit], 0);
}
