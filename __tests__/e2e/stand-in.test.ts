// The local EKS stand-in (local-cluster/up.sh): a real control plane plus the AWS harness
// (moto seeded with ECR/IAM/EKS, and the apiserver's TokenReview webhook that verifies
// EKS tokens). Reached only through our own aws/ code, as a deploy reaches EKS:
// DescribeCluster -> kubeconfig whose exec plugin is `dist/cli.js token`.
//
// It runs in its own run dir (.cache/lc-stand-in-test), next to the e2e suite's shared
// stand-in, so neither that one nor a developer's is touched, and is stopped again at the end.
import { spawnSync } from 'node:child_process';
import { CoreV1Api, Watch } from '@kubernetes/client-node';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { awsClients } from '../../src/aws/clients.js';
import { resolveImages } from '../../src/aws/ecr.js';
import { describeActiveCluster, writeKubeconfig, type EksCluster } from '../../src/aws/eks.js';
import { createEksToken, eksTokenSource } from '../../src/aws/token.js';
import { DeployError } from '../../src/errors.js';
import { findHelm, requireSupportedHelm } from '../../src/helm/binary.js';
import { Helm } from '../../src/helm/helm.js';
import { connectKubeConfig } from '../../src/kube/client.js';
import { execRunner } from '../../src/runner.js';
import { SERVICES } from '../../scripts/stand-in.mjs';

const REPO = join(import.meta.dirname, '..', '..');
const LC = join(REPO, 'local-cluster');
const RUN = join(REPO, '.cache', 'lc-stand-in-test');
const KUBECTL = join(REPO, '.cache', 'tools', 'helm4', 'kubectl');
const CLI = join(REPO, 'dist', 'cli.js');
/** A user's own AWS settings must not leak into the stand-in's. */
const AWS_CLEARED = ['AWS_PROFILE', 'AWS_SESSION_TOKEN', 'AWS_ROLE_ARN', 'AWS_WEB_IDENTITY_TOKEN_FILE'];

const savedEnv = { ...process.env };
let standIn: Record<string, string>;
let baseEnv: NodeJS.ProcessEnv;
let cluster: EksCluster;
let tmp: string;

function script(name: 'up.sh' | 'down.sh') {
  return spawnSync('bash', [join(LC, name)], { encoding: 'utf8', env: baseEnv, timeout: 170_000 });
}

/** Fails (never skips) when the binaries are missing: a skipped test hides a broken setup. */
function requireBuiltCluster() {
  const dir = spawnSync(
    'bash',
    ['--norc', '-c', `source "${LC}/lib.sh" && lc_bin_dir && lc_registry_bin_dir && lc_metrics_bin_dir`],
    {
      encoding: 'utf8',
    },
  );
  const [bin, registryBin, metricsBin] = dir.stdout.trim().split('\n');
  const missing = [
    ...['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kwok'].map((b) => [bin, b]),
    [registryBin, 'ecr-registry'],
    [metricsBin, 'metrics-server'],
  ]
    .filter(([d, b]) => !d || !existsSync(join(d, b!)))
    .map(([, b]) => b);
  if (dir.status !== 0 || missing.length) {
    throw new Error(
      `the local cluster is not built (missing ${missing.join(', ') || 'bin dir'} in ${bin || '?'}): ` +
        `run local-cluster/build.sh once (it takes many minutes), then rerun this test. ${dir.stderr}`,
    );
  }
}

/** The `export K=V` lines of the env file up.sh writes. */
function readEnvFile(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of readFileSync(join(RUN, 'env'), 'utf8').split('\n')) {
    const m = /^(?:export )?([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m) env[m[1]!] = m[2]!.replace(/^"|"$/g, '');
  }
  return env;
}

function kubectl(kubeconfig: string, args: string[], input?: string) {
  const res = spawnSync(KUBECTL, ['--kubeconfig', kubeconfig, ...args], {
    encoding: 'utf8',
    env: { ...baseEnv, ...standIn },
    timeout: 60_000,
    input,
  });
  if (res.status !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${res.status}): ${res.stderr}`);
  return res.stdout;
}

/** GET <apiserver>/api with a bearer token, trusting only the stand-in's CA: the HTTP status. */
function apiStatus(token: string): Promise<number> {
  return new Promise((done, fail) => {
    const req = request(
      `${cluster.endpoint}/api`,
      {
        ca: Buffer.from(cluster.certificateAuthority, 'base64'),
        headers: { Authorization: `Bearer ${token}` },
      },
      (res) => {
        res.resume();
        res.on('end', () => done(res.statusCode ?? 0));
      },
    );
    req.on('error', fail);
    req.end();
  });
}

async function harness(path: string, method = 'GET') {
  const res = await fetch(`${standIn.LOCAL_HARNESS_URL}${path}`, { method });
  expect(res.status).toBe(200);
  return (await res.json()) as {
    total: number;
    services: Record<string, Record<string, number>>;
    tokenReviews: { accepted: number; refused: number };
  };
}

beforeAll(async () => {
  requireBuiltCluster();
  baseEnv = { ...savedEnv, ECOMMERCE_DEPLOY_RUN: RUN };
  for (const k of AWS_CLEARED) delete baseEnv[k];
  const up = script('up.sh');
  if (up.status !== 0) {
    throw new Error(
      `local-cluster/up.sh failed (state in ${RUN}):\n${up.stderr.split('\n').slice(-30).join('\n')}`,
    );
  }
  standIn = readEnvFile();
  // What a developer gets from `source <run dir>/env`; the SDK's own chain reads it.
  for (const k of AWS_CLEARED) delete process.env[k];
  for (const k of Object.keys(standIn).filter((k) => k.startsWith('AWS_'))) process.env[k] = standIn[k];
  const { eks } = awsClients(standIn.AWS_REGION!);
  cluster = await describeActiveCluster(eks, standIn.EKS_CLUSTER_NAME!, standIn.AWS_REGION!);
  tmp = await mkdtemp(join(tmpdir(), 'stand-in-test-'));
}, 200_000);

afterAll(async () => {
  process.env = { ...savedEnv };
  if (tmp) await rm(tmp, { recursive: true, force: true });
  if (baseEnv) script('down.sh'); // no-op when the last test already stopped it
}, 60_000);

describe('local EKS stand-in', () => {
  it('says so and exits 0 when it is already up', () => {
    const again = script('up.sh');

    expect(again.status).toBe(0);
    expect(again.stderr).toContain('already running');
    expect(again.stdout.trim().split('\n').pop()).toBe(join(RUN, 'kubeconfig'));
  });

  it('describes the EKS cluster as the local apiserver, reached with our own EKS token', async () => {
    expect(cluster.endpoint).toBe(standIn.LOCAL_CLUSTER_SERVER);
    const kube = await writeKubeconfig(
      cluster,
      {
        command: process.execPath,
        args: [CLI, 'token', '--cluster-name', cluster.name, '--region', cluster.region],
      },
      { dir: tmp },
    );

    const whoami = JSON.parse(kubectl(kube.path, ['auth', 'whoami', '-o', 'json']));
    const canDeploy = kubectl(kube.path, ['auth', 'can-i', 'create', 'deployments.apps', '-n', 'default']);
    const nodes = JSON.parse(kubectl(kube.path, ['get', 'nodes', '-o', 'json'])) as {
      items: { metadata: { labels: Record<string, string> } }[];
    };

    expect(whoami.status.userInfo.username).toBe('arn:aws:iam::123456789012:user/local-deployer');
    expect(whoami.status.userInfo.groups).toContain('ecommerce:deployers');
    expect(canDeploy.trim()).toBe('yes');
    expect(nodes.items).toHaveLength(3);
    expect(new Set(nodes.items.map((n) => n.metadata.labels['topology.kubernetes.io/zone']))).toEqual(
      new Set(['us-east-1a', 'us-east-1b', 'us-east-1c']),
    );
    await kube.dispose();
  });

  it('refuses, through the webhook, tokens for another cluster, expired or wrongly signed', async () => {
    const region = standIn.AWS_REGION!;
    const credentials = {
      accessKeyId: standIn.AWS_ACCESS_KEY_ID!,
      secretAccessKey: standIn.AWS_SECRET_ACCESS_KEY!,
    };
    const token = async (opts: { clusterName?: string; secret?: string; now?: Date }) =>
      (
        await createEksToken({
          clusterName: opts.clusterName ?? cluster.name,
          region,
          credentials: { ...credentials, secretAccessKey: opts.secret ?? credentials.secretAccessKey },
          now: opts.now,
        })
      ).token;
    const before = await harness('/_harness/calls');

    const good = await apiStatus(await token({}));
    const otherCluster = await apiStatus(await token({ clusterName: 'shop-prod' }));
    const expired = await apiStatus(await token({ now: new Date(Date.now() - 20 * 60_000) }));
    const wrongSecret = await apiStatus(await token({ secret: 'not-the-secret' }));
    const garbage = await apiStatus('k8s-aws-v1.bm90IGEgdXJs');

    expect({ good, otherCluster, expired, wrongSecret, garbage }).toEqual({
      good: 200,
      otherCluster: 401,
      expired: 401,
      wrongSecret: 401,
      garbage: 401,
    });
    const after = await harness('/_harness/calls');
    expect(after.tokenReviews.refused - before.tokenReviews.refused).toBeGreaterThanOrEqual(4);
    const log = readFileSync(join(RUN, 'logs', 'harness.log'), 'utf8');
    expect(log).toContain('refused: SignatureDoesNotMatch');
    expect(log).toContain('refused: X-Amz-Date is expired');
  });

  it.each([
    ['helm 3', join(REPO, '.cache', 'tools', 'helm3', 'helm')],
    ['helm 4', join(REPO, '.cache', 'tools', 'helm4', 'helm')],
  ])('%s authenticates with the token minted in process, never starting the exec plugin', async (_, path) => {
    // An exec plugin that fails loudly: if helm ran it, the command would fail with its words.
    const plugin = join(tmp, 'plugin-must-not-run.sh');
    writeFileSync(plugin, '#!/bin/sh\necho "exec plugin ran" >&2\nexit 1\n', { mode: 0o755 });
    const kube = await writeKubeconfig(cluster, { command: plugin, args: [] }, { dir: tmp });
    const helmBinary = requireSupportedHelm(await findHelm({ run: execRunner, explicit: path }));
    const { credentials } = awsClients(cluster.region);
    const minted: string[] = [];
    const token = eksTokenSource({
      clusterName: cluster.name,
      region: cluster.region,
      credentials,
      onToken: (t) => minted.push(t),
    });
    const withToken = new Helm({ run: execRunner, helm: helmBinary, kubeconfig: kube.path, token });
    const withPlugin = new Helm({ run: execRunner, helm: helmBinary, kubeconfig: kube.path });

    const listed = await withToken.releases('default');
    const history = await withToken.history('no-such-release', 'default');
    const refused = await withPlugin.releases('default').catch((e: unknown) => e);

    expect(listed).toBeInstanceOf(Map);
    expect(history).toEqual([]);
    expect(minted).toHaveLength(1);
    expect(refused).toBeInstanceOf(DeployError);
    expect((refused as DeployError).describe()).toContain('exec plugin ran');
    await kube.dispose();
  });

  it('the Kubernetes client, too, takes its token from the source: requests and watches, no exec plugin', async () => {
    const plugin = join(tmp, 'plugin-must-not-run.sh');
    writeFileSync(plugin, '#!/bin/sh\necho "exec plugin ran" >&2\nexit 1\n', { mode: 0o755 });
    const kube = await writeKubeconfig(cluster, { command: plugin, args: [] }, { dir: tmp });
    const minted: string[] = [];
    const token = eksTokenSource({
      clusterName: cluster.name,
      region: cluster.region,
      credentials: awsClients(cluster.region).credentials,
      onToken: (t) => minted.push(t),
    });

    const kc = await connectKubeConfig(kube.path, token);
    const nodes = await kc.makeApiClient(CoreV1Api).listNode();
    let started: Promise<AbortController> | undefined;
    const watched = await new Promise<string>((done, fail) => {
      started = new Watch(kc).watch(
        '/api/v1/nodes',
        {},
        (phase, node: { metadata: { name: string } }) => done(`${phase} ${node.metadata.name}`),
        fail,
      );
      started.catch(fail);
    });
    (await started!).abort();
    const withPlugin = await connectKubeConfig(kube.path).catch((e: unknown) => e);

    expect(nodes.items).toHaveLength(3);
    expect(watched).toMatch(/^ADDED /);
    expect(minted).toHaveLength(1);
    expect(withPlugin).toBeInstanceOf(DeployError);
    expect((withPlugin as DeployError).describe()).toContain('exec plugin ran');
    expect(readFileSync(kube.path, 'utf8')).toContain('plugin-must-not-run.sh'); // the file is unchanged
    await kube.dispose();
  });

  it("resolves the seeded services' v1 digests in ECR, and the harness counts the calls", async () => {
    const { ecr } = awsClients(standIn.AWS_REGION!);
    await harness('/_harness/calls/reset', 'POST');

    const { images, calls } = await resolveImages(
      ecr,
      SERVICES.map((service) => ({ service, repository: service, tag: 'v1' })),
    );
    const counted = await harness('/_harness/calls');
    const v2 = await resolveImages(ecr, [{ service: 'user-service', repository: 'user-service', tag: 'v2' }]);

    const digests = SERVICES.map((s) => images.get(s)?.digest);
    expect(digests.every((d) => /^sha256:[0-9a-f]{64}$/.test(d ?? ''))).toBe(true);
    expect(new Set(digests).size).toBe(SERVICES.length);
    expect(images.get('order-service')?.uri).toBe(
      '123456789012.dkr.ecr.us-east-1.amazonaws.com/order-service',
    );
    expect(v2.images.get('user-service')?.digest).not.toBe(images.get('user-service')?.digest);
    expect(calls).toBe(1 + SERVICES.length);
    expect(counted.services).toEqual({ ecr: { DescribeRepositories: 1, BatchGetImage: SERVICES.length } });
    expect(counted.total).toBe(calls);
  });

  it("serves container logs through the API server: a crash-looping pod's is the shipped crash log", async () => {
    const admin = join(RUN, 'kubeconfig');
    const pod = (name: string, image: string) =>
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name, namespace: 'default' },
        spec: { containers: [{ name: 'app', image }] },
      });
    kubectl(
      admin,
      ['apply', '-f', '-'],
      pod('crashing', 'example/shop-crashloop:v1') + pod('healthy', 'example/shop:v1'),
    );
    // The crash loop stage restarts the container every CRASHLOOP_DELAY (3s).
    const deadline = Date.now() + 30_000;
    while (
      !Number(
        kubectl(admin, [
          'get',
          'pod',
          'crashing',
          '-o',
          'jsonpath={.status.containerStatuses[0].restartCount}',
        ]),
      )
    ) {
      if (Date.now() > deadline) throw new Error('pod "crashing" did not restart within 30s');
      await new Promise((r) => setTimeout(r, 500));
    }
    const crashLog = readFileSync(join(LC, 'logs', 'crashloop.log'), 'utf8');
    const appLog = readFileSync(join(LC, 'logs', 'app.log'), 'utf8');

    const current = kubectl(admin, ['logs', 'crashing']);
    const previous = kubectl(admin, ['logs', 'crashing', '--previous', '--tail', '5']);
    const healthy = kubectl(admin, ['logs', 'healthy']);

    expect(crashLog).toContain('Error: connect ECONNREFUSED 10.0.3.12:5432 (DATABASE_URL)');
    expect(current).toBe(crashLog);
    expect(previous).toBe(crashLog.split('\n').slice(-6).join('\n'));
    expect(healthy).toBe(appLog);
    expect(healthy).not.toContain('ECONNREFUSED');
    expect(() => kubectl(admin, ['logs', 'healthy', '--previous'])).toThrow(/no-previous-container/);
    kubectl(admin, ['delete', 'pod', 'crashing', 'healthy', '--wait=false']);
  });

  it('down.sh leaves no process of its run dir', () => {
    const pids = readdirSync(join(RUN, 'pids')).map((f) =>
      Number(readFileSync(join(RUN, 'pids', f), 'utf8')),
    );
    // etcd, apiserver, controller-manager, scheduler, kwok, pod-logs, harness, registry, metrics-server
    expect(pids).toHaveLength(9);

    const down = script('down.sh');

    expect({ status: down.status, stderr: down.stderr }).toMatchObject({ status: 0 });
    // A zombie (exited, not yet reaped: CI runners' init may never reap orphans) is not running.
    const alive = pids.filter((pid) => {
      try {
        const state = readFileSync(`/proc/${pid}/stat`, 'utf8')
          .replace(/^.*\) /s, '')
          .split(' ')[0];
        return state !== 'Z' && state !== 'X';
      } catch {
        return false;
      }
    });
    expect(alive).toEqual([]);
    const ps = spawnSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' }).stdout;
    expect(ps.split('\n').filter((l) => l.includes(RUN))).toEqual([]);
  });
});
