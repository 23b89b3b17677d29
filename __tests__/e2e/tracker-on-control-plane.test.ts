// The rollout tracker and the verification against the real local control plane
// (kube-apiserver, controller-manager and scheduler 1.35 + kwok's simulated kubelets,
// see local-cluster/). kwok turns images named *imagepullbackoff* and *crashloop*
// into those failures (local-cluster/stages/pod.yaml).
//
// Not a deploy end to end, but it needs the stand-in's control plane, so it runs in the
// e2e suite (npm run test:e2e), in a namespace of its own on the suite's shared stand-in
// (E2E_RUN_DIR). Without E2E_RUN_DIR the cluster runs in its own state dir ($ECOMMERCE_DEPLOY_RUN,
// default .cache/lc-tracker) so it never collides with a colleague's; it is started here
// when not running and stopped again at the end if this file started it.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  AppsV1Api,
  AutoscalingV2Api,
  CoreV1Api,
  PolicyV1Api,
  makeInformer,
  type KubeConfig,
  type V1Deployment,
  type V1Pod,
} from '@kubernetes/client-node';
import { loadKubeConfig } from '../../src/kube/client.js';
import { formatDiagnostics } from '../../src/kube/diagnostics.js';
import { ProgressLines, type Progress } from '../../src/kube/progress.js';
import { RolloutTracker } from '../../src/kube/tracker.js';
import { verifyService } from '../../src/kube/verify.js';
import { MemoryOutput } from '../memory-output.js';

const REPO = join(import.meta.dirname, '..', '..');
const LC = join(REPO, 'local-cluster');
const RUN = process.env.E2E_RUN_DIR ?? process.env.ECOMMERCE_DEPLOY_RUN ?? join(REPO, '.cache', 'lc-tracker');
const env = { ...process.env, ECOMMERCE_DEPLOY_RUN: RUN };
const NS = `tracker-e2e-${process.pid}`;
const IMAGE = 'registry.example/order-service:1.0.0';

let kubeconfig: string;
let kc: KubeConfig;
let startedHere = false;

/** Fails (never skips) when the cluster binaries are missing: a skipped e2e test hides a broken setup. */
function requireBuiltCluster() {
  const dir = spawnSync('bash', ['-c', `source "${LC}/lib.sh" && lc_bin_dir`], { encoding: 'utf8', env });
  const bin = dir.stdout.trim();
  const missing = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kwok'].filter(
    (b) => !bin || !existsSync(join(bin, b)),
  );
  if (dir.status !== 0 || missing.length) {
    throw new Error(
      `the local cluster is not built (missing ${missing.join(', ') || 'bin dir'} in ${bin || '?'}): ` +
        `run local-cluster/build.sh once (it takes many minutes), then rerun this test. ${dir.stderr}`,
    );
  }
}

function startCluster(): string {
  const running = existsSync(join(RUN, 'env'));
  const up = spawnSync('bash', [join(LC, 'up.sh')], { encoding: 'utf8', env, timeout: 170_000 });
  if (up.status !== 0) {
    throw new Error(
      `local-cluster/up.sh failed (state in ${RUN}):\n${up.stderr.split('\n').slice(-30).join('\n')}`,
    );
  }
  startedHere = !running;
  return up.stdout.trim().split('\n').pop()!;
}

function deployment(name: string, image: string, podAnnotations: Record<string, string> = {}): V1Deployment {
  const labels = { app: name, 'app.kubernetes.io/instance': name };
  return {
    metadata: { name, namespace: NS, labels },
    spec: {
      replicas: 3,
      selector: { matchLabels: labels },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      template: {
        metadata: { labels, annotations: podAnnotations },
        spec: {
          securityContext: {
            runAsNonRoot: true,
            runAsUser: 10001,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          topologySpreadConstraints: [
            {
              maxSkew: 1,
              topologyKey: 'topology.kubernetes.io/zone',
              whenUnsatisfiable: 'DoNotSchedule',
              labelSelector: { matchLabels: labels },
            },
          ],
          containers: [
            {
              name: 'app',
              image,
              ports: [{ containerPort: 8080 }],
              readinessProbe: {
                httpGet: { path: '/ready', port: 8080 },
                periodSeconds: 5,
                failureThreshold: 3,
              },
              resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '256Mi' } },
              securityContext: {
                allowPrivilegeEscalation: false,
                capabilities: { drop: ['ALL'] },
                readOnlyRootFilesystem: true,
              },
            },
          ],
        },
      },
    },
  };
}

async function setImage(name: string, image: string) {
  const apps = kc.makeApiClient(AppsV1Api);
  const d = await apps.readNamespacedDeployment({ name, namespace: NS });
  d.spec!.template.spec!.containers[0]!.image = image;
  await apps.replaceNamespacedDeployment({ name, namespace: NS, body: d });
}

/** Sets order-service's image and tracks the rollout that follows (30 s timeout). */
async function rollOrderServiceTo(tracker: RolloutTracker, image: string) {
  const since = new Date();
  await setImage('order-service', image);
  const outcome = await tracker.track({
    service: 'order-service',
    deployment: 'order-service',
    timeoutSeconds: 30,
    since,
  });
  return { since, outcome };
}

/** When this test's own watch first saw a container of the service waiting with `reason`. */
function firstSeen(reason: string) {
  const informer = makeInformer<V1Pod>(kc, `/api/v1/namespaces/${NS}/pods`, () =>
    kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: NS }),
  );
  let at: number | undefined;
  informer.on('change', (p) => {
    if (p.status?.containerStatuses?.some((s) => s.state?.waiting?.reason === reason)) at ??= Date.now();
  });
  return {
    start: () => informer.start(),
    stop: () => informer.stop(),
    at: () => at,
  };
}

beforeAll(async () => {
  requireBuiltCluster();
  kubeconfig = startCluster();
  kc = loadKubeConfig(kubeconfig);
  await kc.makeApiClient(CoreV1Api).createNamespace({
    body: { metadata: { name: NS, labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } } },
  });
  // Created first so the HPA controller (15s sync) has judged it by the time we verify.
  await kc.makeApiClient(AutoscalingV2Api).createNamespacedHorizontalPodAutoscaler({
    namespace: NS,
    body: {
      metadata: { name: 'order-service' },
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'order-service' },
        minReplicas: 3,
        maxReplicas: 10,
        metrics: [
          {
            type: 'Resource',
            resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } },
          },
          {
            type: 'Resource',
            resource: { name: 'memory', target: { type: 'Utilization', averageUtilization: 80 } },
          },
        ],
      },
    },
  });
  await kc.makeApiClient(PolicyV1Api).createNamespacedPodDisruptionBudget({
    namespace: NS,
    body: {
      metadata: { name: 'order-service' },
      spec: {
        minAvailable: 2,
        selector: { matchLabels: { app: 'order-service', 'app.kubernetes.io/instance': 'order-service' } },
      },
    },
  });
}, 180_000);

afterAll(async () => {
  if (kc && !startedHere)
    await kc
      .makeApiClient(CoreV1Api)
      .deleteNamespace({ name: NS })
      .catch(() => {});
  if (startedHere) {
    const down = spawnSync('bash', [join(LC, 'down.sh')], { encoding: 'utf8', env, timeout: 60_000 });
    if (down.status !== 0) throw new Error(`local-cluster/down.sh failed:\n${down.stderr}`);
  }
}, 90_000);

describe('RolloutTracker against the local control plane', () => {
  let tracker: RolloutTracker;
  const out = new MemoryOutput();

  beforeAll(async () => {
    tracker = await RolloutTracker.start({ kubeconfig: kc, namespace: NS, out });
  });
  afterAll(async () => {
    await tracker?.stop();
  });

  it('reports ready with the time to ready, and times out a second service with its last progress', async () => {
    const apps = kc.makeApiClient(AppsV1Api);
    const lines = new ProgressLines(['order-service', 'user-service']);
    const printed: string[] = [];
    const onProgress = (p: Progress) => {
      const line = lines.next(p);
      if (line) printed.push(line);
    };
    const since = new Date();
    // Tracked before the Deployments exist: the tracker waits for them to appear.
    const order = tracker.track({
      service: 'order-service',
      deployment: 'order-service',
      timeoutSeconds: 30,
      since,
      onProgress,
    });
    const user = tracker.track({
      service: 'user-service',
      deployment: 'user-service',
      timeoutSeconds: 4,
      since,
      onProgress,
    });
    await apps.createNamespacedDeployment({ namespace: NS, body: deployment('order-service', IMAGE) });
    // kwok keeps this one unready for a minute: neither failed nor ready, so only the timeout ends it.
    await apps.createNamespacedDeployment({
      namespace: NS,
      body: deployment('user-service', IMAGE, { 'local-cluster/ready-delay': '60s' }),
    });

    const ready = await order;
    expect(ready).toMatchObject({ service: 'order-service', verdict: 'ready', reason: 'Ready' });
    expect(ready.timeToReadyMs).toBeGreaterThan(0);
    expect(ready.timeToReadyMs).toBeLessThan(20_000);

    const timedOut = await user;
    expect(timedOut).toMatchObject({ service: 'user-service', verdict: 'failed', reason: 'Timeout' });
    expect(timedOut.message).toMatch(/^not ready after 4s: 0\/3 ready, \d\/3 updated/);
    expect(timedOut.diagnostics?.pod).toMatch(/^user-service-/);

    expect(printed.some((l) => /^order-service +ready +3\/3 ready, 3\/3 updated/.test(l))).toBe(true);
    expect(printed.some((l) => /^user-service +failed .* Timeout/.test(l))).toBe(true);
    console.log(`time to ready: ${ready.timeToReadyMs} ms\n${printed.join('\n')}`);
  });

  it('fails within seconds on ImagePullBackOff, naming pod, container and events', async () => {
    const seen = firstSeen('ImagePullBackOff');
    await seen.start();
    const { since, outcome } = await rollOrderServiceTo(
      tracker,
      'registry.example/order-service:imagepullbackoff',
    );
    const decided = Date.now();
    // Our own watch is a second stream and may deliver the same update a little later.
    for (let i = 0; i < 20 && seen.at() === undefined; i++) await new Promise((r) => setTimeout(r, 100));
    await seen.stop();

    expect(outcome).toMatchObject({ verdict: 'failed', reason: 'ImagePullBackOff' });
    expect(decided - since.getTime()).toBeLessThan(10_000);
    const d = outcome.diagnostics!;
    expect(d.pod).toMatch(/^order-service-/);
    expect(d.container).toBe('app');
    expect(d.events).toContainEqual(
      expect.objectContaining({
        type: 'Warning',
        reason: 'Failed',
        message: 'Failed to pull image: simulated by local-cluster',
      }),
    );
    expect(d.logs?.unavailable).toBe('container never started (ImagePullBackOff)');
    expect(formatDiagnostics(d)).toContain(`pod: ${d.pod}, container: app`);
    // Negative: our watch saw the update after the tracker had already decided.
    const latency = decided - seen.at()!;
    console.log(
      `ImagePullBackOff: verdict ${decided - since.getTime()} ms after the update, ` +
        `${latency} ms after the pod showed it\n${formatDiagnostics(d)}`,
    );
  });

  it('fails on CrashLoopBackOff with the last termination exit code', async () => {
    const { since, outcome } = await rollOrderServiceTo(tracker, 'registry.example/order-service:crashloop');

    expect(outcome).toMatchObject({ verdict: 'failed', reason: 'CrashLoopBackOff' });
    const d = outcome.diagnostics!;
    expect(d.container).toBe('app');
    expect(d.lastTermination).toEqual({ reason: 'Error', exitCode: 1 });
    expect(d.events.find((e) => e.reason === 'BackOff')?.count).toBeGreaterThanOrEqual(1);
    // kwok, as the node's kubelet, serves the crash log local-cluster ships (local-cluster/logs/).
    expect(d.logs?.unavailable).toBeUndefined();
    expect(d.logs?.previous).toContain('Error: connect ECONNREFUSED 10.0.3.12:5432 (DATABASE_URL)');
    console.log(
      `CrashLoopBackOff: verdict ${Date.now() - since.getTime()} ms after the update\n${formatDiagnostics(d)}`,
    );
  });

  it('verifies HPA, PDB and zone spread after a good rollout', async () => {
    const { outcome } = await rollOrderServiceTo(tracker, IMAGE);
    expect(outcome.verdict).toBe('ready');

    const v = await verifyService({
      kc,
      namespace: NS,
      service: 'order-service',
      expected: { autoscaling: { min: 3, max: 10, cpu: 70, memory: 80 }, pdbMinAvailable: 2 },
    });
    expect(v.pdb).toMatchObject({ verdict: 'ok' });
    expect(v.pdb.message).toContain('1 disruption(s) allowed');
    expect(v.spread).toMatchObject({ verdict: 'ok' });
    expect(v.spread.message).toContain('3 ready pods span 3 zone(s)');
    // The stand-in serves metrics.k8s.io (metrics-server over kwok's simulated usage).
    expect(v.hpa.verdict).toBe('ok');
    expect(v.hpa.message).toMatch(
      /^HPA order-service: 3 replicas \(3–10\), cpu \d+%\/70%, memory \d+%\/80%$/,
    );
  });

  it('judges an upgrade ready on what kubectl then sees: three Ready new pods, no old pod serving, the status following', async () => {
    const apps = kc.makeApiClient(AppsV1Api);
    const core = kc.makeApiClient(CoreV1Api);
    const image = 'registry.example/order-service:1.0.1';
    const { since, outcome } = await rollOrderServiceTo(tracker, image);
    const decided = Date.now();
    expect(outcome).toMatchObject({ verdict: 'ready', reason: 'Ready' });
    expect(outcome.message).toMatch(/^3\/3 ready in /);

    // At the verdict: three Ready pods run the new image, and no pod of the old image is left serving.
    const pods = (await core.listNamespacedPod({ namespace: NS, labelSelector: 'app=order-service' })).items;
    const live = pods.filter((p) => !p.metadata?.deletionTimestamp);
    const readyNew = live.filter(
      (p) =>
        p.spec?.containers[0]?.image === image &&
        p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
    );
    expect(readyNew).toHaveLength(3);
    expect(live.filter((p) => p.spec?.containers[0]?.image !== image)).toEqual([]);

    // With nothing else changing, the Deployment's status reaches kubectl's rule by itself.
    let d = await apps.readNamespacedDeployment({ name: 'order-service', namespace: NS });
    const revision = d.metadata?.annotations?.['deployment.kubernetes.io/revision'];
    const statusDone = (x: V1Deployment) =>
      (x.status?.observedGeneration ?? 0) >= (x.metadata?.generation ?? 0) &&
      x.status?.replicas === 3 &&
      x.status?.updatedReplicas === 3 &&
      x.status?.availableReplicas === 3;
    const lagging = !statusDone(d);
    for (let i = 0; i < 100 && !statusDone(d); i++) {
      await new Promise((r) => setTimeout(r, 100));
      d = await apps.readNamespacedDeployment({ name: 'order-service', namespace: NS });
    }
    expect(statusDone(d)).toBe(true);
    expect(d.metadata?.annotations?.['deployment.kubernetes.io/revision']).toBe(revision);
    console.log(
      `upgrade judged ready ${decided - since.getTime()} ms after the update; ` +
        (lagging
          ? `the Deployment's status said so ${Date.now() - decided} ms (or less) later`
          : `the Deployment's status already said so`),
    );
  });
});
