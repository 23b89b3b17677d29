/**
 * Reaching the cluster: the user's kubeconfig, or the EKS cluster (must be ACTIVE)
 * with a private kubeconfig and in-process tokens; then the releases as they are
 * and the watches every rollout is judged by. Still changes nothing.
 */
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import type { KubeConfig } from '@kubernetes/client-node';
import * as yaml from 'js-yaml';
import { describeActiveCluster, writeKubeconfig } from '../aws/eks.js';
import { eksTokenSource, type EksTokenSource } from '../aws/token.js';
import { inputError } from '../errors.js';
import { isPending, recoveryOf, serverValidatesFields, type Helm, type ReleaseInfo } from '../helm/helm.js';
import { acquireLock } from '../kube/lease.js';
import { connectKubeConfig, serverVersionOf } from '../kube/client.js';
import {
  releaseLister,
  storedReleaseReader,
  type ListedRelease,
  type ReleaseLister,
  type StoredReleaseReader,
} from '../kube/helm-storage.js';
import { RolloutTracker } from '../kube/tracker.js';
import { readLiveService } from '../kube/live.js';
import { raiseToMinimum } from '../kube/scale.js';
import { sharedNodes, verifyService } from '../kube/verify.js';
import type { Plan } from '../model.js';
import type { Output } from '../report/output.js';
import type { RunLock } from '../kube/lease.js';
import type { ClusterAccess, KubeAccess, RunContext, Session, Tracker } from './context.js';

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
  return { ...kubeconfig, token, eks: cluster };
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

/** The run's client for the API server and, for a deploy, the rollout watches, starting. */
export interface Watching {
  kube: KubeAccess;
  tracker?: Promise<Tracker>;
  /** The Kubernetes version: EKS's, or the API server's own /version (read beside the watches). */
  version: Promise<string | undefined>;
  /** Stops the watches, if they started (once, however often it is called). */
  stop(): Promise<void>;
}

/**
 * Starts the rollout watches (deploy mode) as soon as the cluster is known, while the run
 * renders and checks IRSA: they only read, so they may start before every check has passed,
 * and their requests' round trips overlap the render instead of delaying the first upgrade.
 */
export function startWatching(ctx: RunContext, plan: Plan, cluster: ClusterAccess): Watching {
  const kube = ctx.deps.kube ?? apiServer(ctx.out, cluster.token);
  const tracker =
    ctx.request.mode === 'deploy' ? kube.tracker(cluster.path, plan.namespace, ctx.out) : undefined;
  // A failed start is the session's to report (openSession awaits it); never an unhandled rejection.
  tracker?.catch(() => {});
  const version = cluster.eks?.version
    ? Promise.resolve(cluster.eks.version)
    : (kube.serverVersion?.(cluster.path).catch(() => undefined) ?? Promise.resolve(undefined));
  let stopped: Promise<void> | undefined;
  return {
    kube,
    tracker,
    version,
    stop: () =>
      (stopped ??= (async () => {
        const started = await tracker?.catch(() => undefined);
        await started?.stop();
      })()),
  };
}

/**
 * Deploy mode first takes the namespace's lease (one deploy per namespace; a live one
 * stops this run, naming its holder). Then the releases as they are, and the watches
 * (started by startWatching) ready; releases a dead run left pending-* are recovered,
 * which is safe now that this run holds the lease.
 */
export async function openSession(
  ctx: RunContext,
  plan: Plan,
  helm: Helm,
  cluster: ClusterAccess,
  watching: Watching,
  /** Sees the releases as listed, before anything is recovered: may refuse the run (`deploy --plan`). */
  checkReleases?: (releases: Map<string, ReleaseInfo>) => void,
): Promise<Session> {
  const { request, out } = ctx;
  const { kube } = watching;
  const deploying = request.mode === 'deploy';
  // The latest revision of each release, as listed from helm's storage: what the diff compares with.
  const latest = new Map<string, ListedRelease>();
  const fromStorage = kube.releases?.(cluster.path);
  const listReleases = async (namespace: string): Promise<Map<string, ReleaseInfo>> => {
    const listed = await fromStorage?.(namespace);
    latest.clear();
    if (!listed) return helm.releases(namespace);
    for (const [name, release] of listed) latest.set(name, release);
    return new Map([...listed].map(([name, release]) => [name, release.info]));
  };
  let lock: RunLock | undefined;
  try {
    lock = deploying
      ? await kube.lock(cluster.path, {
          namespace: plan.namespace,
          holder: holderOf(ctx),
          waitSeconds: request.lockWaitSeconds,
          log: (m) => out.info(m),
          signal: ctx.signal,
        })
      : undefined;
    const [listed, started] = await Promise.allSettled([listReleases(plan.namespace), watching.tracker]);
    if (started.status === 'rejected') throw started.reason;
    if (listed.status === 'rejected') throw listed.reason;
    checkReleases?.(listed.value);
    const before = deploying
      ? await recoverStuck(ctx, plan, helm, listed.value, listReleases)
      : warnStuck(ctx, plan, listed.value);
    return {
      helm,
      before,
      tracker: started.value,
      lock,
      verify: kube.verifier(cluster.path),
      scale: kube.scaler(cluster.path),
      live: (service) => kube.live(cluster.path)(plan.namespace, service),
      stored: storedIn(kube, cluster.path, plan.namespace, latest),
      serverValidatesFields: serverValidatesFields(await watching.version),
    };
  } catch (err) {
    // Stop the watches and free the namespace whichever step failed.
    await watching.stop();
    await lock?.release();
    throw err;
  }
}

function storedIn(
  kube: KubeAccess,
  kubeconfig: string,
  namespace: string,
  latest: Map<string, ListedRelease>,
): Session['stored'] {
  const read = kube.storedRelease?.(kubeconfig);
  return async (release, revision) => {
    const listed = latest.get(release);
    if (listed?.info.revision === revision) return listed.stored;
    return read?.(namespace, release, revision);
  };
}

/** Who holds the lease, for the run that finds it taken: the workflow run, or user@host for the CLI. */
function holderOf(ctx: RunContext): string {
  const { trace } = ctx.request;
  const who = trace.runUrl ?? `${trace.actor ?? 'someone'}@${hostname()}`;
  return `${who} (run-id ${ctx.runId})`;
}

const stuckIn = (plan: Plan, releases: Map<string, ReleaseInfo>) =>
  plan.services.map((s) => s.name).filter((name) => isPending(releases.get(name)?.status ?? ''));

function warnStuck(ctx: RunContext, plan: Plan, releases: Map<string, ReleaseInfo>) {
  for (const name of stuckIn(plan, releases)) {
    ctx.results.warn(
      `${name} is ${releases.get(name)!.status}: a deploy would recover it first (left by a run that did not finish)`,
    );
  }
  return releases;
}

/** Unlocks what a dead run left pending-*, then lists the releases again: that is the state this run starts from. */
async function recoverStuck(
  ctx: RunContext,
  plan: Plan,
  helm: Helm,
  releases: Map<string, ReleaseInfo>,
  listReleases: (namespace: string) => Promise<Map<string, ReleaseInfo>>,
): Promise<Map<string, ReleaseInfo>> {
  const stuck = stuckIn(plan, releases);
  if (!stuck.length) return releases;
  const { namespace } = plan;
  for (const name of stuck) {
    const release = releases.get(name)!;
    const recovery = recoveryOf(release, await helm.history(name, namespace));
    const was = `${name} was ${release.status} at revision ${release.revision}, left by a run that did not finish`;
    if (!recovery) {
      throw inputError(`${was}, and has no deployed revision to go back to`, {
        where: { service: name },
        hint: `look at \`helm history ${name} -n ${namespace}\`, then roll it back or uninstall it, and deploy again`,
      });
    }
    if (recovery.action === 'rollback') {
      await helm.rollback(name, recovery.to, namespace, plan.request.rollbackTimeoutSeconds);
    } else {
      await helm.uninstall(name, namespace);
    }
    const done = recovery.action === 'rollback' ? `rolled back to revision ${recovery.to}` : 'uninstalled';
    ctx.results.recovered(name, `${was}; ${done}`);
  }
  return listReleases(namespace);
}

/** The real API server, through one KubeConfig per run whose token is fetched once, or minted in process. */
export function apiServer(out: Output, token?: EksTokenSource): KubeAccess {
  const connections = new Map<string, Promise<KubeConfig>>();
  const kubeConfig = (path: string) =>
    connections.get(path) ?? connections.set(path, connectKubeConfig(path, token)).get(path)!;
  return {
    lock: async (kubeconfig, opts) => acquireLock(await kubeConfig(kubeconfig), opts),
    tracker: async (kubeconfig, namespace, out) =>
      RolloutTracker.start({ kubeconfig: await kubeConfig(kubeconfig), namespace, out }),
    verifier: (kubeconfig) => {
      const nodes = sharedNodes();
      return async (req) =>
        verifyService({ ...req, kc: await kubeConfig(kubeconfig), log: (m) => out.info(m), nodes });
    },
    live: (kubeconfig) => async (namespace, service) =>
      readLiveService(await kubeConfig(kubeconfig), namespace, service, (m) => out.info(m)),
    scaler: (kubeconfig) => async (req) =>
      raiseToMinimum(await kubeConfig(kubeconfig), req, (m) => out.info(m)),
    serverVersion: async (kubeconfig) => serverVersionOf(await kubeConfig(kubeconfig)),
    releases: (kubeconfig) => {
      let lister: Promise<ReleaseLister> | undefined;
      return async (namespace) => {
        lister ??= kubeConfig(kubeconfig).then((kc) => releaseLister(kc, (m) => out.info(m)));
        return (await lister)(namespace);
      };
    },
    storedRelease: (kubeconfig) => {
      let reader: Promise<StoredReleaseReader> | undefined;
      return async (namespace, release, revision) => {
        reader ??= kubeConfig(kubeconfig).then((kc) => storedReleaseReader(kc, (m) => out.info(m)));
        return (await reader)(namespace, release, revision);
      };
    },
  };
}
