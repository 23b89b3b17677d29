/**
 * The pipeline, top to bottom. Both front doors (src/action.ts, src/cli.ts) build a
 * DeployRequest and call runPipeline; each stage has a file of its own here.
 *
 * Nothing in the cluster changes before `releaseInWaves`: every input and preflight
 * error ends the run with exit code 2 and an untouched cluster.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { loadDeployConfig } from '../config/load.js';
import { makePlan } from '../config/plan.js';
import { DeployError } from '../errors.js';
import type { DeployRequest, Report } from '../model.js';
import { RunRecorder } from '../report/recorder.js';
import { connect, openSession } from './connect.js';
import { helmFor, type PipelineDeps, type RunContext } from './context.js';
import { preflight } from './preflight.js';
import { renderAll } from './render.js';
import { releaseInWaves } from './release.js';
import { rollBack } from './rollback.js';

export async function runPipeline(request: DeployRequest, deps: PipelineDeps): Promise<Report> {
  const ctx = await openRun(request, deps);
  const { results } = ctx;
  try {
    const config = loadDeployConfig(request.configPath, request.fileRoots);
    const plan = results.planned(makePlan(request, config));
    const target = await preflight(ctx, plan);
    if (request.mode === 'plan' && !request.kubeconfig && !request.cluster) {
      await renderAll(ctx, target, helmFor(ctx, target));
      return results.finish('planned');
    }
    const cluster = await connect(ctx);
    try {
      const helm = helmFor(ctx, target, cluster);
      const rendered = await renderAll(ctx, target, helm, request.mode === 'plan');
      const session = await openSession(ctx, plan, helm, cluster);
      const { tracker } = session;
      if (!tracker) return results.finish('planned');
      try {
        await releaseInWaves(ctx, plan, rendered, { ...session, tracker });
      } finally {
        await tracker.stop();
      }
      results.flushWarnings();
      const failed = results.failed();
      if (failed) await rollBack(ctx, plan, session);
      return results.finish(failed ? 'failure' : 'success');
    } finally {
      await cluster.dispose();
    }
  } catch (err) {
    if (err instanceof DeployError) return results.fail(err);
    throw err;
  } finally {
    await rm(ctx.workDir, { recursive: true, force: true });
  }
}

async function openRun(request: DeployRequest, given: PipelineDeps): Promise<RunContext> {
  // One set of SDK clients (and one credential resolution) per region for the whole run.
  const clients = new Map<string, ReturnType<PipelineDeps['awsClients']>>();
  const deps: PipelineDeps = {
    ...given,
    awsClients: (region) => clients.get(region) ?? clients.set(region, given.awsClients(region)).get(region)!,
  };
  const workDir = await mkdtemp(join(deps.tempDir, 'ecommerce-deploy-'));
  return { request, deps, out: deps.out, results: new RunRecorder(request, deps.out), workDir };
}
