/**
 * Renders every service before anything is released, so a bad values file stops the
 * run with the cluster untouched. What is rendered here is exactly what `release`
 * applies: the same helm parameters, the same run values file.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as yaml from 'js-yaml';
import pLimit from 'p-limit';
import { DeployError } from '../errors.js';
import type { Helm, RenderParams } from '../helm/helm.js';
import { manifestObjects, readExpectations } from '../helm/manifest.js';
import { valuesReader, userValues, type ValuesReader } from '../helm/values.js';
import { progressDeadlineWarning } from '../kube/rollout-rules.js';
import type { Plan, PlannedService } from '../model.js';
import { imageName, settleAll, type RenderedService, type RunContext, type Target } from './context.js';

/**
 * With `serverDryRun`, the API server's own admission (schemas, Pod Security, quotas) checks each
 * release too. `onRendered` sees each service as soon as it renders (read-only checks start there).
 */
export async function renderAll(
  ctx: RunContext,
  target: Target,
  helm: Helm,
  serverDryRun = false,
  onRendered?: (service: RenderedService) => void,
): Promise<Map<string, RenderedService>> {
  const { plan, chart } = target;
  const limit = pLimit(plan.request.concurrency);
  const rendered = new Map<string, RenderedService>();
  // The environment's values files are the same for every service: each is read and parsed once.
  const read = valuesReader();
  await ctx.out.group(`Rendering ${plan.services.length} services with ${chart.name} ${chart.version}`, () =>
    settleAll(
      plan.services.map((svc) =>
        limit(async () => {
          const service = await renderService(ctx, target, helm, svc, serverDryRun, read);
          rendered.set(svc.name, service);
          onRendered?.(service);
          const { image } = service;
          ctx.results.record({
            service: svc.name,
            status: 'planned',
            image: imageName(image),
            digest: image.digest,
            chartVersion: chart.version,
          });
          ctx.out.info(`${svc.name}: ${imageName(image)} with ${chart.name} ${chart.version} renders`);
        }),
      ),
    ),
  );
  warnAboutDeadlines(ctx, plan, rendered);
  return rendered;
}

/** One service: its helm parameters and what the chart promises; a chart error names the service. */
export async function renderService(
  ctx: RunContext,
  target: Target,
  helm: Helm,
  svc: PlannedService,
  serverDryRun = false,
  read?: ValuesReader,
): Promise<RenderedService> {
  const image = target.images.get(svc.name)!;
  const params = renderParams(target, svc, await runValuesFile(ctx, target.plan, svc));
  try {
    const manifest = await helm.template(params);
    const objects = manifestObjects(manifest);
    const expected = readExpectations(objects);
    if (serverDryRun) await helm.upgrade({ ...params, dryRun: 'server' });
    const values = await userValues(params.valuesFiles, params.sets, read);
    return { svc, image, params, expected, manifest, objects, values };
  } catch (err) {
    throw err instanceof DeployError ? notRendered(svc.name, err) : err;
  }
}

function notRendered(service: string, err: DeployError): DeployError {
  return new DeployError('input', `${service}: the chart does not render: ${err.message}`, {
    where: { ...err.where, service },
    details: err.details,
    hint: err.hint ?? 'fix the values the message names, in the service overrides or environment values',
  });
}

/** Deploy-file values and traceability for one service, as a values file helm reads after the overrides. */
async function runValuesFile(ctx: RunContext, plan: Plan, svc: PlannedService): Promise<string> {
  const { trace, imageTag } = plan.request;
  const annotations: Record<string, string> = {};
  if (trace.commitSha) annotations['ecommerce-deploy/commit'] = trace.commitSha;
  if (trace.runUrl) annotations['ecommerce-deploy/run-url'] = trace.runUrl;
  if (trace.actor) annotations['ecommerce-deploy/actor'] = trace.actor;
  annotations['ecommerce-deploy/image-tag'] = imageTag;
  const values = {
    ...svc.values,
    deploymentAnnotations: { ...(svc.values.deploymentAnnotations as object), ...annotations },
  };
  const file = join(ctx.workDir, `${svc.name}.values.yaml`);
  await writeFile(file, yaml.dump(values), { mode: 0o600 });
  return file;
}

function renderParams({ plan, images, chart }: Target, svc: PlannedService, runValues: string): RenderParams {
  const image = images.get(svc.name)!;
  const sets: Record<string, string> = {};
  if (image.uri) sets['image.repository'] = image.uri;
  if (image.digest) sets['image.digest'] = image.digest;
  else sets['image.tag'] = image.tag;
  return {
    release: svc.name,
    chart: chart.ref,
    namespace: plan.namespace,
    valuesFiles: [...plan.environmentValues, ...svc.valuesFiles, runValues],
    sets,
    version: chart.ociVersion,
  };
}

/** A Deployment whose progress deadline outlasts our timeout would never report ProgressDeadlineExceeded in time. */
function warnAboutDeadlines(ctx: RunContext, plan: Plan, rendered: Map<string, RenderedService>): void {
  const warnings = plan.services.map((svc) => ({
    service: svc.name,
    message: progressDeadlineWarning(
      rendered.get(svc.name)?.expected.progressDeadlineSeconds,
      plan.request.timeoutSeconds,
    ),
  }));
  ctx.results.warnGrouped(warnings.filter((w): w is { service: string; message: string } => !!w.message));
}
