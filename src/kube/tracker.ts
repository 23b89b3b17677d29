/**
 * One rollout tracker for every release of a run. It keeps one watch per kind
 * (Deployments, ReplicaSets, Pods, Events) for the namespace, shared by all services,
 * and one of HPAs for the HPA checks (hpa-sightings.ts; optional, not needed to judge a rollout),
 * and judges each tracked service with the rules in rules.ts whenever an object
 * changes (and once a second, for the rules that depend on elapsed time).
 *
 *   helm upgrade --install (no --wait)  ->  tracker.track(...)  ->  ready | failed (+ why)
 */
import {
  AppsV1Api,
  AutoscalingV2Api,
  CoreV1Api,
  makeInformer,
  type CoreV1Event,
  type CoreV1EventList,
  type Informer,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  type ObjectCache,
  type V1Deployment,
  type V1Pod,
  type V1ReplicaSet,
  type V2HorizontalPodAutoscaler,
} from '@kubernetes/client-node';
import { preflightError } from '../errors.js';
import { formatSeconds } from '../report/duration.js';
import { withRetry } from './retry.js';
import type { Output } from '../report/output.js';
import { apiErrorMessage, httpStatusOf, tokenRefused } from './client.js';
import { collectDiagnostics, type Diagnostics } from './diagnostics.js';
import { ProgressLines, type Progress } from './progress.js';
import { judgeRollout, podsOf, replicaSetsOf, type Judgement, type ReasonCode } from './rollout-rules.js';
import { containerStatuses } from './objects.js';
import { HpaSightings } from './hpa-sightings.js';

export type { Progress } from './progress.js';
export type { ReasonCode } from './rollout-rules.js';
export type { Diagnostics } from './diagnostics.js';

export interface TrackerOptions {
  /** Loaded once per run and shared, so its token is fetched once. */
  kubeconfig: KubeConfig;
  namespace: string;
  out: Output;
  now?: () => number;
}

export interface TrackRequest {
  service: string;
  /** Deployment name (the release name in our chart). */
  deployment: string;
  timeoutSeconds: number;
  /** When the upgrade started: elapsed times and events count from here. */
  since: Date;
  /** Every change of phase, counts or reason; without it the tracker prints lines to `out`. */
  onProgress?: (p: Progress) => void;
  /** The HPA's minReplicas, when an HPA owns the replica count (see RuleContext). */
  minReplicas?: number;
}

export interface RolloutOutcome {
  service: string;
  verdict: 'ready' | 'failed';
  reason: ReasonCode;
  message: string;
  timeToReadyMs?: number;
  diagnostics?: Diagnostics;
}

/** Re-judge at least this often: grace windows and timeouts pass without any object changing. */
const TICK_MS = 1_000;
const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 10_000;

/**
 * A list+watch of one kind in the namespace (client-node's ListWatch, which re-lists
 * on 410 Gone by itself). ListWatch stops on any other error; this restarts it with
 * backoff, resuming from the last resourceVersion. From the error until the watch is
 * back, its cache is stale: `downSince` says so, and no verdict is drawn from it.
 */
class NamespaceWatch<T extends KubernetesObject> {
  private readonly informer: Informer<T> & ObjectCache<T>;
  private stopped = false;
  private cancelled = false;
  private retryMs = RETRY_MIN_MS;
  private retryTimer?: NodeJS.Timeout;
  private firstError?: unknown;
  private started = false;
  /** Bumped by every error: a restart that saw none since it began has the watch back. */
  private errors = 0;
  downSince?: number;

  constructor(
    private readonly kc: KubeConfig,
    readonly kind: string,
    path: string,
    list: () => Promise<KubernetesListObject<T>>,
    private readonly out: Output,
    onChange: (obj: T) => void,
    private readonly onRecovered: () => void,
    private readonly onDown?: () => void,
  ) {
    this.informer = makeInformer(kc, path, list);
    this.informer.on('change', onChange);
    this.informer.on('connect', () => {
      if (this.started) this.retryMs = RETRY_MIN_MS;
    });
    this.informer.on('error', (err) => this.onError(err));
  }

  /** The first list+watch, retried like any read when it fails for a moment (429, 5xx, a reset). */
  async start(): Promise<void> {
    await withRetry(
      `watch of ${this.kind}`,
      async () => {
        this.firstError = undefined;
        await this.informer.start();
        // ListWatch reports a failed first list through the error callback, not by throwing.
        if (this.firstError !== undefined) throw this.firstError;
      },
      // No limit per attempt: a second start while the first still hangs would race it.
      { log: (m) => this.out.info(m), attemptTimeoutMs: 2 ** 31 - 1 },
    );
    this.started = true;
  }

  list(): readonly T[] {
    return this.informer.list();
  }

  get(name: string, namespace: string): T | undefined {
    return this.informer.get(name, namespace);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    await this.informer.stop();
  }

  private onError(err: unknown) {
    if (this.stopped) return; // stopping aborts the request, which reports an error
    if (!this.started) {
      this.firstError ??= err;
      return;
    }
    this.errors += 1;
    this.downSince ??= Date.now();
    this.onDown?.();
    // The next attempt authenticates afresh: a refused (expired) token is not sent again.
    if (httpStatusOf(err) === 401) tokenRefused(this.kc);
    this.out.warn(
      `watch of ${this.kind} interrupted (${apiErrorMessage(err)}); resuming in ${this.retryMs} ms`,
    );
    this.retryTimer = setTimeout(() => void this.restart(), this.retryMs);
    this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
  }

  private async restart() {
    if (this.stopped) return;
    const errors = this.errors;
    await this.informer.start();
    if (this.stopped || this.errors !== errors || this.downSince === undefined) return;
    this.out.info(`watch of ${this.kind} resumed after ${formatSeconds(Date.now() - this.downSince)}`);
    this.downSince = undefined;
    this.onRecovered();
  }
}

interface Tracking {
  req: TrackRequest;
  since: number;
  deadline: number;
  /** Undefined until the read after the upgrade says which generation to wait for. */
  minGeneration?: number;
  lastKey?: string;
  last?: Progress;
  settled: boolean;
  resolve: (o: RolloutOutcome) => void;
}

export class RolloutTracker {
  private readonly tracks = new Set<Tracking>();
  /** `<pod uid>/<container>` -> resourceVersions that showed ErrImagePull. */
  private readonly errImagePull = new Map<string, Set<string>>();
  private readonly lines = new ProgressLines();
  private ticker?: NodeJS.Timeout;
  private scheduled = false;
  private dirty = new Set<string>();
  private dirtyAll = false;
  private stopped = false;
  private cancelled = false;

  private constructor(
    private readonly opts: Required<Pick<TrackerOptions, 'namespace' | 'out' | 'now'>> & TrackerOptions,
    private readonly apps: AppsV1Api,
    private readonly core: CoreV1Api,
    private readonly deployments: NamespaceWatch<V1Deployment>,
    private readonly replicaSets: NamespaceWatch<V1ReplicaSet>,
    private readonly pods: NamespaceWatch<V1Pod>,
    private readonly events: NamespaceWatch<CoreV1Event>,
    /** Absent when the HPAs cannot be watched (the deploy identity may not list them). */
    private readonly hpas?: { watch: NamespaceWatch<V2HorizontalPodAutoscaler>; sightings: HpaSightings },
  ) {}

  /** Lists and starts watching the namespace; fails with a DeployError when it may not. */
  static async start(options: TrackerOptions): Promise<RolloutTracker> {
    const opts = { ...options, now: options.now ?? Date.now };
    const { namespace, out } = opts;
    const kc = opts.kubeconfig;
    const apps = kc.makeApiClient(AppsV1Api);
    const core = kc.makeApiClient(CoreV1Api);
    // The watches exist before the tracker they report to; events before then need no judging.
    const ref: { tracker?: RolloutTracker } = {};
    // Each event marks the one Deployment it belongs to; undefined (a watch back, an owner not known) marks all.
    const changed = (deployment?: string) => ref.tracker?.schedule(deployment);
    const all = () => changed();
    const ns = encodeURIComponent(namespace);
    const watches = {
      deployments: new NamespaceWatch<V1Deployment>(
        kc,
        'deployments',
        `/apis/apps/v1/namespaces/${ns}/deployments`,
        () => apps.listNamespacedDeployment({ namespace }),
        out,
        (d) => changed(d.metadata?.name),
        all,
      ),
      replicaSets: new NamespaceWatch<V1ReplicaSet>(
        kc,
        'replicasets',
        `/apis/apps/v1/namespaces/${ns}/replicasets`,
        () => apps.listNamespacedReplicaSet({ namespace }),
        out,
        (rs) => changed(ownerName(rs, 'Deployment')),
        all,
      ),
      pods: new NamespaceWatch<V1Pod>(
        kc,
        'pods',
        `/api/v1/namespaces/${ns}/pods`,
        () => core.listNamespacedPod({ namespace }),
        out,
        (pod) => {
          ref.tracker?.notePod(pod);
          changed(ref.tracker?.deploymentOf(pod));
        },
        all,
      ),
      events: new NamespaceWatch<CoreV1Event>(
        kc,
        'events',
        `/api/v1/namespaces/${ns}/events`,
        // What it holds, kept: a re-list after a 410 must not drop the events seen so far.
        (): Promise<CoreV1EventList> => eventsFromNow(core, namespace, watches.events.list()),
        out,
        () => {},
        all,
      ),
    };
    const { hpas, sightings } = watchHpas(kc, namespace, out);
    const started = Object.values(watches);
    const [results, hpaStart] = await Promise.all([
      Promise.allSettled(started.map((w) => w.start())),
      hpas.start().then(
        () => sightings.listed(),
        (err: unknown) => err,
      ),
    ]);
    const hpaWatch = hpaStart === undefined ? hpas : undefined;
    if (!hpaWatch) {
      await hpas.stop();
      // Not needed for a rollout: the HPA checks then take the controller's word as they find it.
      out.info(
        `not watching horizontalpodautoscalers in ${namespace} (${apiErrorMessage(hpaStart)}): the HPA checks read each HPA after its rollout`,
      );
    }
    const failed = results.findIndex((r) => r.status === 'rejected');
    if (failed >= 0) {
      await Promise.all([...started, ...(hpaWatch ? [hpaWatch] : [])].map((w) => w.stop()));
      const err = (results[failed] as PromiseRejectedResult).reason;
      const status = httpStatusOf(err);
      throw preflightError(
        `cannot watch ${started[failed]!.kind} in namespace ${namespace}: ${apiErrorMessage(err)}`,
        {
          hint:
            status === 401 || status === 403
              ? `the deploy identity needs get, list and watch on deployments, replicasets, pods and events in ${namespace}`
              : 'check that the cluster is reachable with this kubeconfig and that the namespace exists',
          cause: err,
        },
      );
    }
    ref.tracker = new RolloutTracker(
      opts,
      apps,
      core,
      watches.deployments,
      watches.replicaSets,
      watches.pods,
      watches.events,
      hpaWatch && { watch: hpaWatch, sightings },
    );
    return ref.tracker;
  }

  /** Resolves once the service is rolled out, has failed, or its timeout passed; never rejects. */
  track(req: TrackRequest): Promise<RolloutOutcome> {
    return new Promise((resolve) => {
      const since = req.since.getTime();
      const t: Tracking = {
        req,
        since,
        deadline: since + req.timeoutSeconds * 1000,
        settled: false,
        resolve,
      };
      if (this.stopped) return this.settle(t, this.stoppedOutcome(req));
      this.tracks.add(t);
      this.ticker ??= setInterval(() => this.evaluateAll(), TICK_MS);
      void this.readGeneration(t);
    });
  }

  /** Stops watching; a rollout still tracked ends as stopped (or, with `cancelled`, as Cancelled). */
  async stop(cancelled = false): Promise<void> {
    this.stopped = true;
    this.cancelled ||= cancelled;
    clearInterval(this.ticker);
    for (const t of this.tracks) this.settle(t, this.stoppedOutcome(t.req));
    await Promise.all([...this.watches(), ...(this.hpas ? [this.hpas.watch] : [])].map((w) => w.stop()));
  }

  /**
   * The HPA as last seen computing replicas from metrics at the spec it has now, if the
   * watch saw that at or after `since` (ms; the moment its release was applied).
   */
  hpaSeenActive(name: string, since: number): V2HorizontalPodAutoscaler | undefined {
    return this.hpas?.sightings.activeSince(name, since);
  }

  /** The watches a rollout is judged from (the HPA watch is not one of them). */
  private watches() {
    return [this.deployments, this.replicaSets, this.pods, this.events];
  }

  /**
   * The upgrade has returned, so a fresh read shows the generation it produced; the
   * watch cache may not have it yet, and its older spec is often fully rolled out.
   */
  private async readGeneration(t: Tracking) {
    const { namespace, out } = this.opts;
    const name = t.req.deployment;
    try {
      const d = await withRetry(
        `${t.req.service}: reading Deployment ${name}`,
        () => this.apps.readNamespacedDeployment({ name, namespace }),
        { log: (m) => out.info(m), onUnauthorized: () => tokenRefused(this.opts.kubeconfig) },
      );
      t.minGeneration = d.metadata?.generation ?? 0;
    } catch (err) {
      if (httpStatusOf(err) !== 404) {
        // Without the generation the upgrade produced, the cache's older (rolled-out)
        // spec would pass for this rollout: say we could not see it, never "ready".
        return this.settle(t, {
          service: t.req.service,
          verdict: 'failed',
          reason: 'StatusUnknown',
          message: `could not read Deployment ${name} after the upgrade (${apiErrorMessage(err)}), so its rollout could not be judged`,
        });
      }
      // Not there yet: whatever appears later is the one the upgrade created.
      t.minGeneration = 0;
    }
    this.evaluate(t);
  }

  private notePod(pod: V1Pod) {
    for (const s of containerStatuses(pod)) {
      if (s.state?.waiting?.reason !== 'ErrImagePull') continue;
      const key = `${pod.metadata?.uid}/${s.name}`;
      const seen = this.errImagePull.get(key) ?? new Set<string>();
      seen.add(pod.metadata?.resourceVersion ?? '');
      this.errImagePull.set(key, seen);
    }
  }

  /** The Deployment a pod belongs to (through its ReplicaSet); undefined while that is not known. */
  private deploymentOf(pod: V1Pod): string | undefined {
    const rs = ownerName(pod, 'ReplicaSet');
    const owner = rs && this.replicaSets.get(rs, this.opts.namespace);
    return owner ? ownerName(owner, 'Deployment') : undefined;
  }

  /**
   * Coalesces a burst of watch events into one evaluation of the rollouts they touch: an event
   * judges the one Deployment it belongs to, not every tracked one (a 30-service rollout brings
   * hundreds of events, each judged against every pod and ReplicaSet of the namespace). The 1 s
   * tick still judges them all.
   */
  private schedule(deployment?: string) {
    if (!this.tracks.size) return;
    if (deployment === undefined) this.dirtyAll = true;
    else this.dirty.add(deployment);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      const [all, dirty] = [this.dirtyAll, this.dirty];
      this.dirtyAll = false;
      this.dirty = new Set();
      for (const t of this.tracks) if (all || dirty.has(t.req.deployment)) this.evaluate(t);
    });
  }

  private evaluateAll() {
    for (const t of this.tracks) this.evaluate(t);
  }

  private judge(t: Tracking): Judgement {
    const { namespace, now } = this.opts;
    return judgeRollout(
      {
        deployment: this.deployments.get(t.req.deployment, namespace),
        replicaSets: this.replicaSets.list(),
        pods: this.pods.list(),
      },
      {
        now: now(),
        minGeneration: t.minGeneration,
        minReplicas: t.req.minReplicas,
        errImagePullSeen: (key) => this.errImagePull.get(key)?.size ?? 0,
      },
    );
  }

  private evaluate(t: Tracking) {
    if (t.settled || t.minGeneration === undefined) return;
    const now = this.opts.now();
    const lost = this.watches().find((w) => w.downSince !== undefined);
    if (lost) {
      // A stale cache proves nothing either way; wait for the watch, up to the timeout.
      if (now < t.deadline) return;
      return this.settle(t, {
        service: t.req.service,
        verdict: 'failed',
        reason: 'StatusUnknown',
        message: `not seen ready within ${t.req.timeoutSeconds}s: the watch of ${lost.kind} has been down for ${formatSeconds(now - lost.downSince!)}, so the rollout's state is unknown`,
      });
    }
    const j = this.judge(t);
    const timedOut = j.phase !== 'ready' && j.phase !== 'failed' && now >= t.deadline;
    const reason = j.failure?.reason ?? (timedOut ? 'Timeout' : undefined);
    this.report(t, {
      service: t.req.service,
      phase: timedOut ? 'failed' : j.phase,
      ...j.counts,
      reason,
      elapsedMs: now - t.since,
    });
    if (j.phase === 'ready') {
      this.settle(t, {
        service: t.req.service,
        verdict: 'ready',
        reason: 'Ready',
        message: `${j.counts.ready}/${j.counts.desired} ready in ${formatSeconds(now - t.since)}`,
        timeToReadyMs: now - t.since,
      });
    } else if (j.failure || timedOut) {
      const message = j.failure
        ? j.message
        : `not ready after ${t.req.timeoutSeconds}s: ${j.counts.ready}/${j.counts.desired} ready, ` +
          `${j.counts.updated}/${j.counts.desired} updated, ${j.counts.available} available (${j.message})`;
      t.settled = true;
      void this.diagnose(t, j, reason!, message).then((diagnostics) =>
        this.settle(t, { service: t.req.service, verdict: 'failed', reason: reason!, message, diagnostics }),
      );
    }
  }

  private report(t: Tracking, p: Progress) {
    const key = JSON.stringify({ ...p, elapsedMs: undefined });
    if (key === t.lastKey) return;
    t.lastKey = key;
    t.last = p;
    if (t.req.onProgress) t.req.onProgress(p);
    else {
      const line = this.lines.next(p);
      if (line) this.opts.out.info(line);
    }
  }

  /** The evidence, read before the caller rolls anything back. */
  private async diagnose(
    t: Tracking,
    j: Judgement,
    reason: ReasonCode,
    message: string,
  ): Promise<Diagnostics> {
    const { namespace } = this.opts;
    const f = j.failure;
    let pod = f?.pod ? this.pods.get(f.pod, namespace) : undefined;
    let container = f?.container;
    if (!f) [pod, container] = this.firstUnreadyPod(t);
    const involved = [
      { kind: 'Deployment', name: t.req.deployment },
      ...(f?.replicaSet ? [{ kind: 'ReplicaSet', name: f.replicaSet }] : []),
    ];
    try {
      return await collectDiagnostics({
        core: this.core,
        namespace,
        reason,
        message,
        pod,
        container,
        events: this.events.list(),
        involved,
        since: t.since,
      });
    } catch (err) {
      return { reason, message, events: [], logs: { unavailable: apiErrorMessage(err) } };
    }
  }

  /** For a timeout: the first pod of the new ReplicaSet that is not ready, and its first unready container. */
  private firstUnreadyPod(t: Tracking): [V1Pod | undefined, string | undefined] {
    const d = this.deployments.get(t.req.deployment, this.opts.namespace);
    const current = d && replicaSetsOf(d, this.replicaSets.list()).current;
    if (!current) return [undefined, undefined];
    for (const pod of podsOf(current, this.pods.list())) {
      const unready = pod.status?.containerStatuses?.find((s) => !s.ready);
      if (unready || !pod.status?.containerStatuses?.length) return [pod, unready?.name];
    }
    return [undefined, undefined];
  }

  private settle(t: Tracking, outcome: RolloutOutcome) {
    t.settled = true;
    this.tracks.delete(t);
    if (!this.tracks.size) {
      clearInterval(this.ticker);
      this.ticker = undefined;
    }
    t.resolve(outcome);
  }

  private stoppedOutcome(req: TrackRequest): RolloutOutcome {
    return this.cancelled
      ? {
          service: req.service,
          verdict: 'failed',
          reason: 'Cancelled',
          message: 'the run was cancelled during the rollout',
        }
      : {
          service: req.service,
          verdict: 'failed',
          reason: 'Timeout',
          message: 'the tracker was stopped before the rollout finished',
        };
  }
}

/** The name of the object's owner of that kind (a ReplicaSet's Deployment, a pod's ReplicaSet). */
function ownerName(
  o: { metadata?: { ownerReferences?: { kind: string; name: string }[] } },
  kind: string,
): string | undefined {
  return o.metadata?.ownerReferences?.find((r) => r.kind === kind)?.name;
}

/** The namespace's HPAs, for what the HPA checks may take from the rollout (see hpa-sightings.ts). */
/**
 * The events watch starts at the namespace's current resourceVersion with an empty cache:
 * diagnostics only count events of the rollout's own time (from the upgrade's start), and an
 * older event that recurs arrives as a change. A busy namespace keeps an hour of events
 * (hundreds to thousands); listing them would cost every run a large read and its parsing
 * before the first upgrade, for nothing. `limit=1` returns the collection's resourceVersion
 * with at most one item, dropped. After a 410 (the watch fell too far behind) the re-list does
 * the same and keeps what the cache holds (`kept`): events of that gap are missed, the rollout's
 * state is not (the other watches re-list in full).
 */
async function eventsFromNow(
  core: CoreV1Api,
  namespace: string,
  kept: readonly CoreV1Event[],
): Promise<CoreV1EventList> {
  const list = await core.listNamespacedEvent({ namespace, limit: 1 });
  return { ...list, items: [...kept] };
}

function watchHpas(kc: KubeConfig, namespace: string, out: Output) {
  const api = kc.makeApiClient(AutoscalingV2Api);
  const sightings = new HpaSightings();
  const hpas = new NamespaceWatch<V2HorizontalPodAutoscaler>(
    kc,
    'horizontalpodautoscalers',
    `/apis/autoscaling/v2/namespaces/${encodeURIComponent(namespace)}/horizontalpodautoscalers`,
    () => api.listNamespacedHorizontalPodAutoscaler({ namespace }),
    out,
    (hpa) => sightings.changed(hpa),
    () => sightings.up(),
    () => sightings.down(),
  );
  return { hpas, sightings };
}
