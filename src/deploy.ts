/**
 * The pipeline, top to bottom. Both front doors (src/action.ts, src/cli.ts) build
 * a DeployRequest and call runPipeline; everything a deploy does is here:
 *
 *   request -> plan -> helm -> ECR preflight -> render every service
 *           -> (plan mode stops here) -> connect (EKS kubeconfig) -> no stuck releases
 *           -> release in waves, one tracker watching every rollout -> roll back what failed
 *           -> verify HPA, PDB and zone spread -> report
 *
 * Nothing in the cluster changes before "release": every input and preflight error
 * ends the run with exit code 2 and an untouched cluster.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ECRClient } from '@aws-sdk/client-ecr';
import type { EKSClient } from '@aws-sdk/client-eks';
import type { AwsCredentialIdentityProvider } from '@smithy/types';
import * as yaml from 'js-yaml';
import pLimit from 'p-limit';
import { loadDeployConfig } from './config/load.js';
import { makePlan } from './config/plan.js';
import { ecrLogin, ecrRegistryRegion, resolveImages } from './aws/ecr.js';
import { describeActiveCluster, writeKubeconfig } from './aws/eks.js';
import { eksTokenSource, type EksTokenSource } from './aws/token.js';
import { DeployError, inputError } from './errors.js';
import { findHelm, requireSupportedHelm, type SupportedHelm } from './helm/binary.js';
import { Helm, assertNoPendingReleases, type RenderParams, type ReleaseInfo } from './helm/helm.js';
import { readExpectations, type RenderedExpectations } from './helm/manifest.js';
import type { KubeConfig } from '@kubernetes/client-node';
import { connectKubeConfig } from './kube/client.js';
import { formatDiagnostics } from './kube/diagnostics.js';
import { progressDeadlineWarning } from './kube/rules.js';
import { RolloutTracker, type RolloutOutcome, type TrackRequest } from './kube/tracker.js';
import { verifyService, type Verification, type VerifyRequest } from './kube/verify.js';
import type { DeployRequest, Plan, PlannedService, Report, ServiceResult } from './model.js';
import type { Runner } from './process.js';
import type { Output } from './report/output.js';

export interface PipelineDeps {
  out: Output;
  run: Runner;
  /** SDK clients for a region; tests hand in mocked or moto-backed ones. */
  awsClients: (region: string) => {
    ecr: ECRClient;
    eks: EKSClient;
    /**
     * The identity the clients sign with. When given, helm's EKS tokens are minted in
     * this process from it (one Node process less per helm command); without it
     * (mocked clients in unit tests) helm uses the kubeconfig's exec plugin.
     */
    credentials?: AwsCredentialIdentityProvider;
  };
  /** How the kubeconfig's exec plugin re-enters this tool to mint a token; the pipeline appends the cluster. */
  tokenCommand: { command: string; args: string[] };
  /** Where private temp files go (RUNNER_TEMP in Actions, else os.tmpdir()). */
  tempDir: string;
  /** PATH to search for helm. */
  pathEnv?: string;
  /** Action only: install a pinned helm when none is found. */
  installHelm?: (version: string, out: Output) => Promise<string>;
  /** The Kubernetes API side (rollout tracking, verification); unit tests replace it. */
  kube?: KubeAccess;
}

export interface KubeAccess {
  tracker(
    kubeconfig: string,
    namespace: string,
    out: Output,
  ): Promise<{ track(req: TrackRequest): Promise<RolloutOutcome>; stop(): Promise<void> }>;
  verifier(kubeconfig: string): (req: Omit<VerifyRequest, 'kc'>) => Promise<Verification>;
}

/**
 * The real API server, through one KubeConfig per run whose token is fetched once,
 * or minted in process when this run resolved the EKS cluster itself.
 */
function apiServer(token?: EksTokenSource): KubeAccess {
  const connections = new Map<string, Promise<KubeConfig>>();
  const connect = (path: string) =>
    connections.get(path) ?? connections.set(path, connectKubeConfig(path, token)).get(path)!;
  return {
    tracker: async (kubeconfig, namespace, out) =>
      RolloutTracker.start({ kubeconfig: await connect(kubeconfig), namespace, out }),
    verifier: (kubeconfig) => async (req) => verifyService({ ...req, kc: await connect(kubeconfig) }),
  };
}

export async function runPipeline(request: DeployRequest, given: PipelineDeps): Promise<Report> {
  // One set of SDK clients (and one credential resolution) per region for the whole run.
  const clients = new Map<string, ReturnType<PipelineDeps['awsClients']>>();
  const deps: PipelineDeps = {
    ...given,
    awsClients: (region) => clients.get(region) ?? clients.set(region, given.awsClients(region)).get(region)!,
  };
  const run = new Run(request, deps);
  const workDir = await mkdtemp(join(deps.tempDir, 'ecommerce-deploy-'));
  try {
    const plan = makePlan(request, loadDeployConfig(request.configPath));
    run.plan = plan;
    const helmBinary = await prepareHelm(request, deps);
    const images = await checkImages(plan, deps, run);
    // An ECR login is for this run only: helm keeps it in a file in the private work dir
    // (removed at the end), never in the user's own helm registry config.
    const helmEnv = ecrChartRegistry(plan)
      ? { HELM_REGISTRY_CONFIG: join(workDir, 'registry.json') }
      : undefined;
    const chart = await chartInfo(plan, new Helm({ run: deps.run, helm: helmBinary, env: helmEnv }), deps);
    if (request.mode === 'plan' && !request.kubeconfig && !request.cluster) {
      await renderAll(
        plan,
        images,
        chart,
        new Helm({ run: deps.run, helm: helmBinary, env: helmEnv }),
        workDir,
        deps,
        run,
      );
      return run.finish('planned');
    }
    const cluster = await connect(request, deps, run);
    try {
      const helm = new Helm({
        run: deps.run,
        helm: helmBinary,
        kubeconfig: cluster.path,
        token: cluster.token,
        env: helmEnv,
      });
      const rendered = await renderAll(
        plan,
        images,
        chart,
        helm,
        workDir,
        deps,
        run,
        request.mode === 'plan',
      );
      warnAboutDeadlines(plan, rendered, run);
      const kube = deps.kube ?? apiServer(cluster.token);
      // Both authenticate first (an EKS token each): start the watches while helm lists the releases.
      const [listed, started] = await Promise.allSettled([
        helm.releases(plan.namespace),
        request.mode === 'deploy' ? kube.tracker(cluster.path, plan.namespace, deps.out) : undefined,
      ]);
      const tracker = started.status === 'fulfilled' ? started.value : undefined;
      const current = listed.status === 'fulfilled' ? listed.value : new Map<string, ReleaseInfo>();
      try {
        // Stop the watches (in `finally`) whichever of the two failed.
        if (started.status === 'rejected') throw started.reason;
        if (listed.status === 'rejected') throw listed.reason;
        await assertNoPendingReleases(
          current,
          plan.services.map((s) => s.name),
          plan.namespace,
          (r) => helm.history(r, plan.namespace),
        );
        if (!tracker) return run.finish('planned');
        const verify = kube.verifier(cluster.path);
        await releaseInWaves(
          plan,
          images,
          chart,
          rendered,
          helm,
          { tracker, verify },
          current,
          workDir,
          deps,
          run,
        );
      } finally {
        await tracker?.stop();
      }
      warnGrouped(run, run.verificationWarnings);
      const failed = run.failed();
      if (failed) await rollBack(plan, helm, current, deps, run);
      return run.finish(failed ? 'failure' : 'success');
    } finally {
      await cluster.dispose();
    }
  } catch (err) {
    if (err instanceof DeployError) return run.fail(err);
    throw err;
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

export function exitCodeOf(report: Report): 0 | 1 | 2 {
  if (report.error) return report.error.exitCode === 2 ? 2 : 1;
  return report.result === 'failure' ? 1 : 0;
}

// ---------------------------------------------------------------------------
// The steps

async function prepareHelm(request: DeployRequest, deps: PipelineDeps): Promise<SupportedHelm> {
  let found = await findHelm({ run: deps.run, explicit: request.helmBinary, pathEnv: deps.pathEnv });
  if (!found && deps.installHelm && request.helmVersion) {
    const path = await deps.installHelm(request.helmVersion, deps.out);
    found = await findHelm({ run: deps.run, explicit: path });
  }
  const helm = requireSupportedHelm(found);
  deps.out.info(`helm ${helm.version.raw} at ${helm.path}`);
  return helm;
}

/** What each service will run: `uri` is unset only when neither ECR nor the deploy file names a registry. */
interface ImageChoice {
  uri?: string;
  tag: string;
  digest?: string;
}

async function checkImages(plan: Plan, deps: PipelineDeps, run: Run): Promise<Map<string, ImageChoice>> {
  const { request, config } = plan;
  if (request.skipImageCheck) {
    run.warn(
      `ECR image check skipped: tags are not verified and releases would use tag ${request.imageTag}, not a digest`,
    );
    return new Map(
      plan.services.map((s) => [
        s.name,
        { uri: config.registry ? `${config.registry}/${s.repository}` : undefined, tag: s.tag },
      ]),
    );
  }
  const region = ecrRegion(request);
  const started = Date.now();
  const resolved = await deps.out.group('Checking images in ECR', () =>
    resolveImages(
      deps.awsClients(region).ecr,
      plan.services.map((s) => ({ service: s.name, repository: s.repository, tag: s.tag })),
    ),
  );
  deps.out.info(
    `all ${resolved.images.size} images found in ECR (${resolved.calls} API calls, ${Date.now() - started} ms)`,
  );
  return new Map(
    [...resolved.images].map(([svc, img]) => [svc, { uri: img.uri, tag: img.tag, digest: img.digest }]),
  );
}

function ecrRegion(request: DeployRequest): string {
  const region = request.region ?? request.cluster?.region;
  if (!region) {
    throw inputError('no AWS region for the ECR image check', {
      hint: 'set aws-region (Action) or --region / AWS_REGION (CLI); or skip the check in plan mode with --skip-image-check',
    });
  }
  return region;
}

interface ChartInfo {
  ref: string;
  name: string;
  version: string;
  ociVersion?: string;
}

/** The ECR registry (host and region) an OCI chart lives in, if it lives in ECR. */
function ecrChartRegistry(plan: Plan): { host: string; region: string } | undefined {
  const { chart } = plan.config;
  if (chart.kind !== 'oci') return undefined;
  const host = new URL(chart.ref.replace(/^oci:/, 'https:')).host;
  const region = ecrRegistryRegion(host);
  return region ? { host, region } : undefined;
}

async function chartInfo(plan: Plan, helm: Helm, deps: PipelineDeps): Promise<ChartInfo> {
  const { chart } = plan.config;
  if (chart.kind === 'local') {
    const meta = yaml.load(await readFile(join(chart.path, 'Chart.yaml'), 'utf8')) as {
      name: string;
      version: string;
    };
    return { ref: chart.path, name: meta.name, version: meta.version };
  }
  const registry = ecrChartRegistry(plan);
  if (registry) {
    const login = await ecrLogin(deps.awsClients(registry.region).ecr, deps.out);
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

/** Deploy-file values and traceability for one service, as a values file helm reads after the overrides. */
async function runValuesFile(plan: Plan, svc: PlannedService, workDir: string): Promise<string> {
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
  const file = join(workDir, `${svc.name}.values.yaml`);
  await writeFile(file, yaml.dump(values), { mode: 0o600 });
  return file;
}

function renderParams(
  plan: Plan,
  svc: PlannedService,
  image: ImageChoice,
  chart: ChartInfo,
  runValues: string,
): RenderParams {
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

/** Renders every service before anything is released, so a bad values file stops the run with the cluster untouched. */
async function renderAll(
  plan: Plan,
  images: Map<string, ImageChoice>,
  chart: ChartInfo,
  helm: Helm,
  workDir: string,
  deps: PipelineDeps,
  run: Run,
  serverDryRun = false,
): Promise<Map<string, RenderedExpectations>> {
  const limit = pLimit(plan.request.concurrency);
  const rendered = new Map<string, RenderedExpectations>();
  await deps.out.group(`Rendering ${plan.services.length} services with ${chart.name} ${chart.version}`, () =>
    Promise.all(
      plan.services.map((svc) =>
        limit(async () => {
          const image = images.get(svc.name)!;
          const params = renderParams(plan, svc, image, chart, await runValuesFile(plan, svc, workDir));
          try {
            rendered.set(svc.name, readExpectations(await helm.template(params)));
            // The API server's own admission (schemas, Pod Security, quotas) when a cluster is at hand.
            if (serverDryRun) await helm.upgrade({ ...params, dryRun: 'server' });
          } catch (err) {
            if (err instanceof DeployError) {
              throw new DeployError('input', `${svc.name}: the chart does not render: ${err.message}`, {
                where: { ...err.where, service: svc.name },
                details: err.details,
                hint:
                  err.hint ??
                  'fix the values the message names, in the service overrides or environment values',
              });
            }
            throw err;
          }
          run.record({
            service: svc.name,
            status: 'planned',
            image: imageName(image),
            digest: image.digest,
            chartVersion: chart.version,
          });
          deps.out.info(`${svc.name}: ${imageName(image)} with ${chart.name} ${chart.version} renders`);
        }),
      ),
    ),
  );
  return rendered;
}

/** A Deployment whose progress deadline outlasts our timeout would never report ProgressDeadlineExceeded in time. */
function warnAboutDeadlines(plan: Plan, rendered: Map<string, RenderedExpectations>, run: Run) {
  const warnings = plan.services.map((svc) => ({
    service: svc.name,
    message: progressDeadlineWarning(
      rendered.get(svc.name)?.progressDeadlineSeconds,
      plan.request.timeoutSeconds,
    ),
  }));
  warnGrouped(
    run,
    warnings.filter((w): w is { service: string; message: string } => !!w.message),
  );
}

/** One warning per distinct message, naming every service it applies to, rather than six alike lines. */
function warnGrouped(run: Run, items: { service: string; message: string }[]) {
  const groups = new Map<string, string[]>();
  for (const { service, message } of items) {
    const key = message.replaceAll(service, '<service>');
    groups.set(key, [...(groups.get(key) ?? []), service]);
  }
  for (const [message, services] of groups) run.warn(`${services.join(', ')}: ${message}`);
}

function imageName(image: ImageChoice): string {
  const repo = image.uri ?? '(repository from the values files)';
  return image.digest ? `${repo}@${image.digest}` : `${repo}:${image.tag}`;
}

async function connect(request: DeployRequest, deps: PipelineDeps, run: Run) {
  if (request.kubeconfig) {
    try {
      await readFile(request.kubeconfig);
    } catch {
      throw inputError(`kubeconfig not found: ${request.kubeconfig}`, {
        hint: 'pass the path of an existing kubeconfig, or leave it out and give the EKS cluster name',
      });
    }
    return { path: request.kubeconfig, dispose: async () => {}, token: undefined };
  }
  if (!request.cluster) {
    throw inputError('no cluster to deploy to', {
      hint: 'give the EKS cluster (cluster-name and aws-region, or --cluster and --region) or a kubeconfig',
    });
  }
  const { name, region } = request.cluster;
  const cluster = await describeActiveCluster(deps.awsClients(region).eks, name, region);
  run.cluster = cluster.name;
  deps.out.info(
    `EKS cluster ${cluster.name} (${region}) is ACTIVE, Kubernetes ${cluster.version ?? 'unknown'}`,
  );
  const kubeconfig = await writeKubeconfig(
    cluster,
    {
      command: deps.tokenCommand.command,
      args: [...deps.tokenCommand.args, '--cluster-name', name, '--region', region],
    },
    { dir: deps.tempDir },
  );
  const { credentials } = deps.awsClients(region);
  const token = credentials
    ? eksTokenSource({ clusterName: name, region, credentials, onToken: (t) => deps.out.setSecret(t) })
    : undefined;
  return { ...kubeconfig, token };
}

async function releaseInWaves(
  plan: Plan,
  images: Map<string, ImageChoice>,
  chart: ChartInfo,
  rendered: Map<string, RenderedExpectations>,
  helm: Helm,
  cluster: { tracker: Tracker; verify: Verifier },
  current: Map<string, ReleaseInfo>,
  workDir: string,
  deps: PipelineDeps,
  run: Run,
): Promise<void> {
  const limit = pLimit(plan.request.concurrency);
  const byName = new Map(plan.services.map((s) => [s.name, s]));
  for (const [i, wave] of plan.waves.entries()) {
    if (run.failed()) {
      for (const name of wave) run.update(name, { status: 'skipped', reason: 'an earlier wave failed' });
      continue;
    }
    const title = `Wave ${i + 1}/${plan.waves.length}: ${wave.join(', ')}`;
    await deps.out.group(title, () =>
      Promise.all(
        wave.map((name) =>
          limit(() =>
            releaseOne(
              {
                plan,
                svc: byName.get(name)!,
                image: images.get(name)!,
                chart,
                expected: rendered.get(name) ?? {},
              },
              { helm, ...cluster, current, workDir, deps, run },
            ),
          ),
        ),
      ),
    );
  }
}

interface Release {
  plan: Plan;
  svc: PlannedService;
  image: ImageChoice;
  chart: ChartInfo;
  expected: RenderedExpectations;
}

type Tracker = Awaited<ReturnType<KubeAccess['tracker']>>;
type Verifier = ReturnType<KubeAccess['verifier']>;

interface ReleaseContext {
  helm: Helm;
  tracker: Tracker;
  verify: Verifier;
  current: Map<string, ReleaseInfo>;
  workDir: string;
  deps: PipelineDeps;
  run: Run;
}

/**
 * One service: apply the release without helm's own wait, then let the shared
 * tracker judge the rollout, so a pod that cannot start fails it at once and says why.
 */
async function releaseOne(r: Release, ctx: ReleaseContext): Promise<void> {
  const { plan, svc, image, chart, expected } = r;
  const { helm, tracker, verify, current, workDir, deps, run } = ctx;
  const started = new Date();
  const elapsed = () => Date.now() - started.getTime();
  const before = current.get(svc.name);
  deps.out.info(
    `${svc.name}: ${before ? `upgrading from revision ${before.revision}` : 'installing'} to ${imageName(image)}`,
  );
  let revision: number | undefined;
  try {
    const res = await helm.upgrade({
      ...renderParams(plan, svc, image, chart, join(workDir, `${svc.name}.values.yaml`)),
      description: describeRelease(plan),
      wait: false,
    });
    revision = res.revision;
  } catch (err) {
    if (!(err instanceof DeployError)) throw err;
    run.update(svc.name, {
      status: 'failed',
      reason: 'HelmUpgradeFailed',
      message: err.describe(),
      durationMs: elapsed(),
    });
    deps.out.error(`${svc.name}: helm upgrade failed after ${seconds(elapsed())}\n${err.describe()}`);
    return;
  }
  run.update(svc.name, { revision });
  const outcome = await tracker.track({
    service: svc.name,
    deployment: expected.deployment ?? svc.name,
    timeoutSeconds: plan.request.timeoutSeconds,
    since: started,
    onProgress: deps.out.progress,
    // Under an HPA the chart leaves replicas out: a first install is done at the HPA's minimum.
    minReplicas: expected.replicas === undefined ? expected.autoscaling?.min : undefined,
  });
  if (outcome.verdict === 'ready') {
    deps.out.info(`${svc.name}: revision ${revision} ready in ${seconds(elapsed())}`);
    run.update(svc.name, { status: 'deployed', timeToReadyMs: outcome.timeToReadyMs });
    // Checked while the rest of the wave is still rolling out, not after all of it.
    await verifyOne(plan, svc.name, expected, verify, deps, run);
    run.update(svc.name, { durationMs: elapsed() });
    return;
  }
  run.update(svc.name, {
    status: 'failed',
    reason: outcome.reason,
    message: outcome.message,
    diagnostics: outcome.diagnostics,
    durationMs: elapsed(),
  });
  const why = outcome.diagnostics ? `\n${formatDiagnostics(outcome.diagnostics)}` : '';
  deps.out.error(
    `${svc.name}: rollout failed after ${seconds(elapsed())}: ${outcome.reason}: ${outcome.message}${why}`,
  );
}

function describeRelease(plan: Plan): string {
  const { trace, imageTag } = plan.request;
  return [
    `ecommerce-deploy ${imageTag}`,
    trace.commitSha && `commit ${trace.commitSha}`,
    trace.actor && `by ${trace.actor}`,
    trace.runUrl && `run ${trace.runUrl}`,
  ]
    .filter(Boolean)
    .join(', ');
}

/**
 * Puts failed services (or, with rollback "all", every service this run touched)
 * back on the revision they had before the run; a failed first install is removed.
 */
async function rollBack(
  plan: Plan,
  helm: Helm,
  before: Map<string, ReleaseInfo>,
  deps: PipelineDeps,
  run: Run,
): Promise<void> {
  const mode = plan.request.rollback;
  if (mode === 'none') return;
  const targets = run
    .results()
    .filter((r) => r.status === 'failed' || (mode === 'all' && r.status === 'deployed'));
  await deps.out.group(`Rolling back ${targets.map((t) => t.service).join(', ')}`, () =>
    Promise.all(
      targets.map(async (t) => {
        const previous = before.get(t.service);
        try {
          if (previous) {
            await helm.rollback(
              t.service,
              previous.revision,
              plan.namespace,
              plan.request.rollbackTimeoutSeconds,
              true,
            );
            run.update(t.service, { status: 'rolled-back', rolledBackTo: previous.revision });
            deps.out.info(`${t.service}: rolled back to revision ${previous.revision}`);
          } else if (plan.request.keepFailedInstall) {
            deps.out.info(`${t.service}: first install failed; kept for inspection (keep-failed-install)`);
          } else {
            await helm.uninstall(t.service, plan.namespace);
            run.update(t.service, { status: 'rolled-back', rolledBackTo: 0 });
            deps.out.info(`${t.service}: first install failed, uninstalled`);
          }
        } catch (err) {
          if (!(err instanceof DeployError)) throw err;
          run.warn(`${t.service}: rollback failed: ${err.message}`);
        }
      }),
    ),
  );
}

/** HPA, PDB and zone spread of a released service, against what its chart rendered. */
async function verifyOne(
  plan: Plan,
  service: string,
  expected: RenderedExpectations,
  verify: Verifier,
  deps: PipelineDeps,
  run: Run,
): Promise<void> {
  const v = await verify({
    namespace: plan.namespace,
    service,
    expected: { autoscaling: expected.autoscaling, pdbMinAvailable: expected.pdbMinAvailable },
    strict: plan.request.strict,
  });
  run.update(service, { verification: { hpa: v.hpa, pdb: v.pdb, spread: v.spread } });
  for (const [what, check] of Object.entries({ HPA: v.hpa, PDB: v.pdb, 'zone spread': v.spread })) {
    const line = `${service}: ${what} ${check.verdict}: ${check.message}`;
    if (check.verdict === 'error') {
      run.update(service, { status: 'failed', reason: 'VerificationFailed', message: line });
      deps.out.error(line);
    } else if (check.verdict === 'warning') {
      // The check says "HPA order-service: …"; the grouped warning names the services itself.
      const message = check.message.replace(new RegExp(`^${what} ${service}: `), '');
      run.verificationWarnings.push({ service, message: `${what}: ${message}` });
    } else deps.out.info(line);
  }
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}s`;

// ---------------------------------------------------------------------------
// What the run has found so far; becomes the Report.

class Run {
  plan?: Plan;
  cluster?: string;
  private readonly started = new Date();
  private readonly warnings: string[] = [];
  /** Collected while services verify in parallel, then reported once per distinct message. */
  readonly verificationWarnings: { service: string; message: string }[] = [];
  private readonly byService = new Map<string, ServiceResult>();

  constructor(
    private readonly request: DeployRequest,
    private readonly deps: PipelineDeps,
  ) {
    this.cluster = request.cluster?.name;
  }

  warn(message: string) {
    this.warnings.push(message);
    this.deps.out.warn(message);
  }

  record(result: ServiceResult) {
    this.byService.set(result.service, result);
  }

  update(service: string, change: Partial<ServiceResult>) {
    const prev = this.byService.get(service) ?? { service, status: 'planned', image: '' };
    this.byService.set(service, { ...prev, ...change });
  }

  results(): ServiceResult[] {
    return [...this.byService.values()];
  }

  failed(): boolean {
    return this.results().some((r) => r.status === 'failed');
  }

  finish(result: Report['result']): Report {
    const order = this.plan?.services.map((s) => s.name) ?? [];
    return {
      result,
      mode: this.request.mode,
      cluster: this.cluster,
      namespace: this.plan?.namespace ?? this.request.namespace ?? '',
      environment: this.request.environment,
      imageTag: this.request.imageTag,
      startedAt: this.started.toISOString(),
      durationMs: Date.now() - this.started.getTime(),
      services: order.filter((n) => this.byService.has(n)).map((n) => this.byService.get(n)!),
      warnings: this.warnings,
    };
  }

  fail(err: DeployError): Report {
    this.deps.out.error(err.describe());
    return {
      ...this.finish('failure'),
      error: { kind: err.kind, message: err.describe(), exitCode: err.exitCode },
    };
  }
}
