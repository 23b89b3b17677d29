/**
 * Small facts about Kubernetes objects that the rollout rules, the protection checks,
 * diagnostics and the manifest reader all need: one definition each.
 */
import type { V1ContainerStatus, V1Pod } from '@kubernetes/client-node';

/** What the API server assumes when a Deployment sets no progressDeadlineSeconds. */
export const DEFAULT_PROGRESS_DEADLINE_SECONDS = 600;

/**
 * Objects come from two places with different shapes: typed list calls of
 * @kubernetes/client-node turn timestamps into Date objects, watch events keep the
 * JSON strings. `toMillis` accepts both.
 */
export function toMillis(t: Date | string | undefined | null): number | undefined {
  if (t === undefined || t === null) return undefined;
  const ms = t instanceof Date ? t.getTime() : Date.parse(t);
  return Number.isNaN(ms) ? undefined : ms;
}

export function condition<T extends { type: string }>(
  conditions: T[] | undefined,
  type: string,
): T | undefined {
  return conditions?.find((c) => c.type === type);
}

/** A pod that is not terminating and whose Ready condition is True (the kubelet's probes pass). */
export function isPodReady(p: V1Pod): boolean {
  return !p.metadata?.deletionTimestamp && condition(p.status?.conditions, 'Ready')?.status === 'True';
}

/** Init containers first, then the regular ones: every container a pod has run or runs. */
export function containerStatuses(p: V1Pod | undefined): V1ContainerStatus[] {
  return [...(p?.status?.initContainerStatuses ?? []), ...(p?.status?.containerStatuses ?? [])];
}

/** A resource metric's target average utilization in percent (`cpu`, `memory`), from an HPA spec. */
export function utilizationTarget(
  spec:
    | { metrics?: { type: string; resource?: { name?: string; target?: { averageUtilization?: number } } }[] }
    | undefined,
  resource: string,
): number | undefined {
  return spec?.metrics?.find((m) => m.type === 'Resource' && m.resource?.name === resource)?.resource?.target
    ?.averageUtilization;
}
