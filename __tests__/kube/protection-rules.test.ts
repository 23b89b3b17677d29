// Object states recorded from the local control plane (kube 1.35 + kwok) with
// `kubectl get -o json`, trimmed of managedFields; see __tests__/kube/fixtures.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type {
  V1Node,
  V1Pod,
  V1PodDisruptionBudget,
  V2HorizontalPodAutoscaler,
} from '@kubernetes/client-node';
import {
  judgeHpa,
  hpaAwaitingPodMetrics,
  hpaEvaluated,
  judgePdb,
  judgeSpread,
  minAvailableAt,
} from '../../src/kube/protection-rules.js';

const fixture = <T>(name: string): T =>
  JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures', `${name}.json`), 'utf8')) as T;
const clone = <T>(v: T): T => structuredClone(v);

describe('HPA', () => {
  const hpa = fixture<V2HorizontalPodAutoscaler>('hpa-no-metrics');
  const expected = { min: 3, max: 10, cpu: 70, memory: 80 };
  const withMetrics = () => {
    const h = clone(hpa);
    h.status!.conditions = h.status!.conditions!.map((c) =>
      c.type === 'ScalingActive' ? { ...c, status: 'True', reason: 'ValidMetricFound' } : c,
    );
    return h;
  };

  it('is ok when it targets the Deployment with the configured bounds and can scale', () => {
    expect(judgeHpa(withMetrics(), 'order-service', expected)).toMatchObject({ verdict: 'ok' });
  });

  it('reports missing metrics as a warning, an error in strict mode', () => {
    const c = judgeHpa(hpa, 'order-service', expected);
    expect(c.verdict).toBe('warning');
    expect(c.message).toContain('metrics unavailable — is metrics-server installed?');
    expect(judgeHpa(hpa, 'order-service', expected, true).verdict).toBe('error');
  });

  it('is not ok before the controller has evaluated the metrics (only scaled up to minReplicas)', () => {
    // What a first install shows until the HPA controller's next sync: AbleToScale only.
    const scaledToMin = clone(hpa);
    scaledToMin.status!.conditions = scaledToMin.status!.conditions!.filter((c) => c.type === 'AbleToScale');
    expect(hpaEvaluated(scaledToMin)).toBe(false);
    const c = judgeHpa(scaledToMin, 'order-service', expected, true);
    expect(c.verdict).toBe('warning');
    expect(c.message).toContain('has not evaluated its metrics yet');
    expect(hpaEvaluated(hpa)).toBe(true);
    expect(hpaEvaluated(withMetrics())).toBe(true);
  });

  it('is an error when the bounds or targets differ from the configured ones', () => {
    const c = judgeHpa(withMetrics(), 'order-service', { min: 2, max: 10, cpu: 60, memory: 80 });
    expect(c).toMatchObject({ verdict: 'error' });
    expect(c.message).toContain('minReplicas is 3, expected 2');
    expect(c.message).toContain('CPU target is 70, expected 60');
  });

  it('is an error when it targets another workload, or cannot scale, or is missing', () => {
    expect(judgeHpa(withMetrics(), 'user-service', expected).message).toContain(
      'not Deployment/user-service',
    );
    const stuck = withMetrics();
    stuck.status!.conditions![0] = {
      ...stuck.status!.conditions![0]!,
      status: 'False',
      reason: 'FailedGetScale',
    };
    expect(judgeHpa(stuck, 'order-service', expected)).toMatchObject({ verdict: 'error' });
    expect(judgeHpa(undefined, 'order-service', expected).verdict).toBe('error');
  });
});

describe('HPA with metrics (metrics-server)', () => {
  const expected = { min: 3, max: 20, cpu: 70, memory: 80 };
  const base = fixture<V2HorizontalPodAutoscaler>('hpa-no-metrics');
  /** The status the HPA controller writes once it reads the metrics API. */
  const measured = (replicas: number, desired: number, cpu: number, memory: number) => {
    const h = clone(base);
    h.spec!.maxReplicas = 20;
    h.status = {
      currentReplicas: replicas,
      desiredReplicas: desired,
      currentMetrics: [
        {
          type: 'Resource',
          resource: { name: 'cpu', current: { averageUtilization: cpu, averageValue: '30m' } },
        },
        {
          type: 'Resource',
          resource: { name: 'memory', current: { averageUtilization: memory, averageValue: '80530636800m' } },
        },
      ],
      conditions: [
        {
          type: 'AbleToScale',
          status: 'True',
          reason: 'ReadyForNewScale',
          message: 'recommended size matches current size',
        },
        {
          type: 'ScalingActive',
          status: 'True',
          reason: 'ValidMetricFound',
          message:
            'the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)',
        },
        {
          type: 'ScalingLimited',
          status: replicas <= 3 ? 'True' : 'False',
          reason: replicas <= 3 ? 'TooFewReplicas' : 'DesiredWithinRange',
          message:
            replicas <= 3
              ? 'the desired replica count is less than the minimum replica count'
              : 'the desired count is within the acceptable range',
        },
      ],
    } as V2HorizontalPodAutoscaler['status'];
    return h;
  };

  it('reads an HPA recorded from the stand-in with metrics-server (npm run demo)', () => {
    const recorded = fixture<V2HorizontalPodAutoscaler>('hpa-metrics');
    expect(hpaEvaluated(recorded)).toBe(true);
    expect(hpaAwaitingPodMetrics(recorded)).toBe(false);
    expect(judgeHpa(recorded, 'order-service', expected)).toEqual({
      verdict: 'ok',
      message: 'HPA order-service: 3 replicas (3–20), cpu 12%/70%, memory 29%/80%',
    });
  });

  it('is ok at minReplicas and says the current and target utilisation of CPU and memory', () => {
    expect(judgeHpa(measured(3, 3, 12, 30), 'order-service', expected)).toEqual({
      verdict: 'ok',
      message: 'HPA order-service: 3 replicas (3–20), cpu 12%/70%, memory 30%/80%',
    });
  });

  it('above minReplicas says how many replicas now run and why, in the controller words', () => {
    const c = judgeHpa(measured(5, 5, 67, 30), 'order-service', expected);
    expect(c.verdict).toBe('ok');
    expect(c.message).toBe(
      'HPA order-service: 5 replicas (3–20), cpu 67%/70%, memory 30%/80% — replicas now 5 of 3–20: ' +
        'the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)',
    );
    const scaling = judgeHpa(measured(3, 5, 100, 30), 'order-service', expected);
    expect(scaling.message).toContain('3 replicas (3–20), cpu 100%/70%, memory 30%/80%, scaling to 5');
    expect(scaling.message).toContain('replicas now 5 of 3–20');
  });

  it('warns at maxReplicas when it wants more', () => {
    const h = measured(20, 20, 95, 30);
    h.status!.conditions![2] = {
      type: 'ScalingLimited',
      status: 'True',
      reason: 'TooManyReplicas',
      message: 'the desired replica count is more than the maximum replica count',
    };
    const c = judgeHpa(h, 'order-service', expected);
    expect(c.verdict).toBe('warning');
    expect(c.message).toContain('20 replicas (3–20), cpu 95%/70%');
    expect(c.message).toContain('at maxReplicas: the desired replica count is more than the maximum');
  });

  it('shows an unknown utilisation as ?, and leaves out a resource without a target', () => {
    const h = measured(3, 3, 12, 30);
    h.status!.currentMetrics = [h.status!.currentMetrics![1]!];
    expect(judgeHpa(h, 'order-service', expected).message).toBe(
      'HPA order-service: 3 replicas (3–20), cpu ?%/70%, memory 30%/80%',
    );
    const cpuOnly = { min: 3, max: 20, cpu: 70 };
    h.spec!.metrics = h.spec!.metrics!.filter((m) => m.resource?.name === 'cpu');
    expect(judgeHpa(h, 'order-service', cpuOnly).message).toBe(
      'HPA order-service: 3 replicas (3–20), cpu ?%/70%',
    );
  });

  it('tells pods not measured yet (a metrics API without their metrics) from a missing metrics API', () => {
    const fresh = clone(base);
    fresh.status!.conditions![1] = {
      ...fresh.status!.conditions![1]!,
      message:
        'the HPA was unable to compute the replica count: failed to get cpu utilization: ' +
        'did not receive metrics for targeted pods (pods might be unready)',
    };
    expect(hpaAwaitingPodMetrics(fresh)).toBe(true);
    expect(hpaAwaitingPodMetrics(base)).toBe(false);
    expect(hpaAwaitingPodMetrics(measured(3, 3, 12, 30))).toBe(false);
    const c = judgeHpa(fresh, 'order-service', { ...expected, max: 10 });
    expect(c.verdict).toBe('warning');
    expect(c.message).toContain('no metrics for its pods yet');
    expect(c.message).not.toContain('is metrics-server installed?');
  });
});

describe('PDB', () => {
  const pdb = fixture<V1PodDisruptionBudget>('pdb');

  it('is ok when observed and one disruption is allowed', () => {
    expect(judgePdb(pdb, 'order-service', 2, 3)).toMatchObject({ verdict: 'ok' });
  });

  it('warns that node drains would block when no disruption is allowed', () => {
    const p = clone(pdb);
    p.status!.disruptionsAllowed = 0;
    const c = judgePdb(p, 'order-service', 2);
    expect(c.verdict).toBe('warning');
    expect(c.message).toContain('node drains would block');
  });

  it('flags HPA minReplicas ≤ minAvailable', () => {
    expect(judgePdb(pdb, 'order-service', 2, 2).message).toContain('HPA minReplicas 2 ≤ minAvailable 2');
    expect(minAvailableAt('50%', 3)).toBe(2);
    expect(
      judgePdb({ ...pdb, spec: { ...pdb.spec, minAvailable: '100%' } }, 'order-service', '100%', 5).verdict,
    ).toBe('warning');
  });

  it('warns while the status is not observed, and errors when missing or different', () => {
    const p = clone(pdb);
    p.metadata!.generation = 2;
    expect(judgePdb(p, 'order-service', 2).message).toContain('not yet observed');
    expect(judgePdb(undefined, 'order-service', 2).verdict).toBe('error');
    expect(judgePdb(pdb, 'order-service', 1).message).toContain('minAvailable is 2, expected 1');
  });
});

describe('zone spread', () => {
  const nodes = fixture<V1Node[]>('nodes');
  const pods = fixture<V1Pod[]>('pods-ready');

  it('is ok when 3 ready pods span the 3 zones of Ready nodes', () => {
    const c = judgeSpread(pods, nodes, 3);
    expect(c.verdict).toBe('ok');
    expect(c.message).toContain('3 ready pods span 3 zone(s) (us-east-1a, us-east-1b, us-east-1c)');
  });

  it('warns when the pods are packed into fewer zones (error when strict)', () => {
    const packed = pods.map((p) => ({ ...p, spec: { ...p.spec!, nodeName: 'kwok-node-0' } }));
    expect(judgeSpread(packed, nodes, 3).verdict).toBe('warning');
    expect(judgeSpread(packed, nodes, 3, { strict: true }).verdict).toBe('error');
  });

  it('asks for only as many zones as there are replicas, and ignores cordoned nodes', () => {
    expect(judgeSpread(pods.slice(0, 1), nodes, 1).verdict).toBe('ok');
    const cordoned = nodes.map((n, i) => (i === 2 ? { ...n, spec: { unschedulable: true } } : n));
    const twoPods = pods.filter((p) => p.spec!.nodeName !== 'kwok-node-2');
    expect(judgeSpread(twoPods, cordoned, 3).verdict).toBe('ok');
  });
});
