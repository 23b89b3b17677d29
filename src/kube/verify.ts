/**
 * Checks after a successful rollout that the service is protected the way its chart
 * says: the HPA can scale it, the PDB lets a node drain proceed, and its pods are
 * spread over the zones. The judging is in protection-rules.ts; this file only reads objects.
 */
import {
  AppsV1Api,
  AutoscalingV2Api,
  CoreV1Api,
  PolicyV1Api,
  type KubeConfig,
  type V1Node,
  type V1Pod,
  type V1PodDisruptionBudget,
  type V2HorizontalPodAutoscaler,
} from '@kubernetes/client-node';
import { apiErrorMessage, httpStatusOf, tokenRefused } from './client.js';
import { condition } from './objects.js';
import { withRetry } from './retry.js';
import {
  judgeHpa,
  judgePdb,
  judgeSpread,
  hpaEvaluated,
  hpaAwaitingPodMetrics,
  pdbObserved,
  type Check,
  type ExpectedAutoscaling,
} from './protection-rules.js';

interface ExpectedProtection {
  /** From the rendered HPA (or the values); omitted when the service does not autoscale. */
  autoscaling?: ExpectedAutoscaling;
  /** From the rendered PDB; omitted when the service has none. */
  pdbMinAvailable?: number | string;
}

export interface VerifyRequest {
  kc: KubeConfig;
  namespace: string;
  /** Service = release = Deployment = HPA = PDB name; pods carry `app: <service>`. */
  service: string;
  expected: ExpectedProtection;
  /** Missing metrics, poor spread and checks that could not be made become errors instead of warnings. */
  strict?: boolean;
  /** Hears each retried read once, with its cause. */
  log?: (message: string) => void;
  /** Where the spread check gets the nodes (a run shares one list: `sharedNodes`); default: a list of its own. */
  nodes?: NodeSource;
  /**
   * The HPA as the run's watch last saw it active (computing replicas from metrics) at its
   * current spec, after this release was applied; see hpa-sightings.ts.
   */
  seenActive?: () => V2HorizontalPodAutoscaler | undefined;
}

/** The nodes for these pods, from `list` or from an earlier list. */
export type NodeSource = (pods: readonly V1Pod[], list: () => Promise<V1Node[]>) => Promise<V1Node[]>;

export interface Verification {
  service: string;
  hpa: Check;
  pdb: Check;
  spread: Check;
}

/**
 * Re-reads come soon at first (a controller usually catches up within a few hundred ms of a
 * rollout: the disruption controller counting the new pods), then every REREAD_MS.
 */
const FIRST_REREAD_MS = 100;
const REREAD_MS = 500;
/** How long to wait for the HPA controller to evaluate the metrics (it syncs every 15s). */
const HPA_WAIT_MS = 20_000;
/**
 * How long to wait, when the metrics API answers but has not measured the new pods yet
 * (metrics-server scrapes every 15s by default and needs two scrapes for CPU).
 */
const POD_METRICS_WAIT_MS = 60_000;
/** How long to wait for the disruption controller to observe the PDB. */
const PDB_WAIT_MS = 10_000;

/** Reads until `settled` says the controller has caught up or the time is over; returns the last read. */
export async function readUntil<T>(
  read: () => Promise<T>,
  settled: (v: T) => boolean,
  waitMs: number,
): Promise<T> {
  const deadline = Date.now() + waitMs;
  for (let pause = FIRST_REREAD_MS; ; pause = Math.min(pause * 2, REREAD_MS)) {
    const v = await read();
    if (settled(v) || Date.now() >= deadline) return v;
    await new Promise((r) => setTimeout(r, pause));
  }
}

/**
 * A read retried through throttling and API-server restarts, answering undefined for
 * 404, so "not found" is a verdict, not an exception.
 */
async function orMissing<T>(
  req: VerifyRequest,
  what: string,
  read: () => Promise<T>,
): Promise<T | undefined> {
  try {
    return await withRetry(`${req.service}: reading ${what}`, read, {
      log: req.log,
      onUnauthorized: () => tokenRefused(req.kc),
    });
  } catch (err) {
    if (httpStatusOf(err) === 404) return undefined;
    throw err;
  }
}

/**
 * A check we could not make is a warning (an error only under --strict), never a failed
 * service: the rollout itself was seen to succeed, and rolling it back because a read
 * was throttled or forbidden would undo a good deploy.
 */
function notChecked(req: VerifyRequest, what: string, err: unknown): Check {
  const status = httpStatusOf(err);
  const why =
    status === 401 || status === 403
      ? `no permission to read ${what}`
      : `cannot read ${what}: ${apiErrorMessage(err)}`;
  return { verdict: req.strict ? 'error' : 'warning', message: `not checked (${why})` };
}

export async function verifyService(req: VerifyRequest): Promise<Verification> {
  const [hpa, pdb, spread] = await Promise.all([verifyHpa(req), verifyPdb(req), verifySpread(req)]);
  return { service: req.service, hpa, pdb, spread };
}

async function verifyHpa(req: VerifyRequest): Promise<Check> {
  const { kc, namespace, service, expected } = req;
  if (!expected.autoscaling) return { verdict: 'skipped', message: 'autoscaling is not enabled' };
  const api = kc.makeApiClient(AutoscalingV2Api);
  try {
    const read = () =>
      orMissing(req, `HorizontalPodAutoscaler ${service}`, () =>
        api.readNamespacedHorizontalPodAutoscaler({ name: service, namespace }),
      );
    let hpa = await readUntil(read, (h) => !h || hpaEvaluated(h), HPA_WAIT_MS);
    if (hpa && hpaAwaitingPodMetrics(hpa) && !req.strict) {
      const seen = activeAtThisSpec(req.seenActive?.(), hpa);
      const check = seen && judgeHpa(seen, service, expected.autoscaling);
      if (check?.verdict === 'ok') return { verdict: 'ok', message: `${check.message}${afterRollout(hpa)}` };
    }
    if (hpa && hpaAwaitingPodMetrics(hpa)) {
      // Long enough to be seen: say what the run is waiting for.
      req.log?.(
        `${service}: HPA waiting for the metrics of its new pods (up to ${POD_METRICS_WAIT_MS / 1000} s: metrics-server needs a scrape or two, then the HPA controller its next sync)`,
      );
      hpa = await readUntil(read, (h) => !h || !hpaAwaitingPodMetrics(h), POD_METRICS_WAIT_MS);
    }
    return judgeHpa(hpa, service, expected.autoscaling, req.strict);
  } catch (err) {
    return notChecked(req, `HorizontalPodAutoscaler ${service}`, err);
  }
}

/** `seen`, if it is this HPA (not one deleted and created again) at the spec it has now. */
function activeAtThisSpec(
  seen: V2HorizontalPodAutoscaler | undefined,
  now: V2HorizontalPodAutoscaler,
): V2HorizontalPodAutoscaler | undefined {
  const same =
    seen?.metadata?.uid === now.metadata?.uid && seen?.metadata?.generation === now.metadata?.generation;
  return same ? seen : undefined;
}

/**
 * Why an HPA whose controller now says "no metrics for the targeted pods" passes: it was
 * seen computing from metrics at this spec after the release was applied, and what it
 * lacks now is the first samples of the pods the rollout just started.
 */
function afterRollout(hpa: V2HorizontalPodAutoscaler): string {
  const latest = condition(hpa.status?.conditions, 'ScalingActive')?.message ?? 'ScalingActive=False';
  return (
    ' (its last computation from metrics, seen after this release was applied; the pods the rollout started have no samples yet,' +
    ` which metrics-server's next scrapes bring — the HPA controller's latest sync: ${latest})`
  );
}

async function verifyPdb(req: VerifyRequest): Promise<Check> {
  const { kc, namespace, service, expected } = req;
  if (expected.pdbMinAvailable === undefined) {
    return { verdict: 'skipped', message: 'no PodDisruptionBudget with minAvailable is configured' };
  }
  const api = kc.makeApiClient(PolicyV1Api);
  try {
    // Right after a rollout the disruption controller may not have counted the new pods yet.
    const pdb = await readUntil<V1PodDisruptionBudget | undefined>(
      () =>
        orMissing(req, `PodDisruptionBudget ${service}`, () =>
          api.readNamespacedPodDisruptionBudget({ name: service, namespace }),
        ),
      (p) => !p || (pdbObserved(p) && (p.status?.disruptionsAllowed ?? 0) >= 1),
      PDB_WAIT_MS,
    );
    return judgePdb(pdb, service, expected.pdbMinAvailable, expected.autoscaling?.min);
  } catch (err) {
    return notChecked(req, `PodDisruptionBudget ${service}`, err);
  }
}

async function verifySpread(req: VerifyRequest): Promise<Check> {
  const { kc, namespace, service } = req;
  const core = kc.makeApiClient(CoreV1Api);
  const apps = kc.makeApiClient(AppsV1Api);
  const retried = <T>(what: string, read: () => Promise<T>) =>
    withRetry(`${service}: ${what}`, read, { log: req.log, onUnauthorized: () => tokenRefused(kc) });
  let pods: V1Pod[];
  let replicas: number;
  try {
    const [listed, deployment] = await Promise.all([
      retried(`listing the pods of ${service}`, () =>
        core.listNamespacedPod({ namespace, labelSelector: `app=${service}` }),
      ),
      orMissing(req, `Deployment ${service}`, () =>
        apps.readNamespacedDeployment({ name: service, namespace }),
      ),
    ]);
    pods = listed.items;
    replicas = deployment?.spec?.replicas ?? pods.length;
  } catch (err) {
    return notChecked(req, `the pods of ${service}`, err);
  }
  // Nodes are cluster-scoped: a namespace-scoped deploy role may not list them.
  let nodes: V1Node[];
  try {
    const list = () => retried('listing nodes', () => core.listNode()).then((l) => l.items);
    nodes = await (req.nodes ? req.nodes(pods, list) : list());
  } catch (err) {
    return notChecked(req, 'nodes', err);
  }
  return judgeSpread(pods, nodes, replicas, { strict: req.strict });
}

/**
 * The nodes, listed once for a run's verifications instead of once per service; listed
 * again when a pod runs on a node the list does not have (a node added since) or the
 * list is older than `maxAgeMs`.
 */
export function sharedNodes(maxAgeMs = 30_000): NodeSource {
  let cached: { at: number; nodes: Promise<V1Node[]> } | undefined;
  return async (pods, list) => {
    if (cached && Date.now() - cached.at <= maxAgeMs) {
      const nodes = await cached.nodes.catch(() => undefined);
      const known = new Set(nodes?.map((n) => n.metadata?.name));
      if (nodes && pods.every((p) => !p.spec?.nodeName || known.has(p.spec.nodeName))) return nodes;
    }
    const at = Date.now();
    cached = { at, nodes: list() };
    return cached.nodes;
  };
}
