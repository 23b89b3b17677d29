/**
 * verifyService's HPA check against a small API server, when the HPA controller's latest
 * word is "no metrics for the targeted pods" (the sync right after a rollout): what the
 * run's HPA watch saw decides whether it passes at once or waits for a later sync.
 */
import { createServer, type Server } from 'node:http';
import type { V2HorizontalPodAutoscaler } from '@kubernetes/client-node';
import { verifyService, type VerifyRequest } from '../../src/kube/verify.js';
import { fakeServerKubeConfig } from './fake-kubeconfig.js';
import { AWAITING_POD_METRICS, SCALING_ACTIVE } from './fixtures/hpa-conditions.js';

const ACTIVE = SCALING_ACTIVE;
const AWAITING = AWAITING_POD_METRICS;

function hpa(generation: number, active: object, uid = 'u1'): V2HorizontalPodAutoscaler {
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: { name: 'order-service', namespace: 'shop', uid, generation },
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'order-service' },
      minReplicas: 3,
      maxReplicas: 20,
      metrics: [
        {
          type: 'Resource',
          resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } },
        },
      ],
    },
    status: {
      currentReplicas: 3,
      desiredReplicas: 3,
      conditions: [{ type: 'AbleToScale', status: 'True', reason: 'ReadyForNewScale' }, active as never],
      currentMetrics: [
        {
          type: 'Resource',
          resource: { name: 'cpu', current: { averageUtilization: 12, averageValue: '30m' } },
        },
      ],
    },
  };
}

let server: Server;
/** What each GET of the HPA answers, in turn (the last one repeats). */
let answers: V2HorizontalPodAutoscaler[];
let reads = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    const send = (status: number, doc: unknown) =>
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(doc));
    if (req.url === '/apis/autoscaling/v2/namespaces/shop/horizontalpodautoscalers/order-service') {
      return send(200, answers[Math.min(reads++, answers.length - 1)]);
    }
    send(404, { kind: 'Status', code: 404 });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
});
afterAll(() => new Promise((r) => server.close(r)));
beforeEach(() => (reads = 0));

const request = (over: Partial<VerifyRequest>): VerifyRequest => ({
  kc: fakeServerKubeConfig(server),
  namespace: 'shop',
  service: 'order-service',
  expected: { autoscaling: { min: 3, max: 20, cpu: 70 } },
  ...over,
});

describe('HPA check right after a rollout, when the controller has found no samples of the new pods', () => {
  it('passes at once when the watch saw it active at this spec after the release was applied, and says so', async () => {
    answers = [hpa(4, AWAITING)];
    const v = await verifyService(request({ seenActive: () => hpa(4, ACTIVE) }));
    expect(v.hpa.verdict).toBe('ok');
    expect(v.hpa.message).toMatch(
      /^HPA order-service: 3 replicas \(3–20\), cpu 12%\/70% \(its last computation from metrics, seen after this release was applied; the pods the rollout started have no samples yet, .*latest sync: .*did not receive metrics for targeted pods/,
    );
    expect(reads).toBe(1);
  });

  it('waits for the controller when what was seen is another spec (generation) or another object', async () => {
    for (const seen of [hpa(3, ACTIVE), hpa(4, ACTIVE, 'u0'), undefined]) {
      reads = 0;
      // The controller's next sync has the samples.
      answers = [hpa(4, AWAITING), hpa(4, AWAITING), hpa(4, ACTIVE)];
      const v = await verifyService(request({ seenActive: () => seen }));
      expect({ verdict: v.hpa.verdict, message: v.hpa.message }).toEqual({
        verdict: 'ok',
        message: 'HPA order-service: 3 replicas (3–20), cpu 12%/70%',
      });
      expect(reads).toBe(3);
    }
  });

  it('under --strict, waits for the samples of the new pods even when it was seen active', async () => {
    answers = [hpa(4, AWAITING), hpa(4, ACTIVE)];
    const v = await verifyService(request({ strict: true, seenActive: () => hpa(4, ACTIVE) }));
    expect(v.hpa.message).toBe('HPA order-service: 3 replicas (3–20), cpu 12%/70%');
    expect(reads).toBe(2);
  });

  it('a failure other than missing samples is judged as read, whatever was seen', async () => {
    const missingRequest = {
      ...AWAITING,
      message:
        'the HPA was unable to compute the replica count: failed to get cpu utilization: missing request for cpu in container app of Pod order-service-x',
    };
    answers = [hpa(4, missingRequest)];
    const v = await verifyService(request({ seenActive: () => hpa(4, ACTIVE) }));
    expect(v.hpa.verdict).toBe('warning');
    expect(v.hpa.message).toMatch(/missing request for cpu/);
  });
});
