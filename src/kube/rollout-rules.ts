/**
 * Rollout rules: pure functions over Kubernetes object states, so
 * every verdict can be tested on recorded objects (see __tests__/kube/fixtures).
 *
 * "Done" follows kubectl's DeploymentStatusViewer and cli-utils kstatus: the controller
 * has observed the current spec, every desired replica is updated, ready and available,
 * and no replica of an older ReplicaSet is left. The same state is also read from the
 * pods themselves, before the controllers have summed it up in the Deployment's status
 * (`rolledOutOnPods`). "Failed" follows kubedog: a pod of the
 * new ReplicaSet that cannot start fails the rollout now, not at the timeout.
 */
import type {
  V1Container,
  V1Deployment,
  V1DeploymentCondition,
  V1Pod,
  V1Probe,
  V1ReplicaSet,
} from '@kubernetes/client-node';
import {
  condition,
  containerStatuses,
  DEFAULT_PROGRESS_DEADLINE_SECONDS,
  isPodReady,
  toMillis,
} from './objects.js';

export type ReasonCode =
  | 'Ready'
  | 'ImagePullBackOff'
  | 'ErrImagePull'
  | 'InvalidImageName'
  | 'CreateContainerConfigError'
  | 'CrashLoopBackOff'
  | 'ReplicaFailure'
  | 'ProgressDeadlineExceeded'
  | 'Unschedulable'
  | 'ReadinessProbeFailing'
  | 'Timeout'
  /** The tool could not see the rollout's state (API server unreachable): never judged ready. */
  | 'StatusUnknown'
  /** The run was cancelled (SIGINT/SIGTERM) while the rollout was being watched. */
  | 'Cancelled';

export type Phase = 'waiting' | 'progressing' | 'ready' | 'failed';

interface Counts {
  desired: number;
  updated: number;
  ready: number;
  available: number;
}

/** Why a rollout cannot succeed, and where: the pod and container when one is to blame. */
export interface Failure {
  reason: Exclude<ReasonCode, 'Ready' | 'Timeout'>;
  message: string;
  pod?: string;
  container?: string;
  /** The ReplicaSet the failing pods belong to (for events). */
  replicaSet?: string;
}

export interface Judgement {
  phase: Phase;
  counts: Counts;
  /** What the rollout is waiting for, or why it is done or failed, in kubectl's words. */
  message: string;
  failure?: Failure;
}

export interface RolloutObjects {
  /** Undefined while the Deployment does not exist (yet). */
  deployment?: V1Deployment;
  /** ReplicaSets of the namespace; the ones the Deployment does not own are ignored. */
  replicaSets: readonly V1ReplicaSet[];
  /** Pods of the namespace; only pods of the new ReplicaSet are judged. */
  pods: readonly V1Pod[];
}

export interface RuleContext {
  now: number;
  /**
   * The Deployment generation the upgrade produced (read right after it). A watch
   * cache can still hold the previous, fully rolled-out spec for a moment; judging
   * that would report "ready" for a rollout that has not started.
   */
  minGeneration?: number;
  /** How many distinct pod updates showed ErrImagePull for `<pod uid>/<container>`. */
  errImagePullSeen?: (key: string) => number;
  /**
   * The HPA's minReplicas. A chart leaves `replicas` out while an HPA owns it, so a
   * first install starts at the API default of 1 until the HPA scales it up: the
   * rollout is not done before then.
   */
  minReplicas?: number;
}

/** How long a pod may stay Unschedulable: room for a cluster autoscaler to add a node. */
const UNSCHEDULABLE_GRACE_MS = 30_000;
/** A container that crashed this often has shown it is not a fluke. */
const CRASHLOOP_RESTARTS = 2;

const REVISION = 'deployment.kubernetes.io/revision';

function isOwnedBy(
  obj: { metadata?: { ownerReferences?: { uid: string; controller?: boolean }[] } },
  uid?: string,
) {
  return !!uid && !!obj.metadata?.ownerReferences?.some((o) => o.uid === uid && o.controller !== false);
}

function countsOf(d: V1Deployment | undefined): Counts {
  return {
    // Without a Deployment there is nothing desired yet (not the API default of 1).
    desired: d ? (d.spec?.replicas ?? 1) : 0,
    updated: d?.status?.updatedReplicas ?? 0,
    ready: d?.status?.readyReplicas ?? 0,
    available: d?.status?.availableReplicas ?? 0,
  };
}

/** The controller has acted on the Deployment's current spec (and the upgrade's, if known). */
function isObserved(d: V1Deployment, minGeneration = 0): boolean {
  const generation = d.metadata?.generation ?? 0;
  return generation >= minGeneration && (d.status?.observedGeneration ?? 0) >= generation;
}

/** ReplicaSets the Deployment controls, split into the one of its current revision and the rest. */
export function replicaSetsOf(
  d: V1Deployment,
  all: readonly V1ReplicaSet[],
): { current?: V1ReplicaSet; old: V1ReplicaSet[] } {
  const owned = all.filter((rs) => isOwnedBy(rs, d.metadata?.uid));
  const revision = d.metadata?.annotations?.[REVISION];
  const current = revision
    ? owned.find((rs) => rs.metadata?.annotations?.[REVISION] === revision)
    : undefined;
  return { current, old: owned.filter((rs) => rs !== current) };
}

/** Pods of one ReplicaSet: owned by it, or (while owner references are not set yet) carrying its template hash. */
export function podsOf(rs: V1ReplicaSet, pods: readonly V1Pod[]): V1Pod[] {
  const hash = rs.metadata?.labels?.['pod-template-hash'];
  return pods.filter(
    (p) =>
      !p.metadata?.deletionTimestamp &&
      (isOwnedBy(p, rs.metadata?.uid) ||
        (!p.metadata?.ownerReferences?.length &&
          !!hash &&
          p.metadata?.labels?.['pod-template-hash'] === hash)),
  );
}

/**
 * The "rolled out" rule. Returns undefined when done, else what is still missing.
 * Stricter than kubectl (which accepts available ≥ updated): ready and available must
 * both reach the desired count and the Available condition must be True, as kstatus asks.
 */
function pendingRollout(d: V1Deployment, old: readonly V1ReplicaSet[]): string | undefined {
  const c = countsOf(d);
  const total = d.status?.replicas ?? 0;
  if (c.updated < c.desired) return `${c.updated} of ${c.desired} new replicas updated`;
  const oldLeft = old.reduce((n, rs) => n + (rs.status?.replicas ?? 0), 0);
  if (total > c.updated || oldLeft > 0) {
    return `${Math.max(total - c.updated, oldLeft)} old replicas pending termination`;
  }
  if (c.ready < c.desired) return `${c.ready} of ${c.desired} updated replicas ready`;
  if (c.available < c.desired) return `${c.available} of ${c.desired} updated replicas available`;
  const available = condition(d.status?.conditions, 'Available');
  if (available?.status !== 'True') return `Available condition is ${available?.status ?? 'missing'}`;
  return undefined;
}

/**
 * The "rolled out" state read from the pods, as soon as it holds: every desired replica is
 * a pod of the current ReplicaSet that the kubelet reports Ready, the older ReplicaSets are
 * scaled to 0, and each of their pods this watch has seen is terminating or gone. The
 * Deployment's status says the same only after two more controller writes (the old
 * ReplicaSet's count, then the Deployment's), 0.3–1.4 s later on a busy control plane.
 * An older ReplicaSet at 0 creates no pod, and its controller deletes any it made before,
 * so what is left to happen is teardown only. Not used with minReadySeconds (availability
 * then lags readiness; the status path judges it).
 */
function rolledOutOnPods(
  d: V1Deployment,
  current: V1ReplicaSet | undefined,
  newPods: readonly V1Pod[],
  old: readonly V1ReplicaSet[],
  pods: readonly V1Pod[],
  desired: number,
): boolean {
  if (!current || (d.spec?.minReadySeconds ?? 0) > 0) return false;
  if ((current.spec?.replicas ?? 0) !== desired) return false;
  if (newPods.length !== desired || !newPods.every(isPodReady)) return false;
  return old.every(
    (rs) =>
      (rs.spec?.replicas ?? 0) === 0 &&
      pods.every((p) => !isOwnedBy(p, rs.metadata?.uid) || !!p.metadata?.deletionTimestamp),
  );
}

/** ProgressDeadlineExceeded or ReplicaFailure reported on the Deployment itself. */
function deploymentFailure(d: V1Deployment): Failure | undefined {
  const conditions: V1DeploymentCondition[] = d.status?.conditions ?? [];
  const replicaFailure = condition(conditions, 'ReplicaFailure');
  if (replicaFailure?.status === 'True') {
    return { reason: 'ReplicaFailure', message: `${replicaFailure.reason}: ${replicaFailure.message}` };
  }
  const progressing = condition(conditions, 'Progressing');
  if (progressing?.status === 'False' && progressing.reason === 'ProgressDeadlineExceeded') {
    return {
      reason: 'ProgressDeadlineExceeded',
      message: `${progressing.message} (progressDeadlineSeconds ${d.spec?.progressDeadlineSeconds ?? DEFAULT_PROGRESS_DEADLINE_SECONDS})`,
    };
  }
  return undefined;
}

/** ReplicaFailure on the new ReplicaSet: pods could not even be created (quota, admission). */
function replicaSetFailure(rs: V1ReplicaSet): Failure | undefined {
  const c = condition(rs.status?.conditions, 'ReplicaFailure');
  if (c?.status !== 'True') return undefined;
  return { reason: 'ReplicaFailure', message: `${c.reason}: ${c.message}`, replicaSet: rs.metadata?.name };
}

const IMMEDIATE = new Set(['ImagePullBackOff', 'InvalidImageName', 'CreateContainerConfigError']);

/**
 * A container of a new pod stuck where waiting cannot help. Small error budgets where
 * a retry may succeed: ErrImagePull must be seen twice (or on two pods), CrashLoopBackOff
 * needs two restarts (or two crashing pods).
 */
export function podFailure(pods: readonly V1Pod[], ctx: RuleContext): Failure | undefined {
  const waiting = pods.flatMap((p) =>
    containerStatuses(p)
      .filter((s) => s.state?.waiting?.reason)
      .map((s) => ({ pod: p, status: s, reason: s.state!.waiting!.reason! })),
  );
  const podsIn = (reason: string) =>
    new Set(waiting.filter((w) => w.reason === reason).map((w) => w.pod)).size;
  const fail = (w: (typeof waiting)[number], why: string): Failure => ({
    reason: w.reason as Failure['reason'],
    message: `pod ${w.pod.metadata?.name} container ${w.status.name}: ${w.reason}: ${
      w.status.state?.waiting?.message ?? w.reason
    }${why}`,
    pod: w.pod.metadata?.name,
    container: w.status.name,
  });
  for (const w of waiting) {
    if (IMMEDIATE.has(w.reason)) return fail(w, '');
    if (w.reason === 'ErrImagePull') {
      const seen = ctx.errImagePullSeen?.(`${w.pod.metadata?.uid}/${w.status.name}`) ?? 1;
      if (seen >= 2 || podsIn('ErrImagePull') > 1) return fail(w, '');
    }
    if (w.reason === 'CrashLoopBackOff') {
      if (w.status.restartCount >= CRASHLOOP_RESTARTS || podsIn('CrashLoopBackOff') > 1) {
        return fail(w, ` (restarted ${w.status.restartCount} times)`);
      }
    }
  }
  return undefined;
}

/** A pod the scheduler could not place for longer than the grace (no node fits, none was added). */
export function unschedulablePod(pods: readonly V1Pod[], ctx: RuleContext): Failure | undefined {
  const grace = UNSCHEDULABLE_GRACE_MS;
  for (const p of pods) {
    const c = condition(p.status?.conditions, 'PodScheduled');
    if (c?.status !== 'False' || c.reason !== 'Unschedulable') continue;
    const since = toMillis(c.lastTransitionTime) ?? toMillis(p.metadata?.creationTimestamp) ?? ctx.now;
    if (ctx.now - since < grace) continue;
    return {
      reason: 'Unschedulable',
      message: `pod ${p.metadata?.name} unschedulable for ${Math.round((ctx.now - since) / 1000)}s: ${c.message}`,
      pod: p.metadata?.name,
    };
  }
  return undefined;
}

/**
 * How long a running container may stay unready before its probes have had their
 * full chance: the startup probe's budget (readiness is not probed before it passes),
 * then initialDelaySeconds + periodSeconds × failureThreshold of the readiness probe.
 */
export function readinessGraceMs(c: V1Container): number | undefined {
  const p = c.readinessProbe;
  if (!p) return undefined;
  const budget = (probe: V1Probe | undefined) =>
    probe
      ? (probe.initialDelaySeconds ?? 0) + (probe.periodSeconds ?? 10) * (probe.failureThreshold ?? 3)
      : 0;
  return (budget(c.startupProbe) + budget(p)) * 1000;
}

export function readinessFailure(pods: readonly V1Pod[], ctx: RuleContext): Failure | undefined {
  for (const p of pods) {
    for (const s of p.status?.containerStatuses ?? []) {
      const startedAt = toMillis(s.state?.running?.startedAt);
      if (startedAt === undefined || s.ready || s.started === false) continue;
      const spec = p.spec?.containers.find((c) => c.name === s.name);
      const grace = spec && readinessGraceMs(spec);
      if (grace === undefined || ctx.now - startedAt <= grace) continue;
      const probe = spec!.readinessProbe!;
      return {
        reason: 'ReadinessProbeFailing',
        message:
          `pod ${p.metadata?.name} container ${s.name} running for ${Math.round((ctx.now - startedAt) / 1000)}s ` +
          `but not ready; its probes allow ${grace / 1000}s (readiness: initialDelaySeconds ${
            probe.initialDelaySeconds ?? 0
          } + failureThreshold ${probe.failureThreshold ?? 3} × periodSeconds ${probe.periodSeconds ?? 10}` +
          `${spec!.startupProbe ? ', plus the startup probe' : ''})`,
        pod: p.metadata?.name,
        container: s.name,
      };
    }
  }
  return undefined;
}

/** The whole verdict for one service at one moment. */
export function judgeRollout(objs: RolloutObjects, ctx: RuleContext): Judgement {
  const d = objs.deployment;
  const counts = countsOf(d);
  if (!d) return { phase: 'waiting', counts, message: 'waiting for the Deployment to appear' };
  if (!isObserved(d, ctx.minGeneration)) {
    return { phase: 'waiting', counts, message: 'waiting for the controller to observe the new spec' };
  }
  const { current, old } = replicaSetsOf(d, objs.replicaSets);
  const scaled = d.spec?.replicas ?? 1;
  const belowMin =
    ctx.minReplicas !== undefined && scaled < ctx.minReplicas
      ? `waiting for the HPA to scale from ${scaled} to its minimum of ${ctx.minReplicas} replicas`
      : undefined;
  if (belowMin) counts.desired = ctx.minReplicas!;
  const pending = belowMin ?? pendingRollout(d, old);
  if (!pending) return { phase: 'ready', counts, message: `${counts.ready}/${counts.desired} ready` };
  const newPods = current ? podsOf(current, objs.pods) : [];
  if (!belowMin && rolledOutOnPods(d, current, newPods, old, objs.pods, counts.desired)) {
    const seen = { ...counts, updated: counts.desired, ready: counts.desired, available: counts.desired };
    return {
      phase: 'ready',
      counts: seen,
      message: `${seen.ready}/${seen.desired} ready (seen on the pods)`,
    };
  }
  const failure =
    podFailure(newPods, ctx) ??
    (current && replicaSetFailure(current)) ??
    deploymentFailure(d) ??
    unschedulablePod(newPods, ctx) ??
    readinessFailure(newPods, ctx);
  if (failure) {
    return {
      phase: 'failed',
      counts,
      message: failure.message,
      failure: { ...failure, replicaSet: failure.replicaSet ?? current?.metadata?.name },
    };
  }
  return { phase: 'progressing', counts, message: pending };
}

/**
 * Why a release that would not change still cannot be left alone: its Deployment is
 * missing, not rolled out to its spec, or has fewer replicas available than it wants.
 * Undefined when it is healthy now (the rollout rules would call it ready).
 */
export function notHealthyNow(d: V1Deployment | undefined): string | undefined {
  if (!d) return 'its Deployment is missing';
  const counts = countsOf(d);
  if (!isObserved(d)) return 'its Deployment has a spec the controller has not acted on';
  if (counts.updated < counts.desired) return `${counts.updated}/${counts.desired} replicas updated`;
  if (counts.available < counts.desired) return `${counts.available}/${counts.desired} replicas available`;
  return undefined;
}

/** Preflight: a Deployment that reports ProgressDeadlineExceeded only after our timeout never gets to say it. */
export function progressDeadlineWarning(
  progressDeadlineSeconds: number | undefined,
  timeoutSeconds: number,
): string | undefined {
  const deadline = progressDeadlineSeconds ?? DEFAULT_PROGRESS_DEADLINE_SECONDS;
  if (deadline <= timeoutSeconds) return undefined;
  return (
    `progressDeadlineSeconds is ${deadline}s but the rollout timeout is ${timeoutSeconds}s: ` +
    `a stalled rollout ends as a timeout, not ProgressDeadlineExceeded; ` +
    `set progressDeadlineSeconds to at most ${timeoutSeconds} or raise the timeout`
  );
}
