import { StoreUnavailable } from '../errors.ts';
import type { Store } from '../store/store.ts';

/** The store methods that write: what a full disk or a read-only database refuses. */
const WRITES = new Set<string>([
  'createDeployment',
  'finishDeployment',
  'createRun',
  'claimNextRun',
  'markRunRunning',
  'renewLease',
  'expireLeases',
  'claimTick',
  'recordFlowResult',
  'finishRun',
  'settle',
  'probeWrite',
] satisfies (keyof Store)[]);

/** What the store names in its own errors, for the writes a test looks for. */
const ACTIONS: Record<string, string> = { recordFlowResult: 'record a flow result', settle: 'store how the verification ended' };

/**
 * A real store whose writes fail, while `refusing`, the way the store fails
 * when its database cannot write: `StoreUnavailable` with the driver's error
 * as cause. Reads go through. For tests of what the service does meanwhile.
 */
export function refusingStore(store: Store): { store: Store; refusing: boolean } {
  const control = { refusing: false, store: undefined as unknown as Store };
  control.store = new Proxy(store, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver) as unknown;
      if (typeof key !== 'string' || !WRITES.has(key) || typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (!control.refusing) return (value as (...a: unknown[]) => unknown).apply(target, args);
        const cause = Object.assign(new Error('attempt to write a readonly database'), { code: 'SQLITE_READONLY' });
        return Promise.reject(new StoreUnavailable(ACTIONS[key] ?? key, { cause }));
      };
    },
  });
  return control;
}
