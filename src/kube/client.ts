/**
 * The one place a kubeconfig becomes API clients, and API failures become sentences.
 */
import { Agent, type AgentOptions } from 'node:https';
import { ApiException, KubeConfig, VersionApi, type Cluster } from '@kubernetes/client-node';
import type { EksTokenSource } from '../aws/token.js';
import { DeployError, preflightError } from '../errors.js';

export function loadKubeConfig(path: string): KubeConfig {
  const kc = new KubeConfig();
  try {
    kc.loadFromFile(path);
  } catch (err) {
    throw preflightError(`cannot read kubeconfig ${path}: ${(err as Error).message}`, {
      where: { file: path },
      hint: 'pass the path of a valid kubeconfig',
      cause: err,
    });
  }
  if (!kc.getCurrentCluster()) {
    throw preflightError(`kubeconfig ${path} has no current cluster`, {
      where: { file: path },
      hint: 'set current-context in the kubeconfig',
    });
  }
  return kc;
}

/** An in-memory auth provider name no kubeconfig on disk uses: requests take their token from the source. */
const EKS_TOKEN_PROVIDER = 'ecommerce-deploy-eks-token';
/** A request authenticates once, when it starts (a watch keeps its connection after the token expires). */
const REQUEST_TOKEN_SECONDS = 60;

/**
 * Loads the kubeconfig and fetches its credential once. client-node caches an exec
 * plugin's token per KubeConfig, but requests that start together before the first
 * token arrives each run the plugin; with an EKS token plugin that is a process per
 * request. One primed KubeConfig per run avoids that.
 *
 * With `token` (an EKS cluster this run resolved), requests take their bearer token
 * from it instead of the kubeconfig's exec plugin: no process at all. The file is
 * unchanged; only this KubeConfig's current user is replaced in memory.
 */
export async function connectKubeConfig(path: string, token?: EksTokenSource): Promise<KubeConfig> {
  const kc = loadKubeConfig(path);
  reuseConnections(kc);
  if (token) useTokenSource(kc, token);
  try {
    await kc.applyToFetchOptions({});
  } catch (err) {
    // A token minted in process fails with its own explanation (no credentials, access denied).
    if (err instanceof DeployError) throw err;
    throw preflightError(`cannot get credentials for the cluster: ${(err as Error).message.trim()}`, {
      where: { file: path },
      hint: "check the AWS credentials (the kubeconfig's exec plugin mints the EKS token with them)",
      cause: err,
    });
  }
  return kc;
}

type AgentFactory = (cluster: Cluster | null, options: AgentOptions) => unknown;

/**
 * client-node builds a new https.Agent for every request, so every read paid a fresh TLS
 * handshake and CA parsing: most of the tool's own CPU in a run whose HPA check re-reads for
 * tens of seconds, little in an ordinary run (BENCHMARKS.md). One keep-alive agent per TLS identity (CA,
 * client certificate, server name) for this KubeConfig reuses the connections instead; the
 * bearer token travels in each request's header, so a fresh token needs no new agent.
 * Proxied and plain-HTTP clusters keep client-node's own agents.
 */
export function reuseConnections(kc: KubeConfig): void {
  const target = kc as unknown as { createAgent?: AgentFactory };
  const original = target.createAgent?.bind(kc);
  if (!original) return;
  const agents = new Map<string, Agent>();
  target.createAgent = (cluster, options) => {
    if (!cluster?.server.startsWith('https:') || cluster.proxyUrl) return original(cluster, options);
    const key = JSON.stringify(
      [options.ca, options.cert, options.key, options.pfx, options.passphrase]
        .map((v) => String(v ?? ''))
        .concat(String(options.servername ?? ''), String(options.rejectUnauthorized ?? '')),
    );
    let agent = agents.get(key);
    if (!agent) {
      // Idle sockets are unref'd by node: they never keep the process alive.
      agent = new Agent({ ...options, keepAlive: true, scheduling: 'lifo' });
      agents.set(key, agent);
    }
    return agent;
  };
}

const refreshers = new WeakMap<KubeConfig, () => void>();

/**
 * After a 401: the next request mints a fresh token (when this run mints them; a
 * kubeconfig's own exec plugin refreshes by itself when its credential expires).
 */
export function tokenRefused(kc: KubeConfig): void {
  refreshers.get(kc)?.();
}

function useTokenSource(kc: KubeConfig, token: EksTokenSource) {
  const user = kc.getCurrentUser();
  const context = kc.getContextObject(kc.getCurrentContext());
  if (!user || !context) return;
  const replaced = { name: user.name, authProvider: { name: EKS_TOKEN_PROVIDER, config: {} } };
  kc.loadFromOptions({
    clusters: kc.getClusters(),
    contexts: kc.getContexts(),
    currentContext: kc.getCurrentContext(),
    users: kc.getUsers().map((u) => (u.name === user.name ? replaced : u)),
  });
  refreshers.set(kc, token.refused);
  kc.addAuthenticator({
    isAuthProvider: (u) => u.authProvider?.name === EKS_TOKEN_PROVIDER,
    applyAuthentication: async (_u, opts) => {
      const bearer = await token(REQUEST_TOKEN_SECONDS);
      if (!bearer) throw new Error('no EKS token');
      opts.headers = { ...opts.headers, Authorization: `Bearer ${bearer}` };
    },
  });
}

/** HTTP status of a failed API call (ApiException or a watch error), if it has one. */
export function httpStatusOf(err: unknown): number | undefined {
  if (err instanceof ApiException) return err.code;
  const e = err as { statusCode?: number; code?: unknown } | undefined;
  return e?.statusCode ?? (typeof e?.code === 'number' ? e.code : undefined);
}

/**
 * The apiserver's own words for a failed call: ApiException carries the Status
 * object as a JSON string in `body`; its `message` is a generic "HTTP-Code: 500…".
 */
export function apiErrorMessage(err: unknown): string {
  if (err instanceof ApiException) {
    const body: unknown = err.body;
    try {
      const status = (typeof body === 'string' ? JSON.parse(body) : body) as { message?: string };
      if (status?.message) return `${err.code}: ${status.message}`;
    } catch {
      // not JSON: fall through to the exception's message
    }
    return `${err.code}: ${String(body || err.message).slice(0, 300)}`;
  }
  const code = httpStatusOf(err);
  const message = err instanceof Error ? err.message : String(err);
  return code ? `${code}: ${message}` : message;
}

/** Resolves to the promise's value, or rejects after `ms`; for reads that must not hold up a verdict. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms / 1000}s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The API server's gitVersion (`/version`, e.g. v1.30.4-eks-a737599); undefined when it does not answer in 5 s. */
export async function serverVersionOf(kc: KubeConfig): Promise<string | undefined> {
  try {
    const info = await withTimeout(kc.makeApiClient(VersionApi).getCode(), 5000, 'reading /version');
    return info.gitVersion;
  } catch {
    return undefined;
  }
}
