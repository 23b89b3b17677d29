/**
 * The fault-injection tools themselves, on the shared e2e stand-in: the API proxy
 * (forwarding, streaming watches, injected 429/503/resets, counters), pausing and
 * restarting the apiserver, the harness's EKS endpoint and token knobs, the
 * namespace-scoped credential, and the least-privilege Role in rbac/.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DescribeClusterCommand, EKSClient } from '@aws-sdk/client-eks';
import { kubectl, readStandInEnv, repoRoot, type StandInEnv } from '../../scripts/stand-in.mjs';
import { createEksToken } from '../../src/aws/token.js';
import {
  apiserver,
  credentialEnv,
  harness,
  kubeRequest,
  startApiProxy,
  testCredential,
  type ApiProxy,
  type TestCredential,
} from './faults.js';
import { runNode } from './run.js';

const NS = 'e2e-faults';
const HELM4 = resolve('.cache/tools/helm4/helm');

let env: StandInEnv;
let runDir: string;
let server: string;
let ca: string;

/** An EKS token for a test credential, signed `ageSeconds` ago. */
async function token(cred: TestCredential = testCredential('deployer'), ageSeconds = 0): Promise<string> {
  const t = await createEksToken({
    clusterName: env.EKS_CLUSTER_NAME,
    region: env.AWS_REGION,
    credentials: {
      accessKeyId: cred.accessKeyId,
      secretAccessKey: cred.secretAccessKey,
      ...(cred.sessionToken && { sessionToken: cred.sessionToken }),
    },
    now: new Date(Date.now() - ageSeconds * 1000),
  });
  return t.token;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(() => {
  const found = readStandInEnv(process.env.E2E_RUN_DIR);
  if (!found) throw new Error('the e2e stand-in is not running: run the e2e tests with `npm run test:e2e`');
  env = found;
  runDir = process.env.E2E_RUN_DIR!;
  const envFile = readFileSync(join(runDir, 'env'), 'utf8');
  server = /^LOCAL_CLUSTER_SERVER="?([^"\n]+)"?$/m.exec(envFile)![1]!;
  ca = join(runDir, 'pki', 'ca.crt');
  kubectl(env, ['create', 'namespace', NS], { allowFailure: true });
});

describe('api-proxy.mjs', () => {
  let proxy: ApiProxy;
  let tok: string;

  beforeAll(async () => {
    proxy = await startApiProxy(runDir);
    tok = await token();
  });
  afterAll(() => proxy?.stop());
  beforeEach(() => proxy.setRules([]));

  it('forwards a request with its bearer token and serves TLS the CA trusts', async () => {
    const direct = await kubeRequest(server, `/api/v1/namespaces/${NS}`, { token: tok, ca });
    const viaProxy = await kubeRequest(proxy.url, `/api/v1/namespaces/${NS}`, { token: tok, ca });
    expect(viaProxy.status).toBe(200);
    expect(JSON.parse(viaProxy.body).metadata.uid).toBe(JSON.parse(direct.body).metadata.uid);
    // Without the token the apiserver sees an anonymous request: the header is what authenticates.
    const anonymous = await kubeRequest(proxy.url, `/api/v1/namespaces/${NS}`, { ca });
    expect(anonymous.status).toBe(403);
  });

  it('streams a watch: an event arrives while the response is still open', async () => {
    const list = JSON.parse(
      (await kubeRequest(proxy.url, `/api/v1/namespaces/${NS}/configmaps`, { token: tok, ca })).body,
    );
    const events: string[] = [];
    let ended = false;
    const req = httpsRequest(
      new URL(
        `/api/v1/namespaces/${NS}/configmaps?watch=true&resourceVersion=${list.metadata.resourceVersion}`,
        proxy.url,
      ),
      { ca: readFileSync(ca), agent: false, headers: { Authorization: `Bearer ${tok}` } },
      (res) => {
        res.on('data', (d: Buffer) => events.push(d.toString()));
        res.on('end', () => (ended = true));
      },
    );
    req.on('error', () => {});
    req.end();
    await sleep(500);
    const name = `watched-${Date.now()}`;
    kubectl(env, ['create', 'configmap', name, '-n', NS, '--from-literal=k=v']);
    const deadline = Date.now() + 10_000;
    while (!events.join('').includes(name) && Date.now() < deadline) await sleep(100);
    expect(events.join('')).toContain(`"type":"ADDED"`);
    expect(events.join('')).toContain(name);
    expect(ended).toBe(false);
    req.destroy();
  });

  it('answers every 2nd matching request with 429, Retry-After: 1 and a Status body, and counts', async () => {
    await proxy.resetStats();
    await proxy.addRules({
      id: 'throttle',
      method: 'GET',
      path: '^/api/v1/namespaces/[^/]+$',
      action: '429',
      every: 2,
    });
    const statuses: number[] = [];
    let throttled: Awaited<ReturnType<typeof kubeRequest>> | undefined;
    for (let i = 0; i < 4; i++) {
      const r = await kubeRequest(proxy.url, `/api/v1/namespaces/${NS}`, { token: tok, ca });
      statuses.push(r.status);
      if (r.status === 429) throttled = r;
    }
    // Not matched: another method, another path.
    expect((await kubeRequest(proxy.url, '/version', { token: tok, ca })).status).toBe(200);
    expect(statuses).toEqual([200, 429, 200, 429]);
    expect(throttled!.headers['retry-after']).toBe('1');
    expect(JSON.parse(throttled!.body)).toMatchObject({
      kind: 'Status',
      status: 'Failure',
      reason: 'TooManyRequests',
      code: 429,
      details: { retryAfterSeconds: 1 },
    });
    const stats = await proxy.stats();
    expect(stats).toMatchObject({ requests: 5, forwarded: 3, injected: 2 });
    expect(stats.rules).toEqual([expect.objectContaining({ id: 'throttle', matched: 4, injected: 2 })]);
  });

  it('answers only the first N matching non-watch requests with 503 (times)', async () => {
    await proxy.addRules({
      id: 'post-upgrade-read',
      method: 'GET',
      path: `^/api/v1/namespaces/${NS}/configmaps$`,
      watch: false,
      action: '503',
      times: 1,
    });
    const path = `/api/v1/namespaces/${NS}/configmaps`;
    const first = await kubeRequest(proxy.url, path, { token: tok, ca });
    const second = await kubeRequest(proxy.url, path, { token: tok, ca });
    expect(first.status).toBe(503);
    expect(JSON.parse(first.body)).toMatchObject({ kind: 'Status', reason: 'ServiceUnavailable', code: 503 });
    expect(second.status).toBe(200);
    const [rule] = (await proxy.stats()).rules;
    expect(rule).toMatchObject({ matched: 2, injected: 1 });
  });

  it("matches by User-Agent, so helm's requests and the tool's own can be told apart", async () => {
    await proxy.addRules({ id: 'helm-only', path: '^/version$', userAgent: '^Helm/', action: '503' });
    const tool = await kubeRequest(proxy.url, '/version', { token: tok, ca, userAgent: 'node-fetch/1.0' });
    const helm = await kubeRequest(proxy.url, '/version', { token: tok, ca, userAgent: 'Helm/4.1.4' });
    expect([tool.status, helm.status]).toEqual([200, 503]);
    expect((await proxy.stats()).rules[0]).toMatchObject({ matched: 1, injected: 1 });
  });

  it('resets the connection of a matching request', async () => {
    await proxy.addRules({ path: '^/version$', action: 'reset' });
    await expect(kubeRequest(proxy.url, '/version', { token: tok, ca })).rejects.toMatchObject({
      code: 'ECONNRESET',
    });
    expect((await kubeRequest(proxy.url, '/readyz', { token: tok, ca })).status).toBe(200);
  });

  it('refuses a bad rule on the control port and keeps the old ones', async () => {
    await proxy.addRules({ id: 'keep', path: '^/nothing$', action: '503' });
    const res = await fetch(proxy.control + '/_faults', { method: 'POST', body: '{"action":"teapot"}' });
    expect(res.status).toBe(400);
    expect((await proxy.stats()).rules.map((r) => r.id)).toEqual(['keep']);
  });

  it('is what EKS DescribeCluster returns once the harness endpoint is set, until reset', async () => {
    const eks = new EKSClient({
      region: env.AWS_REGION,
      endpoint: env.AWS_ENDPOINT_URL,
      credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY },
    });
    const endpoint = async () =>
      (await eks.send(new DescribeClusterCommand({ name: env.EKS_CLUSTER_NAME }))).cluster?.endpoint;
    try {
      await harness.setClusterEndpoint(env, proxy.url);
      expect(await endpoint()).toBe(proxy.url);
    } finally {
      await harness.resetClusterEndpoint(env);
    }
    expect(await endpoint()).toBe(server);
    await expect(harness.setClusterEndpoint(env, 'http://plain')).rejects.toThrow(/400/);
  });

  it('stops on SIGTERM', async () => {
    const other = await startApiProxy(runDir);
    await other.stop();
    expect(other.child.signalCode ?? other.child.exitCode).toBe(0);
    await expect(fetch(other.control + '/_faults')).rejects.toThrow();
  });
});

describe('apiserver.sh', () => {
  it('pause makes a request hang; resume lets it finish', async () => {
    const tok = await token();
    expect(apiserver(runDir, 'status')).toMatch(/^running \d+$/);
    let settled = false;
    apiserver(runDir, 'pause');
    try {
      expect(apiserver(runDir, 'status')).toMatch(/^paused \d+$/);
      const pending = kubeRequest(server, `/api/v1/namespaces/${NS}`, { token: tok, ca, timeoutMs: 30_000 });
      void pending.finally(() => (settled = true));
      await sleep(2000);
      expect(settled).toBe(false);
      apiserver(runDir, 'resume');
      expect((await pending).status).toBe(200);
    } finally {
      apiserver(runDir, 'resume');
    }
  });

  it('restart brings it back with the same command line, in a process group down.sh stops, and the cluster works', async () => {
    const pidFile = join(runDir, 'pids', 'kube-apiserver.pid');
    const before = readFileSync(pidFile, 'utf8').trim();
    const cmdline = readFileSync(`/proc/${before}/cmdline`, 'utf8');
    apiserver(runDir, 'restart');
    const after = readFileSync(pidFile, 'utf8').trim();
    expect(after).not.toBe(before);
    expect(readFileSync(`/proc/${after}/cmdline`, 'utf8')).toBe(cmdline);
    // down.sh signals the pid file's process group and checks the name in its cmdline.
    const pgid = spawnSync('ps', ['-o', 'pgid=', '-p', after], { encoding: 'utf8' }).stdout.trim();
    expect(pgid).toBe(after);
    expect(readFileSync(join(runDir, 'logs', 'kube-apiserver.log'), 'utf8')).toContain(
      'restarted by local-cluster/faults/apiserver.sh',
    );
    // Controllers, scheduler and kwok reconnect: a new Deployment gets a ready pod.
    const name = `after-restart-${Date.now()}`;
    kubectl(env, ['create', 'deployment', name, '-n', NS, '--image=example/app:v1']);
    kubectl(env, ['rollout', 'status', `deployment/${name}`, '-n', NS, '--timeout=60s']);
    kubectl(env, ['delete', 'deployment', name, '-n', NS, '--wait=false']);
  });
});

describe('the token webhook', () => {
  const selfReview = async (tok: string) =>
    kubeRequest(server, '/apis/authentication.k8s.io/v1/selfsubjectreviews', {
      token: tok,
      ca,
      method: 'POST',
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
    });

  it('maps the namespace credential to ecommerce:namespace-deployers, which has no rights by default', async () => {
    const cred = testCredential('namespace-deployer');
    const tok = await token(cred);
    const review = await selfReview(tok);
    expect(review.status).toBe(201);
    const user = JSON.parse(review.body).status.userInfo;
    expect(user.username).toBe(cred.arn);
    expect(user.groups).toContain('ecommerce:namespace-deployers');
    expect(user.groups).not.toContain('ecommerce:deployers');
    expect((await kubeRequest(server, `/api/v1/namespaces/${NS}/secrets`, { token: tok, ca })).status).toBe(
      403,
    );
    const listed = (await (await fetch(`${env.AWS_ENDPOINT_URL}/_harness/credentials`)).json()) as {
      credentials: { name: string }[];
    };
    expect(listed.credentials.map((c) => c.name)).toContain('namespace-deployer');
  });

  it('refuses tokens older than the max age set at runtime, and accepts them again after reset', async () => {
    try {
      await harness.setTokenMaxAge(env, 20);
      expect((await selfReview(await token(undefined, 30))).status).toBe(401);
      expect((await selfReview(await token(undefined, 5))).status).toBe(201);
      const log = readFileSync(join(runDir, 'logs', 'harness.log'), 'utf8');
      expect(log).toContain('X-Amz-Date is expired (20 second expiration)');
    } finally {
      await harness.resetTokenMaxAge(env);
    }
    expect((await selfReview(await token(undefined, 40))).status).toBe(201);
  });
});

describe('rbac/role.yaml', () => {
  const ns = 'e2e-least-privilege';
  const cred = testCredential('namespace-deployer');
  let kubeconfig: string;

  beforeAll(async () => {
    kubectl(env, ['create', 'namespace', ns], { allowFailure: true });
    const dir = mkdtempSync(join(tmpdir(), 'e2e-rbac-'));
    kubeconfig = join(dir, 'kubeconfig');
    // A token user, as the namespace identity (minted by the CLI with that credential's
    // AWS_* settings); valid for the few seconds this takes.
    const minted = await runNode(
      env,
      [
        join(repoRoot, 'dist/cli.js'),
        'token',
        '--cluster-name',
        env.EKS_CLUSTER_NAME,
        '--region',
        env.AWS_REGION,
      ],
      credentialEnv(cred),
    );
    expect(minted.code).toBe(0);
    const nsToken = (JSON.parse(minted.stdout) as { status: { token: string } }).status.token;
    writeFileSync(
      kubeconfig,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'c', cluster: { server, 'certificate-authority': ca } }],
        users: [{ name: 'u', user: { token: nsToken } }],
        contexts: [{ name: 'c', context: { cluster: 'c', user: 'u', namespace: ns } }],
        'current-context': 'c',
      }),
    );
  });

  const helmInstall = (service: string) =>
    spawnSync(
      HELM4,
      [
        'upgrade',
        '--install',
        service,
        join(repoRoot, 'charts/ecommerce-service'),
        '--namespace',
        ns,
        '--kubeconfig',
        kubeconfig,
        '-f',
        join(repoRoot, 'charts/ecommerce-service/values/production.yaml'),
        '-f',
        join(repoRoot, `charts/ecommerce-service/values/services/${service}.yaml`),
        '--set',
        'image.tag=v1',
      ],
      { encoding: 'utf8', env: { ...process.env, HELM_CACHE_HOME: join(kubeconfig, '..', 'cache') } },
    );
  const asDeployer = (args: string[]) =>
    kubectl({ ...env, KUBECONFIG: kubeconfig }, args, { allowFailure: true });

  it('lets the namespace identity install a service with production values, and nothing without the binding', () => {
    const refused = helmInstall('user-service');
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toMatch(/secrets is forbidden/);

    kubectl(env, [
      'apply',
      '-n',
      ns,
      '-f',
      join(repoRoot, 'rbac/role.yaml'),
      '-f',
      join(repoRoot, 'rbac/rolebinding.yaml'),
    ]);
    const installed = helmInstall('user-service');
    expect({ code: installed.status, stderr: installed.stderr }).toEqual({ code: 0, stderr: '' });
    expect(asDeployer(['get', 'deploy,hpa,pdb,ingress,svc,sa', '-o', 'name'])).toEqual(
      expect.stringContaining('deployment.apps/user-service'),
    );
    expect(asDeployer(['auth', 'can-i', 'create', 'leases'])).toBe('yes\n');
  });

  it('does not let it list nodes or create namespaces', () => {
    const nodes = spawnSync(
      process.env.KUBECTL_BIN ?? join(repoRoot, '.cache', 'tools', 'helm4', 'kubectl'),
      ['--kubeconfig', kubeconfig, 'get', 'nodes'],
      { encoding: 'utf8' },
    );
    expect(nodes.stderr).toMatch(/Forbidden.*cannot list resource "nodes"/);
    const created = spawnSync(
      process.env.KUBECTL_BIN ?? join(repoRoot, '.cache', 'tools', 'helm4', 'kubectl'),
      ['--kubeconfig', kubeconfig, 'create', 'namespace', 'e2e-not-allowed'],
      { encoding: 'utf8' },
    );
    expect(created.stderr).toMatch(/Forbidden.*cannot create resource "namespaces"/);
  });
});
