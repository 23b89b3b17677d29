import type { V2HorizontalPodAutoscaler } from '@kubernetes/client-node';
import { HpaSightings } from '../../src/kube/hpa-sightings.js';
import { AWAITING_POD_METRICS, SCALING_ACTIVE } from './fixtures/hpa-conditions.js';

const ACTIVE = SCALING_ACTIVE;
const AWAITING = AWAITING_POD_METRICS;

function hpa(
  generation: number,
  active: object,
  opts: { uid?: string; cpu?: number } = {},
): V2HorizontalPodAutoscaler {
  return {
    metadata: { name: 'order-service', uid: opts.uid ?? 'u1', generation },
    spec: { scaleTargetRef: { kind: 'Deployment', name: 'order-service' }, maxReplicas: 20 },
    status: {
      currentReplicas: 3,
      desiredReplicas: 3,
      conditions: [active as never],
      currentMetrics: [
        { type: 'Resource', resource: { name: 'cpu', current: { averageUtilization: opts.cpu ?? 12 } } },
      ],
    },
  };
}

function clock() {
  let t = 1_000;
  return { now: () => t, at: (ms: number) => (t = ms) };
}

describe('HpaSightings: when the HPA controller was seen computing from metrics at the current spec', () => {
  it('takes the listed state as the controller’s word, until a status write says otherwise', () => {
    const c = clock();
    const s = new HpaSightings(c.now);
    s.changed(hpa(1, ACTIVE));
    s.listed();
    c.at(5_000); // the release is applied at 5 s; the cache still says active
    expect(s.activeSince('order-service', 5_000)?.status?.conditions?.[0]).toEqual(ACTIVE);
    c.at(9_000); // the rollout replaced the pods; the controller's sync finds none measured
    s.changed(hpa(1, AWAITING));
    c.at(12_000);
    // Active until 9 s: seen after the release (5 s), not after 10 s.
    expect(s.activeSince('order-service', 5_000)?.status?.conditions?.[0]).toEqual(ACTIVE);
    expect(s.activeSince('order-service', 10_000)).toBeUndefined();
    expect(s.activeSince('payment-service', 0)).toBeUndefined();
  });

  it('keeps the last active state, and starts a new period when it is active again', () => {
    const c = clock();
    const s = new HpaSightings(c.now);
    s.changed(hpa(1, ACTIVE));
    s.listed();
    c.at(2_000);
    s.changed(hpa(1, AWAITING));
    c.at(20_000);
    s.changed(hpa(1, ACTIVE, { cpu: 14 }));
    c.at(30_000);
    const seen = s.activeSince('order-service', 25_000);
    expect(seen?.status?.currentMetrics?.[0]?.resource?.current?.averageUtilization).toBe(14);
  });

  it('does not count a spec change as an evaluation: active again only after a status write at the new generation', () => {
    const c = clock();
    const s = new HpaSightings(c.now);
    s.changed(hpa(1, ACTIVE));
    s.listed();
    c.at(5_000);
    // helm changed the spec; the status is still the one computed for generation 1.
    s.changed(hpa(2, ACTIVE));
    c.at(8_000);
    expect(s.activeSince('order-service', 6_000)).toBeUndefined();
    // What was seen up to the spec change is generation 1's (the verifier compares generations).
    expect(s.activeSince('order-service', 5_000)?.metadata?.generation).toBe(1);
    // The controller writes a status computed from generation 2.
    s.changed(hpa(2, ACTIVE, { cpu: 13 }));
    c.at(9_000);
    expect(s.activeSince('order-service', 8_500)?.metadata?.generation).toBe(2);
  });

  it('does not count a write that changes neither spec nor status (labels, annotations)', () => {
    const c = clock();
    const s = new HpaSightings(c.now);
    s.changed(hpa(1, ACTIVE));
    s.listed();
    s.changed(hpa(2, ACTIVE)); // spec change at 1 s
    c.at(3_000);
    s.changed({ ...hpa(2, ACTIVE), metadata: { ...hpa(2, ACTIVE).metadata, labels: { a: 'b' } } });
    c.at(4_000);
    expect(s.activeSince('order-service', 2_000)).toBeUndefined();
  });

  it('forgets an HPA deleted and created again (another uid)', () => {
    const c = clock();
    const s = new HpaSightings(c.now);
    s.changed(hpa(1, ACTIVE));
    s.listed();
    c.at(3_000);
    s.changed(hpa(1, ACTIVE, { uid: 'u2' })); // a new object: created during the run, never evaluated yet
    c.at(4_000);
    expect(s.activeSince('order-service', 3_500)).toBeUndefined();
  });

  it('an HPA created during the run counts once the controller writes an active status', () => {
    const c = clock();
    const s = new HpaSightings(c.now);
    s.listed();
    s.changed({ ...hpa(1, ACTIVE), status: { desiredReplicas: 0 } });
    c.at(2_000);
    s.changed(hpa(1, AWAITING));
    expect(s.activeSince('order-service', 0)).toBeUndefined();
    c.at(3_000);
    s.changed(hpa(1, ACTIVE));
    expect(s.activeSince('order-service', 2_500)?.metadata?.uid).toBe('u1');
  });

  it('says nothing about the time the watch was down', () => {
    const c = clock();
    const s = new HpaSightings(c.now);
    s.changed(hpa(1, ACTIVE));
    s.listed();
    c.at(4_000);
    s.down();
    c.at(10_000);
    expect(s.activeSince('order-service', 3_000)).toBeDefined();
    expect(s.activeSince('order-service', 5_000)).toBeUndefined();
    s.up(); // back, but no event since: what it saw while down is not known
    c.at(12_000);
    expect(s.activeSince('order-service', 5_000)).toBeUndefined();
  });
});
