/**
 * Before anything touches the cluster: a supported helm, every image found in ECR
 * (tag -> digest), the chart located (and its ECR registry logged into, for this
 * run only). Any failure here ends the run with exit 2 and an untouched cluster.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as yaml from 'js-yaml';
import { ecrLogin, ecrRegistryRegion, resolveImages } from '../aws/ecr.js';
import { inputError } from '../errors.js';
import { findHelm, requireSupportedHelm, type SupportedHelm } from '../helm/binary.js';
import { Helm } from '../helm/helm.js';
import type { Plan } from '../model.js';
import { settleAll, type ChartInfo, type ImageChoice, type RunContext, type Target } from './context.js';

export async function preflight(ctx: RunContext, plan: Plan): Promise<Target> {
  // Independent: helm's version check runs while ECR answers (a helm error still comes first).
  const [helmBinary, images] = (await settleAll<unknown>([prepareHelm(ctx), checkImages(ctx, plan)])) as [
    SupportedHelm,
    Map<string, ImageChoice>,
  ];
  ctx.out.info(`helm ${helmBinary.version.raw} at ${helmBinary.path}`);
  const registry = ecrChartRegistry(plan);
  // An ECR login is for this run only: helm keeps it in a file in the private work dir
  // (removed at the end), never in the user's own helm registry config.
  const helmEnv = registry ? { HELM_REGISTRY_CONFIG: join(ctx.workDir, 'registry.json') } : undefined;
  const helm = new Helm({ run: ctx.deps.run, helm: helmBinary, env: helmEnv });
  const chart = await chartInfo(ctx, plan, helm, registry);
  return { plan, images, chart, helmBinary, helmEnv };
}

async function prepareHelm({ request, deps, out }: RunContext): Promise<SupportedHelm> {
  let found = await findHelm({ run: deps.run, explicit: request.helmBinary, pathEnv: deps.pathEnv });
  if (!found && deps.installHelm && request.helmVersion) {
    const path = await deps.installHelm(request.helmVersion, out);
    found = await findHelm({ run: deps.run, explicit: path });
  }
  return requireSupportedHelm(found);
}

async function checkImages(ctx: RunContext, plan: Plan): Promise<Map<string, ImageChoice>> {
  const { request, config } = plan;
  if (request.skipImageCheck) {
    ctx.results.warn(
      `ECR image check skipped: tags are not verified and releases would use tag ${request.imageTag}, not a digest`,
    );
    return new Map(
      plan.services.map((s) => [
        s.name,
        { uri: config.registry ? `${config.registry}/${s.repository}` : undefined, tag: s.tag },
      ]),
    );
  }
  const region = request.region ?? request.cluster?.region;
  if (!region) {
    throw inputError('no AWS region for the ECR image check', {
      hint: 'set aws-region (Action) or --region / AWS_REGION (CLI); or skip the check in plan mode with --skip-image-check',
    });
  }
  const started = Date.now();
  const resolved = await ctx.out.group('Checking images in ECR', () =>
    resolveImages(
      ctx.deps.awsClients(region).ecr,
      plan.services.map((s) => ({ service: s.name, repository: s.repository, tag: s.tag })),
    ),
  );
  ctx.out.info(
    `all ${resolved.images.size} images found in ECR (${resolved.calls} API calls, ${Date.now() - started} ms)`,
  );
  return new Map(
    [...resolved.images].map(([svc, img]) => [svc, { uri: img.uri, tag: img.tag, digest: img.digest }]),
  );
}

/** The ECR registry (host and region) an OCI chart lives in, if it lives in ECR. */
function ecrChartRegistry(plan: Plan): { host: string; region: string } | undefined {
  const { chart } = plan.config;
  if (chart.kind !== 'oci') return undefined;
  const host = new URL(chart.ref.replace(/^oci:/, 'https:')).host;
  const region = ecrRegistryRegion(host);
  return region ? { host, region } : undefined;
}

async function chartInfo(
  ctx: RunContext,
  plan: Plan,
  helm: Helm,
  registry: { host: string; region: string } | undefined,
): Promise<ChartInfo> {
  const { chart } = plan.config;
  if (chart.kind === 'local') {
    const meta = yaml.load(await readFile(join(chart.path, 'Chart.yaml'), 'utf8')) as {
      name: string;
      version: string;
    };
    return { ref: chart.path, name: meta.name, version: meta.version };
  }
  if (registry) {
    const login = await ecrLogin(ctx.deps.awsClients(registry.region).ecr, ctx.out);
    // The chart's registry, not the caller's own (ECR's proxyEndpoint): a shared chart
    // often lives in another account, and the token is good for every registry the
    // identity may pull from.
    await helm.registryLogin(registry.host, login.username, login.password);
  }
  const version = await helm.chartVersion(chart.ref, chart.version);
  return {
    ref: chart.ref,
    name: chart.ref.split('/').pop() ?? chart.ref,
    version,
    ociVersion: chart.version ?? version,
  };
}
