/**
 * The HPA with real metrics: the stand-in runs metrics-server behind the aggregation layer,
 * scraping kwok's simulated kubelet resource metrics. Every container uses 12% of its CPU
 * request and 30% of its memory request (local-cluster/metrics/usage.yaml), below the
 * production targets (70% / 80%), so a fresh deploy verifies `hpa ok` at minReplicas 3.
 * Then the service's pods get a ResourceUsage of their own at 100% of the CPU request:
 * the HPA controller (default 15s sync, no scale-up stabilization in the chart, so the
 * default policies: +100% or +4 pods per 15s) scales the Deployment above 3 — with three
 * pods at 100% and the new ones at 12%, to ceil(3 × 100 / 70) = 5 — and the verification
 * says so, in the controller's words.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1Pod, V2HorizontalPodAutoscaler } from '@kubernetes/client-node';
import { loadKubeConfig } from '../../src/kube/client.js';
import { RolloutTracker } from '../../src/kube/tracker.js';
import { verifyService } from '../../src/kube/verify.js';
import { AWAITING_POD_METRICS } from '../kube/fixtures/hpa-conditions.js';
import { MemoryOutput } from '../memory-output.js';
import {
  kubectl,
  pushImages,
  readStandInEnv,
  restrictedNamespace,
  type StandInEnv,
} from '../../scripts/stand-in.mjs';
import { deployCli, writeDeployFile } from './run.js';

const NS = 'e2e-hpa';
const SVC = 'order-service';
const EXPECTED = { min: 3, max: 20, cpu: 70, memory: 80 };

let env: StandInEnv;
let tmp: string;

const note = (text: string) => process.stderr.write(`e2e hpa: ${text}\n`);
const hpa = () =>
  JSON.parse(kubectl(env, ['get', 'hpa', SVC, '-n', NS, '-o', 'json'])) as V2HorizontalPodAutoscaler;

beforeAll(() => {
  const found = readStandInEnv(process.env.E2E_RUN_DIR);
  if (!found) throw new Error('the e2e stand-in is not running: run the e2e tests with `npm run test:e2e`');
  env = found;
  tmp = mkdtempSync(join(tmpdir(), 'e2e-hpa-'));
  restrictedNamespace(env, NS);
});

afterAll(() => {
  kubectl(env, ['delete', 'namespace', NS, '--wait=false'], { allowFailure: true });
  rmSync(tmp, { recursive: true, force: true });
});

describe('an HPA with metrics from metrics-server', () => {
  it('has the metrics API (the premise): kubectl top answers for the nodes', async () => {
    const api = JSON.parse(kubectl(env, ['get', 'apiservice', 'v1beta1.metrics.k8s.io', '-o', 'json'])) as {
      status: { conditions: { type: string; status: string }[] };
    };
    expect(api.status.conditions).toContainEqual(
      expect.objectContaining({ type: 'Available', status: 'True' }),
    );
    // Right after the stand-in starts, metrics-server has not scraped yet (every 10 s).
    let top = '';
    for (const deadline = Date.now() + 60_000; Date.now() < deadline;) {
      top = kubectl(env, ['top', 'nodes', '--no-headers'], { allowFailure: true });
      if (/^kwok-node-0\s/m.test(top)) break;
      await new Promise((r) => setTimeout(r, 2_000));
    }
    expect(top).toMatch(/^kwok-node-0\s+\d+m\s+\d+%\s+\d+Mi\s+\d+%/m);
  });

  it('verifies ok at minReplicas with the current/target utilisation after a deploy', async () => {
    const started = Date.now();
    await pushImages(env, [SVC], 'hpa-1');
    const run = await deployCli(env, {
      namespace: NS,
      tag: 'hpa-1',
      config: writeDeployFile(tmp, 'deploy.yaml', {}),
      report: join(tmp, 'report.json'),
      extraArgs: ['--services', SVC],
    });
    note(`deploy with verification took ${((Date.now() - started) / 1000).toFixed(1)}s`);
    expect({ code: run.code, result: run.report?.result }).toEqual({ code: 0, result: 'success' });
    const check = run.report!.services.find((s) => s.service === SVC)?.verification?.hpa;
    note(`verification: ${JSON.stringify(check)}`);
    expect(check?.verdict).toBe('ok');
    // 12% of the CPU request and 30% of the memory request (usage.yaml): 76.8Mi of 256Mi, which the HPA truncates to 29%.
    expect(check?.message).toBe(`HPA ${SVC}: 3 replicas (3–20), cpu 12%/70%, memory 29%/80%`);
  });

  it('right after a rollout, takes what the run watched over a sync that found the new pods unmeasured', async () => {
    const kc = loadKubeConfig(env.KUBECONFIG);
    const out = new MemoryOutput();
    const tracker = await RolloutTracker.start({ kubeconfig: kc, namespace: NS, out });
    try {
      // The release is applied now; the watch listed the HPA active (the deploy above verified it so).
      const applied = Date.now();
      expect(tracker.hpaSeenActive(SVC, applied)?.metadata?.name).toBe(SVC);
      let v: Awaited<ReturnType<typeof verifyService>> | undefined;
      for (let attempt = 1; attempt <= 3; attempt++) {
        // The HPA controller's sync right after a rollout, when metrics-server has not measured the new pods yet.
        const awaiting = { ...AWAITING_POD_METRICS, lastTransitionTime: new Date().toISOString() };
        const conditions = (hpa().status?.conditions ?? []).map((c) =>
          c.type === 'ScalingActive' ? awaiting : c,
        );
        kubectl(env, [
          'patch',
          'hpa',
          SVC,
          '-n',
          NS,
          '--subresource=status',
          '--type=merge',
          '-p',
          JSON.stringify({ status: { conditions } }),
        ]);
        // The watch delivers the write: the HPA is no longer seen active from now on.
        for (const deadline = Date.now() + 10_000; Date.now() < deadline;) {
          if (!tracker.hpaSeenActive(SVC, Date.now())) break;
          await new Promise((r) => setTimeout(r, 50));
        }
        expect(tracker.hpaSeenActive(SVC, Date.now())).toBeUndefined();
        const started = Date.now();
        v = await verifyService({
          kc,
          namespace: NS,
          service: SVC,
          expected: { autoscaling: EXPECTED },
          seenActive: () => tracker.hpaSeenActive(SVC, applied),
        });
        note(`attempt ${attempt}: ${JSON.stringify(v.hpa)} in ${Date.now() - started} ms`);
        // The controller's own sync (every 15 s) may have come between the write and the read: then it says active itself.
        if (/latest sync/.test(v.hpa.message)) break;
        expect(hpa().status?.conditions).toContainEqual(
          expect.objectContaining({ type: 'ScalingActive', status: 'True' }),
        );
      }
      expect(v?.hpa.verdict).toBe('ok');
      expect(v?.hpa.message).toMatch(
        new RegExp(
          `^HPA ${SVC}: 3 replicas \\(3–20\\), cpu 12%/70%, memory 29%/80% \\(its last computation from metrics, seen after this release was applied; ` +
            '.*the HPA controller.s latest sync: .*did not receive metrics for targeted pods',
        ),
      );
      // Nothing seen after the HPA went unmeasured: the check waits for the controller instead.
      expect(tracker.hpaSeenActive(SVC, Date.now())).toBeUndefined();
    } finally {
      await tracker.stop();
    }
  });

  it('scales above 3 when its pods use more CPU than the target, and the verification says why', async () => {
    const pods = JSON.parse(kubectl(env, ['get', 'pods', '-n', NS, '-l', `app=${SVC}`, '-o', 'json']))
      .items as V1Pod[];
    expect(pods).toHaveLength(3);
    // kwok uses a pod's ResourceUsage (named after the pod) instead of the ClusterResourceUsage.
    const usages = pods.map((p) => ({
      apiVersion: 'kwok.x-k8s.io/v1alpha1',
      kind: 'ResourceUsage',
      metadata: { name: p.metadata!.name, namespace: NS },
      spec: { usages: [{ usage: { cpu: { value: '250m' }, memory: { value: '77Mi' } } }] },
    }));
    kubectl(env, ['apply', '-f', '-'], {
      input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: usages }),
    });
    const loaded = Date.now();

    let h = hpa();
    while ((h.status?.currentReplicas ?? 0) <= 3 && Date.now() - loaded < 90_000) {
      await new Promise((r) => setTimeout(r, 2000));
      h = hpa();
    }
    note(
      `scaled to ${h.status?.currentReplicas} ${((Date.now() - loaded) / 1000).toFixed(1)}s after the load; ` +
        `currentMetrics ${JSON.stringify(h.status?.currentMetrics)}`,
    );
    expect(h.status?.currentReplicas).toBeGreaterThan(3);
    const events = kubectl(env, ['get', 'events', '-n', NS, '--field-selector', 'reason=SuccessfulRescale']);
    expect(events).toMatch(
      /New size: \d+; reason: cpu resource utilization \(percentage of request\) above target/,
    );

    const kc = loadKubeConfig(env.KUBECONFIG);
    const v = await verifyService({
      kc,
      namespace: NS,
      service: SVC,
      expected: { autoscaling: EXPECTED },
    });
    note(`verification after the scale-up: ${JSON.stringify(v.hpa)}`);
    expect(v.hpa.verdict).toBe('ok');
    expect(v.hpa.message).toMatch(
      new RegExp(
        `^HPA ${SVC}: (\\d+) replicas \\(3–20\\), cpu \\d+%/70%, memory \\d+%/80%.* — replicas now \\d+ of 3–20: ` +
          'the HPA was able to successfully calculate a replica count from cpu resource utilization',
      ),
    );
  });
});
