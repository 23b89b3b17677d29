// Object states recorded from the local control plane (kube 1.35 + kwok) with
// `kubectl get -o json`, trimmed of managedFields; see __tests__/kube/fixtures.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { V1Deployment, V1Pod, V1ReplicaSet } from '@kubernetes/client-node';
import {
  judgeRollout,
  notHealthyNow,
  podFailure,
  progressDeadlineWarning,
  readinessFailure,
  readinessGraceMs,
  unschedulablePod,
  type RolloutObjects,
} from '../../src/kube/rollout-rules.js';

const fixture = <T>(name: string): T =>
  JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures', `${name}.json`), 'utf8')) as T;
const clone = <T>(v: T): T => structuredClone(v);
const at = (iso: string) => Date.parse(iso);

function objects(state: string, deployment = state, pods = state): RolloutObjects {
  return {
    deployment: fixture<V1Deployment>(`deployment-${deployment}`),
    replicaSets: fixture<V1ReplicaSet[]>(`replicasets-${state}`),
    pods: pods ? fixture<V1Pod[]>(`pods-${pods}`) : [],
  };
}

describe('done: the kubectl rollout status rule', () => {
  it('is ready when 3/3 are updated, ready and available and no old replica is left', () => {
    const j = judgeRollout(objects('ready'), { now: at('2026-11-26T15:15:40Z') });
    expect(j).toMatchObject({ phase: 'ready', counts: { desired: 3, updated: 3, ready: 3, available: 3 } });
  });

  it('is still progressing while an old ReplicaSet has replicas (surge pod up, old pods not gone)', () => {
    const objs = objects('imagepullbackoff');
    objs.pods = []; // only the counting rule, no pod verdict
    const j = judgeRollout(objs, { now: at('2026-11-26T15:15:44Z') });
    expect(j.phase).toBe('progressing');
    expect(j.message).toBe('1 of 3 new replicas updated');
  });

  it('reports old replicas pending termination when all are updated but old ones remain', () => {
    const objs = objects('ready');
    objs.pods = []; // the status rule alone
    objs.deployment!.status!.replicas = 4;
    expect(judgeRollout(objs, { now: 0 }).message).toBe('1 old replicas pending termination');
  });

  describe('read from the pods before the status catches up', () => {
    // The moment the last new pod is Ready and the old ReplicaSet is scaled to 0: the
    // ReplicaSet controller has not yet counted the old pod gone, nor the Deployment
    // controller the new one available.
    function lagging(): RolloutObjects {
      const objs = objects('ready');
      const d = objs.deployment!;
      d.metadata!.annotations!['deployment.kubernetes.io/revision'] = '2';
      Object.assign(d.status!, { replicas: 4, readyReplicas: 3, availableReplicas: 3, updatedReplicas: 3 });
      const current = objs.replicaSets[0]!;
      current.metadata!.annotations!['deployment.kubernetes.io/revision'] = '2';
      const old = clone(current);
      Object.assign(old.metadata!, { name: 'order-service-old', uid: 'old-rs-uid' });
      old.metadata!.annotations!['deployment.kubernetes.io/revision'] = '1';
      old.spec!.replicas = 0;
      old.status = { replicas: 1, readyReplicas: 1, availableReplicas: 1 };
      const oldPod = clone(objs.pods[0]!);
      Object.assign(oldPod.metadata!, { name: 'order-service-old-abcde', uid: 'old-pod-uid' });
      oldPod.metadata!.ownerReferences![0]!.uid = 'old-rs-uid';
      oldPod.metadata!.deletionTimestamp = new Date('2026-11-26T15:15:41Z');
      return { deployment: d, replicaSets: [current, old], pods: [...objs.pods, oldPod] };
    }
    const oldPodOf = (objs: RolloutObjects) => objs.pods.find((p) => p.metadata!.uid === 'old-pod-uid')!;

    it('is ready when every desired pod of the new ReplicaSet is Ready and the old ones are terminating', () => {
      const objs = lagging();
      expect(judgeRollout({ ...objs, pods: [] }, { now: 0 }).message).toBe(
        '1 old replicas pending termination',
      );
      expect(judgeRollout(objs, { now: 0 })).toMatchObject({
        phase: 'ready',
        counts: { desired: 3, updated: 3, ready: 3, available: 3 },
        message: '3/3 ready (seen on the pods)',
      });
      // The old pod already gone from the watch: the same.
      const gone = { ...objs, pods: objs.pods.filter((p) => p !== oldPodOf(objs)) };
      expect(judgeRollout(gone, { now: 0 }).phase).toBe('ready');
    });

    it('is not ready while an old pod is not terminating', () => {
      const objs = lagging();
      delete oldPodOf(objs).metadata!.deletionTimestamp;
      expect(judgeRollout(objs, { now: 0 })).toMatchObject({
        phase: 'progressing',
        message: '1 old replicas pending termination',
      });
    });

    it.each<[string, (objs: RolloutObjects) => void]>([
      ['the old ReplicaSet is not scaled to 0', (objs) => (objs.replicaSets[1]!.spec!.replicas = 1)],
      [
        'the new ReplicaSet is not scaled to the desired count',
        (objs) => (objs.replicaSets[0]!.spec!.replicas = 2),
      ],
      // minReadySeconds: availability lags readiness there, so the status decides.
      ['minReadySeconds is set', (objs) => (objs.deployment!.spec!.minReadySeconds = 10)],
    ])('is not ready while %s', (_, change) => {
      const objs = lagging();
      change(objs);
      expect(judgeRollout(objs, { now: 0 }).phase).toBe('progressing');
    });

    it('is not ready while a new pod is not Ready, or fewer pods than desired are seen', () => {
      const objs = lagging();
      const notReady = clone(objs);
      notReady.pods[0]!.status!.conditions = notReady.pods[0]!.status!.conditions!.map((c) =>
        c.type === 'Ready' ? { ...c, status: 'False' } : c,
      );
      expect(judgeRollout(notReady, { now: 0 }).phase).toBe('progressing');
      expect(judgeRollout({ ...objs, pods: objs.pods.slice(1) }, { now: 0 }).phase).toBe('progressing');
      const terminating = clone(objs);
      terminating.pods[0]!.metadata!.deletionTimestamp = new Date('2026-11-26T15:15:41Z');
      expect(judgeRollout(terminating, { now: 0 }).phase).toBe('progressing');
    });

    it('still waits for the controller to observe the new spec', () => {
      const objs = lagging();
      objs.deployment!.metadata!.generation = 2;
      expect(judgeRollout(objs, { now: 0 }).phase).toBe('waiting');
    });
  });

  it('requires the Available condition to be True', () => {
    const objs = objects('ready');
    objs.pods = []; // the status rule alone
    objs.deployment!.status!.conditions = objs.deployment!.status!.conditions!.map((c) =>
      c.type === 'Available' ? { ...c, status: 'False' } : c,
    );
    expect(judgeRollout(objs, { now: 0 })).toMatchObject({
      phase: 'progressing',
      message: 'Available condition is False',
    });
  });

  it('waits while the controller has not observed the new generation', () => {
    const objs = objects('ready');
    objs.deployment!.metadata!.generation = 2;
    expect(judgeRollout(objs, { now: 0 }).phase).toBe('waiting');
  });

  it('does not trust a cached Deployment older than the generation the upgrade produced', () => {
    expect(judgeRollout(objects('ready'), { now: 0, minGeneration: 2 }).phase).toBe('waiting');
  });

  it('on a first install under an HPA, waits until the HPA has scaled to its minimum', () => {
    const objs = objects('ready');
    expect(judgeRollout(objs, { now: 0, minReplicas: 3 }).phase).toBe('ready');
    objs.deployment = clone(objs.deployment!);
    Object.assign(objs.deployment.spec!, { replicas: 1 });
    Object.assign(objs.deployment.status!, {
      replicas: 1,
      updatedReplicas: 1,
      readyReplicas: 1,
      availableReplicas: 1,
    });
    const j = judgeRollout(objs, { now: 0, minReplicas: 3 });
    expect(j.phase).toBe('progressing');
    expect(j.message).toBe('waiting for the HPA to scale from 1 to its minimum of 3 replicas');
    expect(j.counts.desired).toBe(3);
    expect(judgeRollout(objs, { now: 0 }).phase).toBe('ready');
  });

  it('waits while the Deployment does not exist', () => {
    expect(judgeRollout({ replicaSets: [], pods: [] }, { now: 0 })).toMatchObject({
      phase: 'waiting',
      message: 'waiting for the Deployment to appear',
    });
  });
});

describe('pod failures of the new ReplicaSet', () => {
  it('fails at once on ImagePullBackOff, naming pod and container', () => {
    const j = judgeRollout(objects('imagepullbackoff'), { now: at('2026-11-26T15:15:44Z') });
    expect(j.phase).toBe('failed');
    expect(j.failure).toMatchObject({
      reason: 'ImagePullBackOff',
      pod: 'order-service-659557d5d6-t6g49',
      container: 'app',
      replicaSet: 'order-service-659557d5d6',
    });
    expect(j.message).toContain('Back-off pulling image "registry.example/order-service:imagepullbackoff"');
  });

  it('ignores pods of old ReplicaSets', () => {
    // The same failing pod, now owned by the old ReplicaSet, is not this rollout's problem.
    const objs = objects('imagepullbackoff');
    const oldRs = objs.replicaSets.find((rs) => rs.metadata!.name === 'order-service-6d654997cf')!;
    objs.pods = objs.pods.map((p) => {
      const q = clone(p);
      q.metadata!.ownerReferences![0]!.uid = oldRs.metadata!.uid!;
      return q;
    });
    expect(judgeRollout(objs, { now: at('2026-11-26T15:15:44Z') }).phase).toBe('progressing');
  });

  it('lets a single ErrImagePull pass (a retry may succeed) and fails when it is seen twice', () => {
    const pods = fixture<V1Pod[]>('pods-imagepullbackoff').filter((p) =>
      p.metadata!.name!.includes('659557d5d6'),
    );
    pods[0]!.status!.containerStatuses![0]!.state = {
      waiting: { reason: 'ErrImagePull', message: 'pull failed' },
    };
    expect(podFailure(pods, { now: 0, errImagePullSeen: () => 1 })).toBeUndefined();
    expect(podFailure(pods, { now: 0, errImagePullSeen: () => 2 })).toMatchObject({ reason: 'ErrImagePull' });
  });

  it('fails on CreateContainerConfigError and InvalidImageName at once', () => {
    const pods = fixture<V1Pod[]>('pods-imagepullbackoff').filter((p) =>
      p.metadata!.name!.includes('659557d5d6'),
    );
    for (const reason of ['CreateContainerConfigError', 'InvalidImageName']) {
      pods[0]!.status!.containerStatuses![0]!.state = { waiting: { reason, message: 'x' } };
      expect(podFailure(pods, { now: 0 })?.reason).toBe(reason);
    }
  });

  it('fails on CrashLoopBackOff after two restarts', () => {
    const j = judgeRollout(objects('crashloop'), { now: at('2026-11-26T15:15:53Z') });
    expect(j.failure).toMatchObject({ reason: 'CrashLoopBackOff', pod: 'order-service-5c68c886cf-sxghc' });
    expect(j.message).toContain('restarted 2 times');
  });

  it('gives one crash of one replica the benefit of the doubt', () => {
    const pods = fixture<V1Pod[]>('pods-crashloop').filter((p) => p.metadata!.name!.includes('5c68c886cf'));
    pods[0]!.status!.containerStatuses![0]!.restartCount = 1;
    expect(podFailure(pods, { now: 0 })).toBeUndefined();
    // ... but not two crashing replicas
    const second = clone(pods[0]!);
    second.metadata!.name = 'order-service-5c68c886cf-other';
    expect(podFailure([...pods, second], { now: 0 })?.reason).toBe('CrashLoopBackOff');
  });
});

describe('ReplicaFailure and ProgressDeadlineExceeded', () => {
  it('fails on ReplicaFailure from a ResourceQuota, with the quota message', () => {
    const j = judgeRollout(objects('quota', 'quota', ''), { now: 0 });
    expect(j.failure?.reason).toBe('ReplicaFailure');
    expect(j.message).toContain('exceeded quota: q');
  });

  it('fails on ReplicaFailure from admission (PodSecurity) and prefers it to the deadline', () => {
    const j = judgeRollout(objects('admission', 'progress-deadline', ''), { now: 0 });
    expect(j.failure?.reason).toBe('ReplicaFailure');
    expect(j.message).toContain('violates PodSecurity');
  });

  it('fails on Progressing=False ProgressDeadlineExceeded', () => {
    const objs = objects('admission', 'progress-deadline', '');
    objs.deployment!.status!.conditions = objs.deployment!.status!.conditions!.filter(
      (c) => c.type !== 'ReplicaFailure',
    );
    objs.replicaSets = objs.replicaSets.map((rs) => ({ ...rs, status: { ...rs.status!, conditions: [] } }));
    const j = judgeRollout(objs, { now: 0 });
    expect(j.failure?.reason).toBe('ProgressDeadlineExceeded');
    expect(j.message).toContain('has timed out progressing');
  });

  it('passes a progressing Deployment with neither condition', () => {
    const objs = objects('imagepullbackoff');
    objs.pods = [];
    expect(judgeRollout(objs, { now: 0 }).failure).toBeUndefined();
  });

  it('warns in preflight when progressDeadlineSeconds outlives the timeout', () => {
    expect(progressDeadlineWarning(600, 300)).toContain(
      'progressDeadlineSeconds is 600s but the rollout timeout is 300s',
    );
    expect(progressDeadlineWarning(undefined, 300)).toContain('600s');
    expect(progressDeadlineWarning(120, 300)).toBeUndefined();
  });
});

describe('Unschedulable past the grace window', () => {
  const pods = fixture<V1Pod[]>('pods-unschedulable');
  const since = at('2026-11-26T15:16:16Z');

  it('waits during the grace window (an autoscaler may add a node)', () => {
    expect(unschedulablePod(pods, { now: since + 10_000 })).toBeUndefined();
  });

  it('fails after it with the scheduler message', () => {
    const f = unschedulablePod(pods, { now: since + 31_000 });
    expect(f?.reason).toBe('Unschedulable');
    expect(f?.message).toContain("didn't match Pod's node affinity/selector");
  });
});

describe('readiness probe failing past what the probe settings allow', () => {
  const ready = fixture<V1Pod[]>('pods-ready');
  const unready = () => {
    const p = clone(ready[0]!);
    p.status!.containerStatuses![0]!.ready = false;
    return p;
  };
  const started = at('2026-11-26T15:15:33Z');

  it('derives the grace from the probe: initialDelay + period × failureThreshold', () => {
    expect(readinessGraceMs(ready[0]!.spec!.containers[0]!)).toBe(15_000); // 0 + 5 × 3
  });

  it('passes a ready container and an unready one within the grace', () => {
    expect(readinessFailure(ready, { now: started + 60_000 })).toBeUndefined();
    expect(readinessFailure([unready()], { now: started + 10_000 })).toBeUndefined();
  });

  it('fails an unready running container after the grace', () => {
    const f = readinessFailure([unready()], { now: started + 20_000 });
    expect(f).toMatchObject({ reason: 'ReadinessProbeFailing', container: 'app' });
    expect(f?.message).toContain('running for 20s but not ready; its probes allow 15s');
  });
});

describe('notHealthyNow: may an unchanged release be left alone?', () => {
  const deployment = (
    spec: number,
    status: Partial<Record<string, number>>,
    generation = 2,
  ): V1Deployment => ({
    metadata: { name: 'order-service', generation },
    spec: { replicas: spec, selector: {}, template: {} },
    status: { observedGeneration: 2, ...status },
  });

  it('yes, when every replica is updated and available', () => {
    expect(notHealthyNow(deployment(3, { updatedReplicas: 3, availableReplicas: 3 }))).toBeUndefined();
  });

  it('no, naming why: missing, not observed, not rolled out, not available', () => {
    expect(notHealthyNow(undefined)).toBe('its Deployment is missing');
    expect(notHealthyNow(deployment(3, { updatedReplicas: 3, availableReplicas: 3 }, 3))).toBe(
      'its Deployment has a spec the controller has not acted on',
    );
    expect(notHealthyNow(deployment(3, { updatedReplicas: 2, availableReplicas: 3 }))).toBe(
      '2/3 replicas updated',
    );
    expect(notHealthyNow(deployment(3, { updatedReplicas: 3, availableReplicas: 1 }))).toBe(
      '1/3 replicas available',
    );
  });
});
