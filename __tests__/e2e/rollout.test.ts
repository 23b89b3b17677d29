/**
 * Rollouts that go wrong, end to end on the local EKS stand-in, each in a namespace of
 * its own: a broken image pushed to ECR (its repository's name asks kwok for
 * ImagePullBackOff or a crash loop, see local-cluster/stages/pod.yaml), fleet rollback,
 * a PDB that blocks drains and an HPA without metrics. The bundled CLI runs as a user
 * runs it; the assertions read its JSON report and the cluster (helm's release
 * Secrets, Deployments, PDBs), and watches time what happens while it runs.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig, Watch, type V1Deployment, type V1Pod } from '@kubernetes/client-node';
import type { Report, ServiceResult } from '../../src/model.js';
import {
  createRepositories,
  helmReleases,
  kubectl,
  pushImages,
  readStandInEnv,
  repoRoot,
  restrictedNamespace,
  type HelmRevision,
  type StandInEnv,
  SERVICES,
} from '../../scripts/stand-in.mjs';
import { deployCli, writeDeployFile, type ServiceOverride } from './run.js';

const REGISTRY = '123456789012.dkr.ecr.us-east-1.amazonaws.com';
const TIMEOUT_S = 300; // the CLI's default rollout timeout, left as it is
const CRASH_LOG = readFileSync(join(repoRoot, 'local-cluster/logs/crashloop.log'), 'utf8');
const CRASH_LINE = 'Error: connect ECONNREFUSED 10.0.3.12:5432 (DATABASE_URL)';

const NS = {
  pull: 'e2e-rollout-pull',
  crash: 'e2e-rollout-crash',
  fleet: 'e2e-rollout-fleet',
  pdb: 'e2e-rollout-pdb',
  metrics: 'e2e-rollout-metrics',
};

let env: StandInEnv;
let tmp: string;
/** Each scenario's starting point, set up at once: first installs mostly wait for the HPA controller. */
/**
 * The stand-in serves metrics.k8s.io (metrics-server); the "without a metrics API" scenario
 * needs a cluster without it, so this file takes the APIService away and puts it back after.
 */
let metricsApi: string | undefined;
let setup: {
  digestsA: Record<'pull' | 'crash' | 'fleet', Record<string, string>>;
  pdb: Awaited<ReturnType<typeof deployCli>>;
  metrics: Awaited<ReturnType<typeof deployCli>>;
};

beforeAll(async () => {
  const found = readStandInEnv(process.env.E2E_RUN_DIR);
  if (!found) throw new Error('the e2e stand-in is not running: run the e2e tests with `npm run test:e2e`');
  env = found;
  tmp = mkdtempSync(join(tmpdir(), 'e2e-rollout-'));
  metricsApi = kubectl(env, ['get', 'apiservice', 'v1beta1.metrics.k8s.io', '-o', 'json']);
  kubectl(env, ['delete', 'apiservice', 'v1beta1.metrics.k8s.io']);
  const started = Date.now();
  const [pull, crash, fleet, pdb, metrics] = await Promise.all([
    releaseA(NS.pull, 'pull-a'),
    releaseA(NS.crash, 'crash-a'),
    releaseA(NS.fleet, 'fleet-a'),
    // The chart refuses minAvailable 100% and integers ≥ the pod count, but checks no other
    // percentage: 99% of 3 pods rounds up to 3. Without an HPA only the live PDB can tell.
    install(NS.pdb, 'pdb-a', ['user-service', 'product-service'], {
      'product-service': {
        values: {
          autoscaling: { enabled: false },
          replicaCount: 3,
          podDisruptionBudget: { minAvailable: '99%' },
        },
      },
    }),
    install(NS.metrics, 'hpa-a', ['notification-service']),
  ]);
  setup = { digestsA: { pull, crash, fleet }, pdb, metrics };
  note(`set-up (3 × release A of six, 2 first installs, side by side) took ${secondsSince(started)}`);
});

afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
  if (metricsApi) {
    const { metadata, spec } = JSON.parse(metricsApi) as { metadata: { name: string }; spec: object };
    const restored = {
      apiVersion: 'apiregistration.k8s.io/v1',
      kind: 'APIService',
      metadata: { name: metadata.name },
      spec,
    };
    kubectl(env, ['create', '-f', '-'], { input: JSON.stringify(restored) });
  }
});

/** What a scenario measured, printed so a run shows the numbers. */
function note(text: string) {
  process.stderr.write(`e2e rollout: ${text}\n`);
}

const secondsSince = (t: number) => `${((Date.now() - t) / 1000).toFixed(1)}s`;

function service(report: Report | undefined, name: string): ServiceResult {
  const r = report?.services.find((s) => s.service === name);
  if (!r) throw new Error(`the report has no service ${name}: ${JSON.stringify(report)}`);
  return r;
}

function deployment(ns: string, name: string): V1Deployment {
  return JSON.parse(kubectl(env, ['get', 'deploy', name, '-n', ns, '-o', 'json'])) as V1Deployment;
}

const imageOf = (d: V1Deployment) => d.spec!.template.spec!.containers[0]!.image;

function revisions(ns: string, release: string): HelmRevision[] {
  return helmReleases(env, ns).filter((r) => r.name === release);
}

function deleteNamespace(ns: string) {
  kubectl(env, ['delete', 'namespace', ns, '--wait=false'], { allowFailure: true });
}

/** A fresh restricted namespace with release A of all six services (revision 1); their digests. */
async function releaseA(ns: string, tag: string): Promise<Record<string, string>> {
  restrictedNamespace(env, ns);
  const digests = await pushImages(env, SERVICES, tag);
  const started = Date.now();
  const run = await deployCli(env, {
    namespace: ns,
    tag,
    report: join(tmp, `${ns}-a.json`),
    extraArgs: ['--concurrency', '6'],
  });
  if (run.code !== 0) throw new Error(`release A in ${ns} failed:\n${run.output}`);
  note(`${ns}: release A (six first installs, two waves) took ${secondsSince(started)}`);
  return digests;
}

/** Release B: every service at `tag`, `bad` from a repository of its own (a broken image pushed to ECR). */
async function releaseB(
  ns: string,
  tag: string,
  bad: { service: string; repository: string },
  extraArgs: string[] = [],
) {
  await createRepositories(env, [bad.repository]);
  await pushImages(env, [...SERVICES, bad.repository], tag);
  const config = writeDeployFile(tmp, `${ns}-b.yaml`, { [bad.service]: { repository: bad.repository } });
  return deployCli(env, {
    namespace: ns,
    tag,
    config,
    report: join(tmp, `${ns}-b.json`),
    extraArgs: ['--concurrency', '6', ...extraArgs],
  });
}

/**
 * Watches pods and Deployments of a namespace while a deploy runs: when each waiting
 * reason (ImagePullBackOff, CrashLoopBackOff...) was first seen, on which pod, and the
 * lowest availableReplicas of each Deployment.
 */
async function observe(ns: string) {
  const kc = new KubeConfig();
  kc.loadFromFile(env.KUBECONFIG);
  const watch = new Watch(kc);
  const firstWaiting = new Map<string, { at: number; pod: string; container: string }>();
  const minAvailable = new Map<string, number>();
  const requests = await Promise.all([
    watch.watch(
      `/api/v1/namespaces/${ns}/pods`,
      {},
      (_type: string, pod: V1Pod) => {
        for (const s of pod.status?.containerStatuses ?? []) {
          const reason = s.state?.waiting?.reason;
          if (reason && !firstWaiting.has(reason)) {
            firstWaiting.set(reason, { at: Date.now(), pod: pod.metadata!.name!, container: s.name });
          }
        }
      },
      () => {},
    ),
    watch.watch(
      `/apis/apps/v1/namespaces/${ns}/deployments`,
      {},
      (_type: string, d: V1Deployment) => {
        const name = d.metadata!.name!;
        const available = d.status?.availableReplicas ?? 0;
        minAvailable.set(name, Math.min(minAvailable.get(name) ?? Infinity, available));
      },
      () => {},
    ),
  ]);
  return { firstWaiting, minAvailable, stop: () => requests.forEach((r) => r.abort()) };
}

/** The failed service is back on revision 1's chart, values and image, stored as revision 3. */
function expectRolledBackToRevision1(ns: string, name: string, digestA: string) {
  const [r1, r2, r3, ...more] = revisions(ns, name);
  expect(more).toEqual([]);
  expect([r1?.revision, r2?.revision, r3?.revision]).toEqual([1, 2, 3]);
  expect(r3!.status).toBe('deployed');
  expect(r3!.description).toBe('Rollback to 1');
  expect(r3!.config).toEqual(r1!.config);
  expect(r3!.chart).toEqual(r1!.chart);
  expect(r1!.config.image).toMatchObject({ digest: digestA });
  expect(imageOf(deployment(ns, name))).toBe(`${REGISTRY}/${name}@${digestA}`);
}

describe('release B with an image that cannot be pulled (ImagePullBackOff)', () => {
  const ns = NS.pull;
  const bad = { service: 'order-service', repository: 'order-service-imagepullbackoff' };
  let digestsA: Record<string, string>;
  let run: Awaited<ReturnType<typeof deployCli>>;
  let seen: Awaited<ReturnType<typeof observe>>;

  beforeAll(async () => {
    digestsA = setup.digestsA.pull;
    seen = await observe(ns);
    run = await releaseB(ns, 'pull-b', bad);
    seen.stop();
  });
  afterAll(() => deleteNamespace(ns));

  it('fails within 30 s of the first ImagePullBackOff, far below the 300 s timeout', () => {
    expect({ code: run.code, result: run.report?.result }).toEqual({ code: 1, result: 'failure' });
    const first = seen.firstWaiting.get('ImagePullBackOff');
    expect(first).toBeDefined();
    const failedLine = run.stderrLines.find((l) => l.text.includes(`${bad.service}: rollout failed after`));
    expect(failedLine).toBeDefined();
    const reportedMs = failedLine!.at - first!.at;
    const exitedMs = run.exitedAt - first!.at;
    const durationMs = service(run.report, bad.service).durationMs!;
    note(
      `${ns}: first ImagePullBackOff -> failure logged ${(reportedMs / 1000).toFixed(1)}s, -> exit ` +
        `(after the rest of the wave and the rollback) ${(exitedMs / 1000).toFixed(1)}s; ` +
        `order-service upgrade -> verdict ${(durationMs / 1000).toFixed(1)}s of the ${TIMEOUT_S}s timeout`,
    );
    expect(exitedMs).toBeLessThan(30_000);
    expect(reportedMs).toBeLessThan(exitedMs);
    expect(durationMs).toBeLessThan((TIMEOUT_S * 1000) / 10);
  });

  it('names the pod, the container and the reason in the report', () => {
    const order = service(run.report, bad.service);
    const pod = seen.firstWaiting.get('ImagePullBackOff')!.pod;
    expect(order).toMatchObject({
      status: 'rolled-back',
      reason: 'ImagePullBackOff',
      rolledBackTo: 1,
      revision: 2,
      diagnostics: {
        pod,
        container: 'order-service',
        reason: 'ImagePullBackOff',
        logs: { unavailable: 'container never started (ImagePullBackOff)' },
      },
    });
    expect(order.message).toContain(`pod ${pod} container order-service: ImagePullBackOff`);
    expect(order.message).toContain('order-service-imagepullbackoff@sha256:');
    expect(order.diagnostics!.events.map((e) => e.reason)).toContain('Failed');
  });

  it('restores revision 1 as revision 3, on the release-A image, and leaves the rest of the run as it was', () => {
    expectRolledBackToRevision1(ns, bad.service, digestsA[bad.service]!);
    // Only the failed service is rolled back (rollback: failed); its wave went ahead, the next was skipped.
    for (const s of ['user-service', 'product-service', 'payment-service', 'notification-service']) {
      expect(service(run.report, s)).toMatchObject({ status: 'deployed', revision: 2 });
    }
    expect(service(run.report, 'api-gateway')).toMatchObject({ status: 'skipped' });
    expect(revisions(ns, 'api-gateway').map((r) => [r.revision, r.status])).toEqual([[1, 'deployed']]);
  });

  it('kept 3 available replicas of the release-A pods throughout', () => {
    expect(seen.minAvailable.get(bad.service)).toBeGreaterThanOrEqual(3);
    expect(deployment(ns, bad.service).status).toMatchObject({
      replicas: 3,
      readyReplicas: 3,
      availableReplicas: 3,
      updatedReplicas: 3,
    });
  });
});

describe('release B with a crash-looping container', () => {
  const ns = NS.crash;
  const bad = { service: 'order-service', repository: 'order-service-crashloop' };
  let digestsA: Record<string, string>;
  let run: Awaited<ReturnType<typeof deployCli>>;
  let seen: Awaited<ReturnType<typeof observe>>;

  beforeAll(async () => {
    digestsA = setup.digestsA.crash;
    seen = await observe(ns);
    run = await releaseB(ns, 'crash-b', bad);
    seen.stop();
  });
  afterAll(() => deleteNamespace(ns));

  it('fails as CrashLoopBackOff with the exit code of the last crash', () => {
    expect({ code: run.code, result: run.report?.result }).toEqual({ code: 1, result: 'failure' });
    const order = service(run.report, bad.service);
    const first = seen.firstWaiting.get('CrashLoopBackOff')!;
    note(
      `${ns}: first CrashLoopBackOff -> exit ${((run.exitedAt - first.at) / 1000).toFixed(1)}s; ` +
        `order-service upgrade -> verdict ${(order.durationMs! / 1000).toFixed(1)}s`,
    );
    expect(order).toMatchObject({
      status: 'rolled-back',
      reason: 'CrashLoopBackOff',
      rolledBackTo: 1,
      diagnostics: {
        container: 'order-service',
        reason: 'CrashLoopBackOff',
        lastTermination: { reason: 'Error', exitCode: 1 },
      },
    });
    expect(order.diagnostics!.pod).toMatch(/^order-service-/);
    expect(order.durationMs!).toBeLessThan((TIMEOUT_S * 1000) / 10);
  });

  it("carries the tail of the crashed container's log, read through the API server", () => {
    const { logs } = service(run.report, bad.service).diagnostics!;
    expect(CRASH_LOG).toContain(CRASH_LINE);
    expect(logs?.unavailable).toBeUndefined();
    expect(logs?.previous).toContain(CRASH_LINE);
    expect(logs?.previous).toContain('    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1611:16)');
    expect(logs?.current).toContain(CRASH_LINE);
    // The console shows it too, for the person reading the job log.
    expect(run.stderr).toContain('previous container log (last 20 lines):');
    expect(run.stderr).toContain(`    ${CRASH_LINE}`);
  });

  it('restores revision 1 as revision 3, on the release-A image, with 3 available replicas throughout', () => {
    expectRolledBackToRevision1(ns, bad.service, digestsA[bad.service]!);
    expect(seen.minAvailable.get(bad.service)).toBeGreaterThanOrEqual(3);
  });
});

describe('one failing service of six with fleet rollback (--rollback all)', () => {
  const ns = NS.fleet;
  const bad = { service: 'payment-service', repository: 'payment-service-imagepullbackoff' };
  const wave1 = SERVICES.filter((s) => s !== 'api-gateway');
  let digestsA: Record<string, string>;
  let run: Awaited<ReturnType<typeof deployCli>>;

  beforeAll(async () => {
    digestsA = setup.digestsA.fleet;
    const started = Date.now();
    run = await releaseB(ns, 'fleet-b', bad, ['--rollback', 'all']);
    note(`${ns}: release B with fleet rollback took ${secondsSince(started)}`);
  });
  afterAll(() => deleteNamespace(ns));

  it('reports which services were rolled back to which revision', () => {
    expect({ code: run.code, result: run.report?.result }).toEqual({ code: 1, result: 'failure' });
    expect(service(run.report, bad.service)).toMatchObject({
      status: 'rolled-back',
      reason: 'ImagePullBackOff',
      revision: 2,
      rolledBackTo: 1,
    });
    for (const s of wave1.filter((s) => s !== bad.service)) {
      expect({ s, ...service(run.report, s) }).toMatchObject({
        s,
        status: 'rolled-back',
        revision: 2,
        rolledBackTo: 1,
      });
    }
    // The gateway's wave never started: it was not changed, so there is nothing to roll back.
    expect(service(run.report, 'api-gateway')).toMatchObject({ status: 'skipped' });
    expect(service(run.report, 'api-gateway').rolledBackTo).toBeUndefined();
    for (const s of wave1) expect(run.stdout).toMatch(new RegExp(`^${s} .* 2 → 1 +rolled-back`, 'm'));
  });

  it('leaves all six on their previous revision and release-A image', () => {
    for (const s of SERVICES) {
      const history = revisions(ns, s);
      const deployed = history.filter((r) => r.status === 'deployed');
      expect({ s, deployed: deployed.map((r) => r.revision) }).toEqual({
        s,
        deployed: [s === 'api-gateway' ? 1 : 3],
      });
      expect({ s, digest: (deployed[0]!.config.image as { digest?: string }).digest }).toEqual({
        s,
        digest: digestsA[s],
      });
      expect({ s, image: imageOf(deployment(ns, s)) }).toEqual({
        s,
        image: `${REGISTRY}/${s}@${digestsA[s]}`,
      });
    }
    for (const s of wave1) expectRolledBackToRevision1(ns, s, digestsA[s]!);
  });
});

/** A first install of some services in a fresh namespace, with per-service overrides. */
async function install(
  ns: string,
  tag: string,
  services: string[],
  overrides: Record<string, ServiceOverride> = {},
  extraArgs: string[] = [],
) {
  restrictedNamespace(env, ns);
  await pushImages(env, services, tag);
  const config = writeDeployFile(tmp, `${ns}-${tag}.yaml`, overrides);
  return deployCli(env, {
    namespace: ns,
    tag,
    config,
    report: join(tmp, `${ns}-${tag}-${extraArgs.join('')}.json`),
    extraArgs: ['--services', services.join(','), '--concurrency', '6', ...extraArgs],
  });
}

describe('a PDB that allows no disruption once rolled out', () => {
  const ns = NS.pdb;
  let run: Awaited<ReturnType<typeof deployCli>>;

  beforeAll(() => {
    run = setup.pdb;
  });
  afterAll(() => deleteNamespace(ns));

  it('deploys, and warns that node drains would block, naming the service', () => {
    expect({ code: run.code, result: run.report?.result }).toEqual({ code: 0, result: 'success' });
    const pdb = JSON.parse(kubectl(env, ['get', 'pdb', 'product-service', '-n', ns, '-o', 'json']));
    expect(pdb.spec.minAvailable).toBe('99%');
    expect(pdb.status).toMatchObject({ disruptionsAllowed: 0, currentHealthy: 3, desiredHealthy: 3 });

    const check = service(run.report, 'product-service').verification?.pdb;
    expect(check?.verdict).toBe('warning');
    expect(check?.message).toContain('disruptionsAllowed is 0 (3 healthy, 3 required)');
    const warnings = run.report!.warnings.filter((w) => w.includes('product-service') && /drain/.test(w));
    expect(warnings).toHaveLength(1);
    expect(run.stderr).toContain(warnings[0]);
  });

  it('does not warn about the service whose PDB leaves room', () => {
    expect(service(run.report, 'user-service').verification?.pdb.verdict).toBe('ok');
    expect(run.report!.warnings.filter((w) => w.includes('user-service') && /PDB/.test(w))).toEqual([]);
  });
});

describe('a cluster without a metrics API', () => {
  const ns = NS.metrics;
  const svc = 'notification-service';
  const MISSING = 'metrics unavailable — is metrics-server installed?';
  let run: Awaited<ReturnType<typeof deployCli>>;
  let strict: Awaited<ReturnType<typeof deployCli>>;

  beforeAll(async () => {
    run = setup.metrics;
    // The same release again, now with --strict: nothing to roll out, only the verification.
    // --force: an unchanged release is otherwise left alone (not released, so not verified).
    strict = await install(ns, 'hpa-a', [svc], {}, ['--strict', '--force']);
  });
  afterAll(() => deleteNamespace(ns));

  it('has no metrics API (the premise)', () => {
    const apis = kubectl(env, ['get', 'apiservices', '-o', 'name']);
    expect(apis).not.toContain('metrics.k8s.io');
  });

  it('warns that the HPA has no metrics, and still deploys', () => {
    expect({ code: run.code, result: run.report?.result }).toEqual({ code: 0, result: 'success' });
    const hpa = service(run.report, svc).verification?.hpa;
    expect(hpa?.verdict).toBe('warning');
    expect(hpa?.message).toContain(MISSING);
    expect(run.report!.warnings.filter((w) => w.includes(svc) && w.includes(MISSING))).toHaveLength(1);
  });

  it('with --strict, fails the run with VerificationFailed', () => {
    expect({ code: strict.code, result: strict.report?.result }).toEqual({ code: 1, result: 'failure' });
    expect(service(strict.report, svc)).toMatchObject({
      reason: 'VerificationFailed',
      verification: { hpa: { verdict: 'error' } },
    });
    expect(service(strict.report, svc).message).toContain(MISSING);
  });
});
