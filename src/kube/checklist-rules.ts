/**
 * `verify`'s checklist as pure functions over live objects and what the chart rendered:
 * the Deployment available, at the rendered image (digest); its pods ready; the Service
 * as the chart says, with endpoints; the probes as the chart says and passing. HPA, PDB
 * and zone spread come from verify.ts (the same checks a deploy ends with) and become
 * rows through `rowOf`.
 */
import type {
  CoreV1Event,
  V1Container,
  V1Deployment,
  V1EndpointSlice,
  V1Pod,
  V1Probe,
  V1Service,
} from '@kubernetes/client-node';
import type { ProbeKind, RenderedExpectations } from '../helm/manifest.js';
import { PROBE_KINDS } from '../helm/manifest.js';
import type { ChecklistRow } from '../model.js';
import { condition, toMillis } from './objects.js';
import type { Check } from './protection-rules.js';

type Row = Omit<ChecklistRow, 'service'>;

/** What `verify` reads for one service. */
export interface LiveService {
  deployment?: V1Deployment;
  pods: V1Pod[];
  service?: V1Service;
  endpointSlices: V1EndpointSlice[];
  /** Warning events of reason Unhealthy in the namespace (probe failures). */
  unhealthyEvents: CoreV1Event[];
}

/** How far back a readiness failure still counts as "recent". */
const RECENT_MS = 10 * 60_000;

/** A verify.ts check as a row: error is failed; skipped (not configured) is ok, and says so. */
export function rowOf(check: string, c: Check): Row {
  const status = c.verdict === 'error' ? 'failed' : c.verdict === 'warning' ? 'warning' : 'ok';
  return { check, status, message: c.verdict === 'skipped' ? `not configured: ${c.message}` : c.message };
}

const live = (pods: V1Pod[]) => pods.filter((p) => !p.metadata?.deletionTimestamp);
const firstContainer = (d: V1Deployment | undefined): V1Container | undefined =>
  d?.spec?.template?.spec?.containers?.[0];

export function judgeDeployment(name: string, d: V1Deployment | undefined): Row {
  if (!d) return { check: 'deployment', status: 'failed', message: `Deployment ${name} not found` };
  const want = d.spec?.replicas ?? 1;
  const s = d.status ?? {};
  const available = condition(s.conditions, 'Available');
  const counts = `${s.availableReplicas ?? 0}/${want} available, ${s.updatedReplicas ?? 0} up to date`;
  const current = (d.metadata?.generation ?? 0) <= (s.observedGeneration ?? 0);
  if (
    available?.status === 'True' &&
    current &&
    (s.availableReplicas ?? 0) >= want &&
    (s.updatedReplicas ?? 0) >= want
  ) {
    return { check: 'deployment', status: 'ok', message: counts };
  }
  const why = available
    ? `Available=${available.status}${available.reason ? ` (${available.reason})` : ''}`
    : 'no Available condition';
  return {
    check: 'deployment',
    status: 'failed',
    message: `${counts}; ${why}${current ? '' : '; the controller has not seen the latest spec yet'}`,
  };
}

/** The Deployment's pod template and every running pod run the image the chart rendered (by digest). */
export function judgeImage(expected: string | undefined, d: V1Deployment | undefined, pods: V1Pod[]): Row {
  if (!expected)
    return { check: 'image', status: 'warning', message: 'the chart rendered no container image' };
  const template = firstContainer(d)?.image;
  if (!d || template !== expected) {
    return {
      check: 'image',
      status: 'failed',
      message: `the Deployment runs ${template ?? '(no Deployment)'}, expected ${expected}`,
    };
  }
  const name = firstContainer(d)?.name;
  const others = live(pods).filter(
    (p) => p.spec?.containers?.find((c) => c.name === name)?.image !== expected,
  );
  if (others.length) {
    const p = others[0]!;
    return {
      check: 'image',
      status: 'failed',
      message: `${others.length} pod(s) run another image, e.g. ${p.metadata?.name}: ${p.spec?.containers?.find((c) => c.name === name)?.image}; expected ${expected}`,
    };
  }
  return {
    check: 'image',
    status: 'ok',
    message: expected.includes('@') ? `at ${expected.split('@')[1]}` : expected,
  };
}

export function judgePods(pods: V1Pod[]): Row {
  const running = live(pods);
  if (!running.length) return { check: 'pods', status: 'failed', message: 'no pods' };
  const notReady: string[] = [];
  let restarts = 0;
  for (const p of running) {
    const statuses = p.status?.containerStatuses ?? [];
    const total = p.spec?.containers?.length ?? statuses.length;
    const ready = statuses.filter((c) => c.ready).length;
    restarts += statuses.reduce((n, c) => n + (c.restartCount ?? 0), 0);
    if (ready < total)
      notReady.push(`${p.metadata?.name} ${ready}/${total} (${p.status?.phase ?? 'unknown'})`);
  }
  const summary = `${running.length - notReady.length}/${running.length} pods with every container ready, ${restarts} restart${restarts === 1 ? '' : 's'}`;
  if (notReady.length)
    return { check: 'pods', status: 'failed', message: `${summary}; not ready: ${notReady.join(', ')}` };
  return { check: 'pods', status: restarts ? 'warning' : 'ok', message: summary };
}

export function judgeService(
  name: string,
  expected: RenderedExpectations['service'],
  svc: V1Service | undefined,
  slices: V1EndpointSlice[],
): Row {
  if (!expected)
    return { check: 'service', status: 'ok', message: 'not configured: the chart renders no Service' };
  if (!svc) return { check: 'service', status: 'failed', message: `Service ${name} not found` };
  const type = svc.spec?.type ?? 'ClusterIP';
  const ports = (svc.spec?.ports ?? []).map((p) => p.port);
  const wrong: string[] = [];
  if (type !== expected.type) wrong.push(`type ${type}, the chart says ${expected.type}`);
  if (ports.join(',') !== expected.ports.join(','))
    wrong.push(`port ${ports.join(', ') || 'none'}, the chart says ${expected.ports.join(', ')}`);
  const ready = slices
    .flatMap((s) => s.endpoints ?? [])
    .filter((e) => e.conditions?.ready !== false && (e.addresses?.length ?? 0) > 0).length;
  if (!ready) wrong.push('no ready endpoints');
  const what = `${type} on port ${ports.join(', ')}, ${ready} ready endpoint${ready === 1 ? '' : 's'}`;
  return wrong.length
    ? { check: 'service', status: 'failed', message: `${wrong.join('; ')} (${what})` }
    : { check: 'service', status: 'ok', message: what };
}

/** A probe with the API server's defaults filled in, so rendered and live compare field by field. */
function normalize(p: V1Probe | object | undefined): Record<string, unknown> | undefined {
  if (!p) return undefined;
  const probe = p as V1Probe;
  return {
    handler: probe.httpGet
      ? `httpGet ${probe.httpGet.scheme ?? 'HTTP'} ${probe.httpGet.path ?? '/'} port ${String(probe.httpGet.port)}`
      : probe.tcpSocket
        ? `tcpSocket port ${String(probe.tcpSocket.port)}`
        : probe.exec
          ? `exec ${(probe.exec.command ?? []).join(' ')}`
          : probe.grpc
            ? `grpc port ${probe.grpc.port}`
            : 'none',
    initialDelaySeconds: probe.initialDelaySeconds ?? 0,
    periodSeconds: probe.periodSeconds ?? 10,
    timeoutSeconds: probe.timeoutSeconds ?? 1,
    successThreshold: probe.successThreshold ?? 1,
    failureThreshold: probe.failureThreshold ?? 3,
  };
}

/** Live probes as the chart renders them, and no readiness failures in the last RECENT_MS. */
export function judgeProbes(
  expected: RenderedExpectations['probes'],
  d: V1Deployment | undefined,
  pods: V1Pod[],
  events: CoreV1Event[],
  now = Date.now(),
): Row {
  const container = firstContainer(d);
  if (!container)
    return { check: 'probes', status: 'failed', message: 'no Deployment to compare the probes with' };
  const diffs: string[] = [];
  for (const kind of PROBE_KINDS) {
    const want = normalize(expected?.[kind]);
    const have = normalize(container[kind as ProbeKind]);
    if (!want && !have) continue;
    if (!want || !have) {
      diffs.push(
        `${kind} ${have ? 'is set live' : 'is missing live'}, the chart ${want ? 'sets it' : 'does not'}`,
      );
      continue;
    }
    for (const key of Object.keys(want)) {
      if (want[key] !== have[key])
        diffs.push(`${kind} ${key} is ${String(have[key])}, the chart says ${String(want[key])}`);
    }
  }
  if (diffs.length) return { check: 'probes', status: 'failed', message: diffs.join('; ') };
  const configured = PROBE_KINDS.filter((k) => expected?.[k]).map((k) => k.replace('Probe', ''));
  const names = new Set(live(pods).map((p) => p.metadata?.name));
  const recent = events.filter(
    (e) =>
      e.reason === 'Unhealthy' &&
      names.has(e.involvedObject?.name) &&
      /readiness probe/i.test(e.message ?? '') &&
      now - (toMillis(e.lastTimestamp ?? e.eventTime ?? e.metadata?.creationTimestamp) ?? 0) <= RECENT_MS,
  );
  if (recent.length) {
    const count = recent.reduce((n, e) => n + (e.count ?? 1), 0);
    return {
      check: 'probes',
      status: 'warning',
      message: `as the chart says, but ${count} readiness failure(s) in the last ${RECENT_MS / 60_000} min: ${recent.at(-1)!.involvedObject?.name}: ${recent.at(-1)!.message}`,
    };
  }
  return {
    check: 'probes',
    status: 'ok',
    message: `${configured.join(', ') || 'none'} as the chart says; no readiness failures in the last ${RECENT_MS / 60_000} min`,
  };
}
