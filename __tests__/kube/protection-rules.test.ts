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
