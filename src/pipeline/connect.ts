/**
 * Reaching the cluster: the user's kubeconfig, or the EKS cluster (must be ACTIVE)
 * with a private kubeconfig and in-process tokens; then the releases as they are
 * and the watches every rollout is judged by. Still changes nothing.
 */
import { readFile } from 'node:fs/promises';
import type { KubeConfig } from '@kubernetes/client-node';
import * as yaml from 'js-yaml';
import { describeActiveCluster, writeKubeconfig } from '../aws/eks.js';
import { eksTokenSource, type EksTokenSource } from '../aws/token.js';
import { inputError } from '../errors.js';
import { assertNoPendingReleases, type Helm, type ReleaseInfo } from '../helm/helm.js';
import { connectKubeConfig } from '../kube/client.js';
import { RolloutTracker } from '../kube/tracker.js';
import { verifyService } from '../kube/verify.js';
import type { Plan } from '../model.js';
import type { Output } from '../report/output.js';
import type { ClusterAccess, KubeAccess, RunContext, Session } from './context.js';

export async function connect(ctx: RunContext): Promise<ClusterAccess> {
  const { request, deps, out } = ctx;
  if (request.kubeconfig) {
    await checkKubeconfig(request.kubeconfig);
    return { path: request.kubeconfig, dispose: async () => {} };
  }
  if (!request.cluster) {
    throw inputError('no cluster to deploy to', {
      hint: 'give the EKS cluster (cluster-name and aws-region, or --cluster and --region) or a kubeconfig',
    });
  }
  const { name, region } = request.cluster;
  const cluster = await describeActiveCluster(deps.awsClients(region).eks, name, region);
  ctx.results.connected(cluster.name);
  out.info(`EKS cluster ${cluster.name} (${region}) is ACTIVE, Kubernetes ${cluster.version ?? 'unknown'}`);
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
    ? eksTokenSource({ clusterName: name, region, credentials, onToken: (t) => out.setSecret(t) })
    : undefined;
  return { ...kubeconfig, token };
}

/** A kubeconfig that is missing, a directory or not YAML stops the run before helm reads it. */
async function checkKubeconfig(path: string): Promise<void> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw inputError(
      code === 'ENOENT' ? `kubeconfig not found: ${path}` : `kubeconfig ${path} cannot be read (${code})`,
      { hint: 'pass the path of an existing kubeconfig, or leave it out and give the EKS cluster name' },
    );
  }
  let doc: unknown;
  try {
    doc = yaml.load(text);
  } catch (err) {
    const e = err as yaml.YAMLException;
    throw inputError(`kubeconfig ${path} is not valid YAML: ${e.reason ?? e.message}`, {
      where: { file: path, line: e.mark ? e.mark.line + 1 : undefined },
      hint: 'fix the file, or write a fresh one with `aws eks update-kubeconfig` or `kubectl config view --flatten`',
    });
  }
  if (!doc || typeof doc !== 'object' || !Array.isArray((doc as { clusters?: unknown }).clusters)) {
    throw inputError(`kubeconfig ${path} has no clusters: it is not a kubeconfig`, {
      where: { file: path },
      hint: 'pass a kubeconfig (a YAML file with clusters, users and contexts)',
    });
  }
}

/**
 * The releases as they are, and (to deploy) the watches. Both authenticate first (an
 * EKS token each), so they start together; a release left pending stops the run here.
 */
export async function openSession(
  ctx: RunContext,
  plan: Plan,
  helm: Helm,
  cluster: ClusterAccess,
): Promise<Session> {
  const kube = ctx.deps.kube ?? apiServer(ctx.out, cluster.token);
  const [listed, started] = await Promise.allSettled([
    helm.releases(plan.namespace),
    ctx.request.mode === 'deploy' ? kube.tracker(cluster.path, plan.namespace, ctx.out) : undefined,
  ]);
  const tracker = started.status === 'fulfilled' ? started.value : undefined;
  try {
    if (started.status === 'rejected') throw started.reason;
    if (listed.status === 'rejected') throw listed.reason;
    const before: Map<string, ReleaseInfo> = listed.value;
    await assertNoPendingReleases(
      before,
      plan.services.map((s) => s.name),
      plan.namespace,
      (r) => helm.history(r, plan.namespace),
    );
    return { helm, before, tracker, verify: kube.verifier(cluster.path) };
  } catch (err) {
    // Stop the watches whichever of the two failed.
    await tracker?.stop();
    throw err;
  }
}

/** The real API server, through one KubeConfig per run whose token is fetched once, or minted in process. */
function apiServer(out: Output, token?: EksTokenSource): KubeAccess {
  const connections = new Map<string, Promise<KubeConfig>>();
  const kubeConfig = (path: string) =>
    connections.get(path) ?? connections.set(path, connectKubeConfig(path, token)).get(path)!;
  return {
    tracker: async (kubeconfig, namespace, out) =>
      RolloutTracker.start({ kubeconfig: await kubeConfig(kubeconfig), namespace, out }),
    verifier: (kubeconfig) => async (req) =>
      verifyService({ ...req, kc: await kubeConfig(kubeconfig), log: (m) => out.info(m) }),
  };
}
