import { Counter, type Registry } from 'prom-client';

/** The gate endpoints, as the `gate` label names them. */
export type GateName = 'flagger' | 'flagger-rollback' | 'argo' | 'github';

export const GATE_NAMES = Object.keys({ flagger: 1, 'flagger-rollback': 1, argo: 1, github: 1 } satisfies Record<GateName, 1>) as GateName[];

export interface GateMetrics {
  answered(gate: GateName, status: number): void;
}

/**
 * Answers of the gate endpoints by HTTP status: for Flagger the status is the
 * answer (200 go, 423 wait, 412 failed), and a rising GitHub 401 means a
 * wrong secret or someone knocking.
 */
export function createGateMetrics(registry: Registry): GateMetrics {
  const requests = new Counter({
    name: 'smoke_gate_requests_total',
    help: 'Calls of the gate endpoints (Flagger, Argo Rollouts, GitHub) by gate and HTTP status answered.',
    labelNames: ['gate', 'status'] as const,
    registers: [registry],
  });
  for (const gate of GATE_NAMES) requests.inc({ gate, status: '200' }, 0);
  return {
    answered: (gate, status) => requests.inc({ gate, status: String(status) }),
  };
}
