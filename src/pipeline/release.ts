/**
 * `helm upgrade --install` per service, in waves that respect `dependsOn`, parallel
 * up to the concurrency limit inside a wave. helm does not wait: the shared tracker
 * judges each rollout, so a pod that cannot start fails it at once and says why.
 */
import pLimit from 'p-limit';
import { DeployError } from '../errors.js';
import { isReleaseLocked } from '../helm/helm.js';
import { formatDiagnostics } from '../kube/diagnostics.js';
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

async function releaseWaves(
  ctx: RunContext,
  plan: Plan,
  rendered: Map<string, RenderedService>,
  session: Session & { tracker: Tracker },
): Promise<void> {
  const limit = pLimit(plan.request.concurrency);
  for (const [i, wave] of plan.waves.entries()) {
    if (ctx.signal.aborted) return;
    if (ctx.results.failed()) {
      for (const name of wave)
        ctx.results.update(name, { status: 'skipped', reason: 'an earlier wave failed' });
      continue;
    }
    await ctx.out.group(`Wave ${i + 1}/${plan.waves.length}: ${wave.join(', ')}`, () =>
      settleAll(
        wave.map((name) =>
          // Queued behind the concurrency limit when the signal came: never started.
          limit(() =>
            ctx.signal.aborted
              ? undefined
              : unchanged(ctx, name)
                ? leaveAlone(ctx, name)
                : releaseOne(ctx, plan, rendered.get(name)!, session),
          ),
        ),
      ),
    );
  }
}

/** Its target equals the live, healthy release (see src/pipeline/diff.ts); never true with --force, which skips the diff. */
function unchanged(ctx: RunContext, name: string): boolean {
  return ctx.results.get(name)?.change?.kind === 'unchanged';
}

/** No new revision for a service that would not change: it counts as done for the waves after it. */
function leaveAlone(ctx: RunContext, name: string): void {
  const revision = ctx.results.get(name)!.change!.liveRevision;
  ctx.results.update(name, {
    status: 'unchanged',
    revision,
    message: `identical to the live revision ${revision}: not released (force to release it anyway)`,
  });
  ctx.out.info(`${name}: unchanged, revision ${revision} left as it is`);
}

async function releaseOne(
  ctx: RunContext,
  plan: Plan,
  service: RenderedService,
  session: Session & { tracker: Tracker },
): Promise<void> {
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
    ({ revision } = await session.helm.upgrade({ ...params, description: describeRelease(ctx, plan) }));
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
    return;
  }
  results.update(svc.name, { revision });
  const outcome = await session.tracker.track({
    service: svc.name,
    deployment: expected.deployment ?? svc.name,
    timeoutSeconds: plan.request.timeoutSeconds,
    since: started,
    onProgress: out.progress,
    // Under an HPA the chart leaves replicas out: a first install is done at the HPA's minimum.
    minReplicas: expected.replicas === undefined ? expected.autoscaling?.min : undefined,
  });
  if (outcome.verdict === 'ready') {
    out.info(`${svc.name}: revision ${revision} ready in ${formatSeconds(elapsed())}`);
    results.update(svc.name, { status: 'deployed', timeToReadyMs: outcome.timeToReadyMs });
    // Checked while the rest of the wave is still rolling out, not after all of it.
    await verifyReleased(ctx, plan, service, session.verify);
    results.update(svc.name, { durationMs: elapsed() });
    return;
  }
  if (outcome.reason === 'Cancelled') {
    results.update(svc.name, { status: 'failed', reason: 'Cancelled', durationMs: elapsed() });
    out.warn(
      `${svc.name}: revision ${revision ?? '?'} released; its rollout was not watched to the end (cancelled)`,
    );
    return;
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
