/**
 * Why a rollout failed, in the words a person needs to fix it: the failing pod and
 * container, its last termination, the Warning events of the pod, its ReplicaSet and
 * Deployment, and the tail of its logs. Collected the moment the tracker decides
 * "failed", before anything is rolled back and the evidence is gone.
 */
import type { CoreV1Api, CoreV1Event, V1ContainerStatus, V1Pod } from '@kubernetes/client-node';
import { apiErrorMessage, withTimeout } from './client.js';
import { containerStatuses, toMillis } from './objects.js';

export interface DiagnosticEvent {
  type: string;
  reason: string;
  message: string;
  count: number;
}

export interface Diagnostics {
  pod?: string;
  container?: string;
  reason: string;
  message: string;
  lastTermination?: { reason: string; exitCode: number };
  events: DiagnosticEvent[];
  logs?: { current?: string; previous?: string; unavailable?: string };
}

export interface InvolvedObject {
  kind: string;
  name: string;
}

const LOG_TAIL_LINES = 20;
const LOG_TIMEOUT_MS = 5_000;
/** Waiting reasons of a container that never ran, so there is no log to read. */
const NEVER_STARTED = new Set([
  'ImagePullBackOff',
  'ErrImagePull',
  'InvalidImageName',
  'CreateContainerConfigError',
]);

function eventTime(e: CoreV1Event): number | undefined {
  return (
    toMillis(e.series?.lastObservedTime) ??
    toMillis(e.lastTimestamp) ??
    toMillis(e.eventTime) ??
    toMillis(e.metadata?.creationTimestamp)
  );
}

/**
 * Warning events about the given objects since `since`, one line per reason+message
 * with their counts added up (a crash loop repeats the same event per pod).
 */
export function warningEvents(
  events: readonly CoreV1Event[],
  involved: readonly InvolvedObject[],
  since?: number,
): DiagnosticEvent[] {
  const about = (e: CoreV1Event) =>
    involved.some((o) => o.kind === e.involvedObject.kind && o.name === e.involvedObject.name);
  // Event timestamps have whole seconds; an event of the upgrade's own second counts.
  const recent = (e: CoreV1Event) => since === undefined || (eventTime(e) ?? Infinity) >= since - 1000;
  const merged = new Map<string, DiagnosticEvent & { at: number }>();
  for (const e of events) {
    if (e.type !== 'Warning' || !about(e) || !recent(e)) continue;
    const key = `${e.reason}\u0000${e.message}`;
    const count = e.series?.count ?? e.count ?? 1;
    const prev = merged.get(key);
    const at = eventTime(e) ?? 0;
    if (prev) {
      prev.count += count;
      prev.at = Math.max(prev.at, at);
    } else {
      merged.set(key, { type: e.type, reason: e.reason ?? '', message: e.message ?? '', count, at });
    }
  }
  return [...merged.values()].sort((a, b) => a.at - b.at).map(({ at: _at, ...e }) => e);
}

function containerStatus(
  pod: V1Pod | undefined,
  container: string | undefined,
): V1ContainerStatus | undefined {
  return containerStatuses(pod).find((s) => s.name === container);
}

function lastTerminationOf(
  pod: V1Pod | undefined,
  container: string | undefined,
): Diagnostics['lastTermination'] {
  const s = containerStatus(pod, container);
  const t = s?.lastState?.terminated ?? s?.state?.terminated;
  return t ? { reason: t.reason ?? 'Terminated', exitCode: t.exitCode } : undefined;
}

/** Tail of the current and previous container logs; some clusters serve none (no kubelet route, no pods/log RBAC). */
async function readLogs(
  core: CoreV1Api,
  namespace: string,
  pod: V1Pod,
  container: string,
): Promise<NonNullable<Diagnostics['logs']>> {
  const s = containerStatus(pod, container);
  const waiting = s?.state?.waiting?.reason;
  if (waiting && NEVER_STARTED.has(waiting) && !s?.lastState?.terminated) {
    return { unavailable: `container never started (${waiting})` };
  }
  const name = pod.metadata!.name!;
  const read = (previous: boolean) =>
    withTimeout(
      core.readNamespacedPodLog({ name, namespace, container, tailLines: LOG_TAIL_LINES, previous }),
      LOG_TIMEOUT_MS,
      `reading the log of ${name}/${container}`,
    ).then(
      (text) => ({ text }),
      (err: unknown) => ({ error: apiErrorMessage(err) }),
    );
  const [current, previous] = await Promise.all([
    read(false),
    s?.lastState?.terminated || (s?.restartCount ?? 0) > 0 ? read(true) : undefined,
  ]);
  const logs: NonNullable<Diagnostics['logs']> = {};
  if ('text' in current) logs.current = current.text;
  if (previous && 'text' in previous) logs.previous = previous.text;
  // Both reads fail for the same reason (no kubelet, no RBAC); saying it once is enough.
  const error = [current, previous].find((r) => r && 'error' in r);
  if (error && 'error' in error && logs.current === undefined && logs.previous === undefined) {
    logs.unavailable = error.error;
  }
  return logs;
}

export interface DiagnosticsInput {
  core: CoreV1Api;
  namespace: string;
  reason: string;
  message: string;
  pod?: V1Pod;
  container?: string;
  /** Events to pick from (the tracker's watch cache), and whom they must be about. */
  events: readonly CoreV1Event[];
  involved: readonly InvolvedObject[];
  since?: number;
}

export async function collectDiagnostics(input: DiagnosticsInput): Promise<Diagnostics> {
  const { pod, container } = input;
  const podName = pod?.metadata?.name;
  const involved = podName ? [...input.involved, { kind: 'Pod', name: podName }] : input.involved;
  return {
    pod: podName,
    container,
    reason: input.reason,
    message: input.message,
    lastTermination: lastTerminationOf(pod, container),
    events: warningEvents(input.events, involved, input.since),
    logs: pod && container ? await readLogs(input.core, input.namespace, pod, container) : undefined,
  };
}

function indent(text: string, prefix = '    '): string {
  return text
    .trimEnd()
    .split('\n')
    .map((l) => prefix + l)
    .join('\n');
}

/** Multi-line text for people, for the console and the job summary. */
export function formatDiagnostics(d: Diagnostics): string {
  const lines = [`${d.reason}: ${d.message}`];
  if (d.pod) lines.push(`  pod: ${d.pod}${d.container ? `, container: ${d.container}` : ''}`);
  if (d.lastTermination) {
    lines.push(`  last termination: ${d.lastTermination.reason}, exit code ${d.lastTermination.exitCode}`);
  }
  if (d.events.length) {
    lines.push('  warning events:');
    for (const e of d.events) lines.push(`    ${e.reason} (×${e.count}): ${e.message}`);
  } else {
    lines.push('  warning events: none');
  }
  if (d.logs?.unavailable) lines.push(`  logs unavailable: ${d.logs.unavailable}`);
  if (d.logs?.previous)
    lines.push(`  previous container log (last ${LOG_TAIL_LINES} lines):`, indent(d.logs.previous));
  if (d.logs?.current) lines.push(`  container log (last ${LOG_TAIL_LINES} lines):`, indent(d.logs.current));
  return lines.join('\n');
}
