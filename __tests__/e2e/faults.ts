/**
 * Fault-injection handles on the local EKS stand-in, for fault scenarios:
 * local-cluster/faults/api-proxy.mjs (an HTTPS proxy before the apiserver that answers
 * matching requests with 429/503/resets), local-cluster/faults/apiserver.sh
 * (pause/resume/restart the apiserver), and the AWS harness's knobs (the EKS endpoint
 * DescribeCluster returns, the webhook's token max age, the test credentials).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { repoRoot, type StandInEnv } from '../../scripts/stand-in.mjs';

const FAULTS = join(repoRoot, 'local-cluster', 'faults');

/** A rule of api-proxy.mjs (see its header for the fields). */
export interface FaultRule {
  id?: string;
  method?: string | string[];
  /** Regex on the request path, without the query. */
  path?: string;
  watch?: boolean;
  /** Regex on the User-Agent header (helm's requests: Helm/...). */
  userAgent?: string;
  action: '429' | '503' | 'reset' | 'delay' | 'cut';
  probability?: number;
  every?: number;
  skip?: number;
  times?: number;
  /** Epoch ms or ISO time before which the rule does not match. */
  after?: number | string;
  retryAfter?: number;
  delayMs?: number;
  afterMs?: number;
}

interface FaultStats {
  upstream: string;
  requests: number;
  forwarded: number;
  injected: number;
  upstreamErrors: number;
  rules: (FaultRule & { id: string; matched: number; injected: number })[];
}

export interface ApiProxy {
  /** https://127.0.0.1:<port>: give it to the harness as the cluster endpoint. */
  url: string;
  /** http://127.0.0.1:<port>: the control endpoint (/_faults). */
  control: string;
  child: ChildProcess;
  /** Adds rules (a rule with an existing id replaces it); returns their ids. */
  addRules(rules: FaultRule | FaultRule[]): Promise<string[]>;
  /** Replaces all rules. */
  setRules(rules: FaultRule[]): Promise<void>;
  clearRules(): Promise<void>;
  stats(): Promise<FaultStats>;
  resetStats(): Promise<void>;
  /** SIGTERM; resolves once it has exited. */
  stop(): Promise<void>;
}

/** Starts api-proxy.mjs before the stand-in in `runDir`; resolves once it listens. */
export async function startApiProxy(runDir: string, rules: FaultRule[] = []): Promise<ApiProxy> {
  const child = spawn(
    process.execPath,
    [join(FAULTS, 'api-proxy.mjs'), '--run-dir', runDir, '--rules', JSON.stringify(rules)],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const first = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`api-proxy exited (${code}) before listening: ${stderr}`)));
  });
  const { url, control } = JSON.parse(first) as { url: string; control: string };
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(control + path, {
      method,
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    const doc = (await res.json()) as FaultStats & { ids?: string[]; error?: string };
    if (!res.ok) throw new Error(`api-proxy ${method} ${path}: ${res.status} ${doc.error}`);
    return doc;
  };
  return {
    url,
    control,
    child,
    addRules: async (r) => (await call('POST', '/_faults', { rules: [r].flat() })).ids ?? [],
    setRules: async (r) => void (await call('PUT', '/_faults', { rules: r })),
    clearRules: async () => void (await call('DELETE', '/_faults')),
    stats: () => call('GET', '/_faults'),
    resetStats: async () => void (await call('POST', '/_faults/reset')),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** local-cluster/faults/apiserver.sh pause|resume|restart|status on the stand-in in `runDir`. */
export function apiserver(
  runDir: string,
  command: 'pause' | 'resume' | 'restart' | 'status',
  extraEnv: Record<string, string> = {},
): string {
  const res = spawnSync('bash', [join(FAULTS, 'apiserver.sh'), command], {
    env: { ...process.env, ECOMMERCE_DEPLOY_RUN: runDir, ...extraEnv },
    encoding: 'utf8',
  });
  if (res.status !== 0) throw new Error(`apiserver.sh ${command} failed (${res.status}): ${res.stderr}`);
  return res.stdout.trim();
}

async function harnessCall(env: StandInEnv, method: string, path: string, body?: unknown) {
  const res = await fetch(env.AWS_ENDPOINT_URL + path, {
    method,
    ...(body !== undefined && {
      body: JSON.stringify(body),
      headers: { 'Content-Type': 'application/json' },
    }),
  });
  const doc = (await res.json()) as Record<string, unknown>;
  if (!res.ok) throw new Error(`harness ${method} ${path}: ${res.status} ${JSON.stringify(doc)}`);
  return doc;
}

/** The AWS harness's fault knobs. */
export const harness = {
  /** Makes EKS DescribeCluster return this endpoint (e.g. an ApiProxy's url). */
  setClusterEndpoint: (env: StandInEnv, endpoint: string) =>
    harnessCall(env, 'POST', '/_harness/cluster-endpoint', { endpoint }),
  resetClusterEndpoint: (env: StandInEnv) => harnessCall(env, 'POST', '/_harness/cluster-endpoint/reset'),
  /** The webhook refuses tokens whose X-Amz-Date is older than this (EKS: 900). */
  setTokenMaxAge: (env: StandInEnv, seconds: number) =>
    harnessCall(env, 'POST', '/_harness/token-max-age', { seconds }),
  resetTokenMaxAge: (env: StandInEnv) => harnessCall(env, 'POST', '/_harness/token-max-age/reset'),
};

export interface TestCredential {
  name: string;
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  arn: string;
  groups: string[];
}

/** A test credential of local-cluster/aws/credentials.json, by name (e.g. namespace-deployer). */
export function testCredential(name: string): TestCredential {
  const file = join(repoRoot, 'local-cluster', 'aws', 'credentials.json');
  const { credentials } = JSON.parse(readFileSync(file, 'utf8')) as { credentials: TestCredential[] };
  const found = credentials.find((c) => c.name === name);
  if (!found) throw new Error(`no test credential ${name} in ${file}`);
  return found;
}

/** The AWS_* environment of a test credential, for `ecommerce-deploy` or the SDK. */
export function credentialEnv(c: TestCredential): Record<string, string> {
  return {
    AWS_ACCESS_KEY_ID: c.accessKeyId,
    AWS_SECRET_ACCESS_KEY: c.secretAccessKey,
    ...(c.sessionToken && { AWS_SESSION_TOKEN: c.sessionToken }),
  };
}

export interface KubeResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request to an apiserver (or the proxy) with a bearer token, trusting the stand-in's CA. */
export function kubeRequest(
  server: string,
  path: string,
  opts: {
    token?: string;
    ca: string;
    method?: string;
    body?: unknown;
    timeoutMs?: number;
    userAgent?: string;
  },
): Promise<KubeResponse> {
  return new Promise((resolve, reject) => {
    const data = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    const req = httpsRequest(
      new URL(path, server),
      {
        method: opts.method ?? 'GET',
        ca: readFileSync(opts.ca),
        agent: false,
        headers: {
          ...(opts.token && { Authorization: `Bearer ${opts.token}` }),
          ...(data && { 'Content-Type': 'application/json' }),
          ...(opts.userAgent && { 'User-Agent': opts.userAgent }),
        },
        timeout: opts.timeoutMs ?? 20_000,
      },
      (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timed out: ${path}`)));
    req.on('error', reject);
    req.end(data);
  });
}
