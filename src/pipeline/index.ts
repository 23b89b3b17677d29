/**
 * The pipeline, top to bottom. Both front doors (src/action.ts, src/cli.ts) build a
 * DeployRequest and call runPipeline; each stage has a file of its own here.
 *
 * Nothing in the cluster changes before `releaseInWaves`: every input and preflight (IRSA included)
 * error ends the run with exit code 2 and an untouched cluster.
 */
import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { loadDeployConfig } from '../config/load.js';
import { makePlan } from '../config/plan.js';
import { DeployError } from '../errors.js';
import type { ReleaseInfo } from '../helm/helm.js';
import type { DeployRequest, Plan, Report } from '../model.js';
import { RunRecorder } from '../report/recorder.js';
import { makePrivateDir, sweepLeftovers } from '../workdir.js';
import { connect, openSession, startWatching } from './connect.js';
import {
  cancelledBy,
  checkCancelled,
  helmFor,
  type PipelineDeps,
  type ClusterAccess,
  type RunContext,
  type Session,
  type Target,
} from './context.js';
import { runChecklist } from './checklist.js';
import { startIrsa } from './irsa.js';
import { preflight } from './preflight.js';
import { diffAll } from './diff.js';
import { checkAgainstPlan, checkLiveRevisions, pinPlan } from './pinned.js';
import { renderAll } from './render.js';
import { releaseInWaves } from './release.js';
import { rollBack } from './rollback.js';

type ReleaseMap = Map<string, ReleaseInfo>;

export async function runPipeline(request: DeployRequest, deps: PipelineDeps): Promise<Report> {
  const ctx = await openRun(request, deps);
  const { results } = ctx;
  try {
    const config = loadDeployConfig(request.configPath, request.fileRoots);
    const plan = results.planned(makePlan(request, config));
    if (request.mode === 'verify') return await runChecklist(ctx, await preflight(ctx, plan));
    if (request.mode === 'plan' && !request.kubeconfig && !request.cluster) {
      const target = await preflight(ctx, plan);
      await renderAll(ctx, target, helmFor(ctx, target));
      return results.finish('planned');
    }
    const [target, cluster] = await preflightAndConnect(ctx, plan);
    checkCancelled(ctx);
    const watching = startWatching(ctx, plan, cluster);
    let session: Session | undefined;
    try {
      const helm = helmFor(ctx, target, cluster);
      const irsa = startIrsa(ctx, plan, cluster);
      const rendered = await renderAll(ctx, target, helm, request.mode === 'plan', irsa?.add);
      if (request.planFile) checkAgainstPlan(ctx, target, rendered);
      await irsa?.verdict();
      checkCancelled(ctx);
      const checkReleases = request.planFile && ((r: ReleaseMap) => checkLiveRevisions(ctx, r));
      session = await openSession(ctx, plan, helm, cluster, watching, checkReleases || undefined);
      const changes = request.force ? undefined : await diffAll(ctx, target, rendered, session);
      if (request.mode === 'plan') {
        if (request.planOut) pinPlan(ctx, target, rendered, changes!);
        return results.finish('planned');
      }
      await ctx.deps.onReleaseStart?.({
        namespace: plan.namespace,
        planId: results.pinnedPlan,
        services: [...rendered.values()].map((r) => ({
          service: r.svc.name,
          image: `${r.image.uri ?? r.svc.repository}:${r.image.tag}`,
          digest: r.image.digest,
        })),
      });
      await releaseInWaves(ctx, plan, rendered, session);
      checkCancelled(ctx);
      results.flushWarnings();
      const failed = results.failed();
      if (failed) await rollBack(ctx, plan, session);
      return results.finish(failed ? 'failure' : 'success');
    } finally {
      await watching.stop(); // once the releases are done, or if the run ended before them
      await session?.lock?.release();
      await cluster.dispose();
    }
  } catch (err) {
    // Whatever failed once the signal came (a killed helm, a stopped watch) is the cancel's doing.
    if (ctx.signal.aborted) return results.cancel(cancelledBy(ctx.signal));
    if (err instanceof DeployError) return results.fail(err);
    throw err;
  } finally {
    await closeRun(ctx);
  }
}

/**
 * The preflight checks and the cluster lookup (EKS DescribeCluster, the run's kubeconfig) at
 * once: neither changes anything. A preflight error is the one reported when both fail.
 */
async function preflightAndConnect(ctx: RunContext, plan: Plan): Promise<[Target, ClusterAccess]> {
  const [checked, reached] = await Promise.allSettled([preflight(ctx, plan), connect(ctx)]);
  if (checked.status === 'rejected') {
    if (reached.status === 'fulfilled') await reached.value.dispose();
    throw checked.reason;
  }
  if (reached.status === 'rejected') throw reached.reason;
  return [checked.value, reached.value];
}

/** A cleanup failure is said, never thrown: it must not replace the run's real result. */
async function closeRun(ctx: RunContext): Promise<void> {
  try {
    await rm(ctx.workDir, { recursive: true, force: true, maxRetries: 3 });
  } catch (err) {
    ctx.out.warn(`could not remove the work dir ${ctx.workDir}: ${(err as Error).message}`);
  }
}

async function openRun(request: DeployRequest, given: PipelineDeps): Promise<RunContext> {
  // One set of SDK clients (and one credential resolution) per region for the whole run.
  const clients = new Map<string, ReturnType<PipelineDeps['awsClients']>>();
  const deps: PipelineDeps = {
    ...given,
    awsClients: (region) => clients.get(region) ?? clients.set(region, given.awsClients(region)).get(region)!,
  };
  // What a killed run left here (its registry login, kubeconfig) goes before this run adds its own.
  const swept = await sweepLeftovers(deps.tempDir);
  if (swept.length)
    deps.out.info(`removed ${swept.length} temp dir(s) a killed run left: ${swept.join(', ')}`);
  const workDir = await makePrivateDir(deps.tempDir);
  const runId = randomUUID().slice(0, 13);
  const signal = deps.signal ?? new AbortController().signal;
  return {
    request,
    deps,
    out: deps.out,
    results: new RunRecorder(request, deps.out),
    workDir,
    runId,
    signal,
  };
}
