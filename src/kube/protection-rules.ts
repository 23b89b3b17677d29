/**
 * Checks after a rollout, as pure functions over object states: the HPA can scale
 * the service, the PDB lets a node drain proceed, the pods are spread over zones.
 */
import type {
  V1Node,
  V1Pod,
  V1PodDisruptionBudget,
  V2HorizontalPodAutoscaler,
} from '@kubernetes/client-node';
import { condition, isPodReady, utilizationTarget } from './objects.js';

type Verdict = 'ok' | 'warning' | 'error' | 'skipped';

export interface Check {
  verdict: Verdict;
  message: string;
}

export interface ExpectedAutoscaling {
  min: number;
  max: number;
  /** Target average CPU utilization in percent; undefined when the chart sets none. */
  cpu?: number;
  memory?: number;
}

/**
 * The HPA controller has judged the metrics (ScalingActive is set), or found it cannot
 * scale. While the target is below minReplicas the controller scales it up without
 * reading metrics and sets only AbleToScale: right after a first install, "no metrics"
 * shows only at its next sync (every 15s).
 */
export function hpaEvaluated(hpa: V2HorizontalPodAutoscaler): boolean {
  const conditions = hpa.status?.conditions;
  return !!condition(conditions, 'ScalingActive') || condition(conditions, 'AbleToScale')?.status === 'False';
}

/** The HPA exists, targets the Deployment, has the configured bounds and targets, and can act. */
export function judgeHpa(
  hpa: V2HorizontalPodAutoscaler | undefined,
  deployment: string,
  expected: ExpectedAutoscaling,
  strict = false,
): Check {
  if (!hpa) return { verdict: 'error', message: `HorizontalPodAutoscaler ${deployment} not found` };
  const name = hpa.metadata?.name;
  const target = hpa.spec?.scaleTargetRef;
  const wrong: string[] = [];
  if (target?.kind !== 'Deployment' || target.name !== deployment) {
    wrong.push(`targets ${target?.kind}/${target?.name}, not Deployment/${deployment}`);
  }
  const compare = (what: string, actual: number | undefined, want: number | undefined) => {
    if (actual !== want) wrong.push(`${what} is ${actual ?? 'unset'}, expected ${want ?? 'unset'}`);
  };
  compare('minReplicas', hpa.spec?.minReplicas ?? 1, expected.min);
  compare('maxReplicas', hpa.spec?.maxReplicas, expected.max);
  compare('CPU target', utilizationTarget(hpa.spec, 'cpu'), expected.cpu);
  compare('memory target', utilizationTarget(hpa.spec, 'memory'), expected.memory);
  if (wrong.length) return { verdict: 'error', message: `HPA ${name}: ${wrong.join('; ')}` };

  const conditions = hpa.status?.conditions;
  if (!conditions?.length) {
    return { verdict: 'warning', message: `HPA ${name} has not been evaluated by the HPA controller yet` };
  }
  const able = condition(conditions, 'AbleToScale');
  if (able?.status === 'False') {
    return { verdict: 'error', message: `HPA ${name} cannot scale: ${able.reason}: ${able.message}` };
  }
  const active = condition(conditions, 'ScalingActive');
  if (active?.status === 'False') {
    if (hpaAwaitingPodMetrics(hpa)) {
      return {
        verdict: strict ? 'error' : 'warning',
        message: `HPA ${name}: no metrics for its pods yet (${active.reason}: ${active.message})`,
      };
    }
    if (/^FailedGet.*Metric$/.test(active.reason ?? '')) {
      return {
        verdict: strict ? 'error' : 'warning',
        message: `HPA ${name}: metrics unavailable — is metrics-server installed? (${active.reason}: ${active.message})`,
      };
    }
    return { verdict: 'warning', message: `HPA ${name} is not scaling: ${active.reason}: ${active.message}` };
  }
  if (!active) {
    return {
      verdict: 'warning',
      message: `HPA ${name} has not evaluated its metrics yet (the HPA controller syncs every 15s by default)`,
    };
  }
  return judgeScaling(hpa, expected);
}

/**
 * The metrics API answers but has no metrics for the target's pods yet: new pods are
 * measured only after their first scrapes (metrics-server needs two for CPU), so right
 * after a rollout the HPA controller may report this for a sync or two.
 */
export function hpaAwaitingPodMetrics(hpa: V2HorizontalPodAutoscaler): boolean {
  const active = condition(hpa.status?.conditions, 'ScalingActive');
  return (
    active?.status === 'False' &&
    active.reason === 'FailedGetResourceMetric' &&
    /did not receive metrics for targeted pods|no metrics returned from resource metrics API/.test(
      active.message ?? '',
    )
  );
}

/** Current average utilisation (percent of requests) of a resource, from the HPA's status. */
function currentUtilization(hpa: V2HorizontalPodAutoscaler, resource: string): number | undefined {
  return hpa.status?.currentMetrics?.find((m) => m.type === 'Resource' && m.resource?.name === resource)
    ?.resource?.current?.averageUtilization;
}

/**
 * ScalingActive: the controller reads the metrics. The message says how many replicas
 * run within the bounds, the current/target utilisation, and, above minReplicas, why
 * (the controller's own words). At maxReplicas while it wants more, a warning.
 */
function judgeScaling(hpa: V2HorizontalPodAutoscaler, expected: ExpectedAutoscaling): Check {
  const name = hpa.metadata?.name;
  const replicas = hpa.status?.currentReplicas ?? 0;
  const desired = hpa.status?.desiredReplicas ?? replicas;
  const usage = (['cpu', 'memory'] as const)
    .filter((r) => expected[r] !== undefined)
    .map((r) => `${r} ${currentUtilization(hpa, r) ?? '?'}%/${expected[r]}%`);
  let message =
    `HPA ${name}: ${replicas} replicas (${expected.min}–${expected.max})` +
    (usage.length ? `, ${usage.join(', ')}` : '') +
    (desired !== replicas ? `, scaling to ${desired}` : '');
  const active = condition(hpa.status?.conditions, 'ScalingActive');
  if (Math.max(replicas, desired) > expected.min && active?.message) {
    message += ` — replicas now ${Math.max(replicas, desired)} of ${expected.min}–${expected.max}: ${active.message}`;
  }
  const limited = condition(hpa.status?.conditions, 'ScalingLimited');
  if (limited?.status === 'True' && limited.reason === 'TooManyReplicas') {
    return { verdict: 'warning', message: `${message}; at maxReplicas: ${limited.message}` };
  }
  return { verdict: 'ok', message };
}

export function pdbObserved(pdb: V1PodDisruptionBudget): boolean {
  return (pdb.status?.observedGeneration ?? 0) >= (pdb.metadata?.generation ?? 1);
}

/** How many pods `minAvailable` keeps at `replicas` pods (percentages round up, as the disruption controller does). */
export function minAvailableAt(minAvailable: number | string, replicas: number): number {
  if (typeof minAvailable === 'number') return minAvailable;
  const pct = /^(\d+)%$/.exec(minAvailable);
  return pct ? Math.ceil((Number(pct[1]) / 100) * replicas) : Number(minAvailable);
}

/** The PDB exists as configured, is observed, and lets a node drain evict at least one pod. */
export function judgePdb(
  pdb: V1PodDisruptionBudget | undefined,
  service: string,
  expectedMinAvailable: number | string,
  hpaMinReplicas?: number,
): Check {
  if (!pdb) return { verdict: 'error', message: `PodDisruptionBudget ${service} not found` };
  const name = pdb.metadata?.name;
  const actual = pdb.spec?.minAvailable;
  if (String(actual) !== String(expectedMinAvailable)) {
    return {
      verdict: 'error',
      message: `PDB ${name}: minAvailable is ${actual ?? 'unset'}, expected ${expectedMinAvailable}`,
    };
  }
  if (
    hpaMinReplicas !== undefined &&
    hpaMinReplicas <= minAvailableAt(expectedMinAvailable, hpaMinReplicas)
  ) {
    return {
      verdict: 'warning',
      message:
        `PDB ${name}: HPA minReplicas ${hpaMinReplicas} ≤ minAvailable ${expectedMinAvailable}: ` +
        `at minimum scale no pod may be evicted, so node drains would block`,
    };
  }
  if (!pdbObserved(pdb)) {
    return { verdict: 'warning', message: `PDB ${name}: not yet observed by the disruption controller` };
  }
  const s = pdb.status!;
  if (s.disruptionsAllowed < 1) {
    return {
      verdict: 'warning',
      message:
        `PDB ${name}: disruptionsAllowed is ${s.disruptionsAllowed} ` +
        `(${s.currentHealthy} healthy, ${s.desiredHealthy} required): node drains would block`,
    };
  }
  return {
    verdict: 'ok',
    message: `PDB ${name}: minAvailable ${actual}, ${s.currentHealthy} healthy, ${s.disruptionsAllowed} disruption(s) allowed`,
  };
}

const ZONE = 'topology.kubernetes.io/zone';

/** Zones a pod can land in: those of Ready nodes that accept pods. */
function schedulableZones(nodes: readonly V1Node[]): string[] {
  const zones = nodes
    .filter((n) => !n.spec?.unschedulable && condition(n.status?.conditions, 'Ready')?.status === 'True')
    .map((n) => n.metadata?.labels?.[ZONE])
    .filter((z): z is string => !!z);
  return [...new Set(zones)].sort();
}

/** The service's ready pods span min(replicas, zones) zones, so one zone going down leaves it serving. */
export function judgeSpread(
  pods: readonly V1Pod[],
  nodes: readonly V1Node[],
  replicas: number,
  opts: { strict?: boolean } = {},
): Check {
  const zones = schedulableZones(nodes);
  if (!zones.length) return { verdict: 'skipped', message: `no node carries a ${ZONE} label` };
  const zoneOf = new Map(nodes.map((n) => [n.metadata?.name, n.metadata?.labels?.[ZONE]]));
  const ready = pods.filter(isPodReady);
  const spanned = [
    ...new Set(ready.map((p) => zoneOf.get(p.spec?.nodeName)).filter((z): z is string => !!z)),
  ].sort();
  const needed = Math.min(replicas, zones.length);
  const text = `${ready.length} ready pods span ${spanned.length} zone(s) (${spanned.join(', ') || 'none'})`;
  if (spanned.length >= needed) return { verdict: 'ok', message: `${text} of ${zones.length}` };
  return {
    verdict: opts.strict ? 'error' : 'warning',
    message: `${text}, expected ${needed} of ${zones.join(', ')}: losing one zone would take out more than its share`,
  };
}
