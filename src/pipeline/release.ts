/**
 * `helm upgrade --install` per service, each as soon as what it `dependsOn` is ready,
 * parallel up to the concurrency limit. helm does not wait: the shared tracker
 * judges each rollout, so a pod that cannot start fails it at once and says why.
 */
import pLimit from 'p-limit';
import { DeployError } from '../errors.js';
import { isReleaseLocked } from '../helm/helm.js';
import { formatDiagnostics } from '../kube/diagnostics.js';
import { notHealthyNow } from '../kube/rollout-rules.js';
import { formatSeconds } from '../report/duration.js';
import type { Plan } from '../model.js';
import {
  imageName,
  settleAll,
  type RenderedService,
  type RunContext,
  type Session,
  type Tracker,
} from './context.js';
import { verifyReleased } from './verify.js';

/** Releases every wave, then stops the watches; a cancel stops them at once (rollouts end as Cancelled). */
export async function releaseInWaves(
  ctx: RunContext,
  plan: Plan,
  rendered: Map<string, RenderedService>,
  session: Session,
): Promise<void> {
  const { tracker } = session;
  if (!tracker) throw new Error('releaseInWaves needs the session of a deploy (with its tracker)');
  const stopWatching = () => void tracker.stop(true);
  ctx.signal.addEventListener('abort', stopWatching, { once: true });
  try {
    await releaseWaves(ctx, plan, rendered, { ...session, tracker });
  } finally {
    ctx.signal.removeEventListener('abort', stopWatching);
    await tracker.stop();
  }
}

/**
 * Each service starts as soon as the services it depends on are ready (not when its
 * whole wave is), within the concurrency limit. A slot is held from `helm upgrade` to
 * ready; the HPA/PDB/spread checks that follow run outside it, and the run waits for
 * them at the end. After a failure nothing new starts: what had not started is skipped.
 */
async function releaseWaves(
  ctx: RunContext,
  plan: Plan,
  rendered: Map<string, RenderedService>,
  session: Session & { tracker: Tracker },
): Promise<void> {
  const limit = pLimit(plan.request.concurrency);
  const ready = new Map<string, Promise<boolean>>();
  const checks: Promise<void>[] = [];
  const order = plan.waves.flat();
  const skip = (name: string, reason: string) => {
    ctx.results.update(name, { status: 'skipped', reason });
    ctx.out.info(`${name}: not started: ${reason}`);
    return false;
  };
  const release = async (name: string): Promise<boolean> => {
    // Its live release is the target, and healthy: nothing to start, nothing to wait for.
    if (unchanged(ctx, name)) {
      const sick = await notHealthy(session, name);
      if (!sick) {
        // Its HPA, PDB and spread are still checked; what fails there only warns (see verifyReleased).
        checks.push(verifyReleased(ctx, plan, rendered.get(name)!, session.verify, false));
        return leaveAlone(ctx, name);
      }
      ctx.out.info(`${name}: identical to its live release, but ${sick}: releasing it again`);
    }
    const { dependsOn } = rendered.get(name)!.svc;
    const deps = dependsOn.filter((d) => ready.has(d));
    const depsReady = await Promise.all(deps.map((d) => ready.get(d)!));
    if (ctx.signal.aborted) return false;
    const notReady = deps.find((_, i) => !depsReady[i]);
    if (notReady) return skip(name, `it depends on ${notReady}, which did not become ready`);
    return limit(async () => {
      // Queued behind the limit when the signal or a failure came: never started.
      if (ctx.signal.aborted) return false;
      const failed = ctx.results.failedServices()[0];
      if (failed) return skip(name, `${failed} failed`);
      const result = await releaseOne(ctx, plan, rendered.get(name)!, session);
      if (result.checks) checks.push(result.checks);
      return result.ready;
    });
  };
  const waves = plan.waves.map((w) => w.join(', ')).join(' → ');
  await ctx.out.group(`Releasing ${order.length} services (${waves})`, async () => {
    // In wave order, so every dependency's promise exists before its dependents ask for it.
    for (const name of order) ready.set(name, release(name));
    await settleAll([...ready.values()]);
    await settleAll(checks);
  });
}

/** Its target equals the live, healthy release (see src/pipeline/diff.ts); never true with --force, which skips the diff. */
function unchanged(ctx: RunContext, name: string): boolean {
  return ctx.results.get(name)?.change?.kind === 'unchanged';
}

/** Why an unchanged service is not healthy now (never "healthy" when its state cannot be read). */
async function notHealthy(session: Session, name: string): Promise<string | undefined> {
  try {
    return notHealthyNow((await session.live(name)).deployment);
  } catch (err) {
    return `its state could not be read (${err instanceof Error ? err.message : String(err)})`;
  }
}

/** No new revision for a service that would not change: it counts as ready for the services that depend on it. */
function leaveAlone(ctx: RunContext, name: string): true {
  const revision = ctx.results.get(name)!.change!.liveRevision;
  ctx.results.update(name, {
    status: 'unchanged',
    revision,
    message: `identical to the live revision ${revision}: not released (force to release it anyway)`,
  });
  ctx.out.info(`${name}: unchanged, revision ${revision} left as it is`);
  return true;
}

/** `ready` once its rollout is; `checks` (HPA, PDB, spread) go on after that, outside the release slot. */
async function releaseOne(
  ctx: RunContext,
  plan: Plan,
  service: RenderedService,
  session: Session & { tracker: Tracker },
): Promise<{ ready: boolean; checks?: Promise<void> }> {
  const { svc, image, params, expected } = service;
  const { results, out } = ctx;
  const started = new Date();
  const elapsed = () => Date.now() - started.getTime();
  const before = session.before.get(svc.name);
  out.info(
    `${svc.name}: ${before ? `upgrading from revision ${before.revision}` : 'installing'} to ${imageName(image)}`,
  );
  let revision: number | undefined;
  try {
    let warnings: string[];
    ({ revision, warnings } = await session.helm.upgrade({
      ...params,
      description: describeRelease(ctx, plan),
      serverValidatesFields: session.serverValidatesFields,
    }));
    for (const w of warnings) {
      results.warn(
        `${svc.name}: the API server warned while helm applied the release: ${w}` +
          (/unknown field/.test(w)
            ? ' (the field was dropped: a misspelt key in the values or the chart?)'
            : ''),
      );
    }
  } catch (err) {
    if (!(err instanceof DeployError)) throw err;
    // Another run (or a human's helm) holds the release: not ours to judge or roll back.
    const conflict = isReleaseLocked(err);
    results.update(svc.name, {
      status: 'failed',
      reason: ctx.signal.aborted ? 'Cancelled' : conflict ? 'Conflict' : 'HelmUpgradeFailed',
      message: err.describe(),
      durationMs: elapsed(),
    });
    out.error(`${svc.name}: helm upgrade failed after ${formatSeconds(elapsed())}\n${err.describe()}`);
    return { ready: false };
  }
  results.update(svc.name, { revision });
  const applied = Date.now();
  // Each object's diff text (the summary's and the report's) is written when first read: read
  // now, while this process waits on the rollout, it is not left to the run's last moment.
  setImmediate(() => results.get(svc.name)?.change?.objects.forEach((o) => o.diff));
  // Under an HPA the chart leaves replicas out: a first install starts at 1, raised here to the HPA's minimum.
  const min = expected.replicas === undefined ? expected.autoscaling?.min : undefined;
  if (!before && min && min > 1) {
    const deployment = expected.deployment ?? svc.name;
    out.info(`${svc.name}: ${await session.scale({ namespace: plan.namespace, deployment, min })}`);
  }
  const outcome = await session.tracker.track({
    service: svc.name,
    deployment: expected.deployment ?? svc.name,
    timeoutSeconds: plan.request.timeoutSeconds,
    since: started,
    onProgress: out.progress,
    // A first install is done at the HPA's minimum.
    minReplicas: min,
  });
  if (outcome.verdict === 'ready') {
    out.info(`${svc.name}: revision ${revision} ready in ${formatSeconds(elapsed())}`);
    results.update(svc.name, { status: 'deployed', timeToReadyMs: outcome.timeToReadyMs });
    // Checked while its dependents and the rest of the fleet go on, not after all of it.
    const hpaSeenActive = () => session.tracker.hpaSeenActive?.(svc.name, applied);
    const checks = verifyReleased(ctx, plan, service, session.verify, true, hpaSeenActive).then(() =>
      results.update(svc.name, { durationMs: elapsed() }),
    );
    return { ready: true, checks };
  }
  if (outcome.reason === 'Cancelled') {
    results.update(svc.name, { status: 'failed', reason: 'Cancelled', durationMs: elapsed() });
    out.warn(
      `${svc.name}: revision ${revision ?? '?'} released; its rollout was not watched to the end (cancelled)`,
    );
    return { ready: false };
  }
  results.update(svc.name, {
    status: 'failed',
    reason: outcome.reason,
    message: outcome.message,
    diagnostics: outcome.diagnostics,
    durationMs: elapsed(),
  });
  const why = outcome.diagnostics ? `\n${formatDiagnostics(outcome.diagnostics)}` : '';
  out.error(
    `${svc.name}: rollout failed after ${formatSeconds(elapsed())}: ${outcome.reason}: ${outcome.message}${why}`,
  );
  return { ready: false };
}

function describeRelease(ctx: RunContext, plan: Plan): string {
  const { trace, imageTag } = plan.request;
  return [
    `ecommerce-deploy ${imageTag}`,
    `run-id ${ctx.runId}`,
    trace.commitSha && `commit ${trace.commitSha}`,
    trace.actor && `by ${trace.actor}`,
    trace.runUrl && `run ${trace.runUrl}`,
  ]
    .filter(Boolean)
    .join(', ');
}
