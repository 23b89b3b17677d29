/**
 * The read right after `helm upgrade` tells the tracker which Deployment generation
 * to wait for. When it fails, the watch cache still holds the previous, fully rolled
 * out spec: judging that would report "ready" for a rollout that has not started.
 * A fake API server (real HTTP, real client-node watches) serves exactly that cache.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { RolloutTracker } from '../../src/kube/tracker.js';
import { SCALING_ACTIVE } from './fixtures/hpa-conditions.js';
import { MemoryOutput } from '../memory-output.js';
import { fakeServerKubeConfig } from './fake-kubeconfig.js';

const fixture = (name: string): unknown =>
  JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures', `${name}.json`), 'utf8'));
const deployment = fixture('deployment-ready') as { metadata: { name: string; namespace: string } };
const NS = deployment.metadata.namespace;
const NAME = deployment.metadata.name;

/** What GET deployments/<name> answers, one entry per request (the last one repeats). */
let readAnswers: number[] = [];
let reads = 0;
/** How the next lists of deployments fail, in turn, before they answer. */
let listFaults: (number | 'reset')[] = [];
/** What the list of HPAs answers: a status code, or the HPAs. */
let hpaList: number | object[] = 403;
let server: Server;
const watches = new Set<ServerResponse>();

function list(kind: string, items: unknown) {
  return JSON.stringify({ kind, apiVersion: 'v1', metadata: { resourceVersion: '100' }, items });
}

beforeAll(async () => {
  const lists: Record<string, string> = {
    [`/apis/apps/v1/namespaces/${NS}/deployments`]: list('DeploymentList', [deployment]),
    [`/apis/apps/v1/namespaces/${NS}/replicasets`]: list('ReplicaSetList', fixture('replicasets-ready')),
    [`/api/v1/namespaces/${NS}/pods`]: list('PodList', fixture('pods-ready')),
    [`/api/v1/namespaces/${NS}/events`]: list('EventList', []),
  };
  server = createServer((req, res) => {
    const url = new URL(req.url!, 'http://x');
    if (url.searchParams.get('watch') === 'true') {
      // A watch that stays open and quiet: the cache keeps what the list said.
      res.writeHead(200, { 'content-type': 'application/json' });
      res.flushHeaders();
      watches.add(res);
      return;
    }
    if (url.pathname === `/apis/apps/v1/namespaces/${NS}/deployments` && listFaults.length) {
      const fault = listFaults.shift()!;
      if (fault === 'reset') req.socket.destroy();
      else
        res
          .writeHead(fault, { 'content-type': 'application/json' })
          .end(JSON.stringify({ kind: 'Status', code: fault, message: 'injected' }));
      return;
    }
    if (url.pathname === `/apis/autoscaling/v2/namespaces/${NS}/horizontalpodautoscalers`) {
      if (typeof hpaList === 'number') {
        res.writeHead(hpaList, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            kind: 'Status',
            code: hpaList,
            message: 'horizontalpodautoscalers is forbidden',
          }),
        );
      } else
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(list('HorizontalPodAutoscalerList', hpaList));
      return;
    }
    if (lists[url.pathname]) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(lists[url.pathname]);
      return;
    }
    if (url.pathname === `/apis/apps/v1/namespaces/${NS}/deployments/${NAME}`) {
      reads += 1;
      const status = readAnswers.length > 1 ? readAnswers.shift()! : readAnswers[0]!;
      const body =
        status === 200
          ? JSON.stringify(deployment)
          : JSON.stringify({ kind: 'Status', code: status, message: 'etcdserver: leader changed' });
      res.writeHead(status, { 'content-type': 'application/json' }).end(body);
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
});
afterAll(async () => {
  for (const w of watches) w.destroy();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});
beforeEach(() => {
  reads = 0;
  hpaList = 403;
});

const kubeConfig = () => fakeServerKubeConfig(server);

/** Tracks the one service to its outcome; `inspect` sees the tracker before it stops. */
async function track(inspect?: (tracker: RolloutTracker) => void) {
  const out = new MemoryOutput();
  const tracker = await RolloutTracker.start({ kubeconfig: kubeConfig(), namespace: NS, out });
  try {
    const outcome = await tracker.track({
      service: NAME,
      deployment: NAME,
      timeoutSeconds: 60,
      since: new Date(),
      onProgress: () => {},
    });
    inspect?.(tracker);
    return { outcome, out };
  } finally {
    await tracker.stop();
  }
}

it('judges the cached Deployment once the post-upgrade read answers (the control case)', async () => {
  readAnswers = [200];
  const { outcome } = await track();
  expect(outcome.verdict).toBe('ready');
  expect(reads).toBe(1);
});

it('retries a failing post-upgrade read, logging each retry with its cause', async () => {
  readAnswers = [503, 429, 200];
  const { outcome, out } = await track();
  expect(outcome.verdict).toBe('ready');
  expect(reads).toBe(3);
  const retries = out.lines.filter((l) => /reading Deployment .*retry \d of/.test(l.message));
  expect(retries.map((l) => l.message)).toEqual([
    expect.stringMatching(/503: etcdserver: leader changed; retry 1 of 5/),
    expect.stringMatching(/429: etcdserver: leader changed; retry 2 of 5/),
  ]);
});

it('never calls the stale cache ready when the post-upgrade read keeps failing', async () => {
  readAnswers = [500];
  const { outcome } = await track();
  expect(outcome).toMatchObject({ verdict: 'failed', reason: 'StatusUnknown' });
  expect(outcome.message).toMatch(
    /could not read Deployment order-service after the upgrade \(500: etcdserver: leader changed\)/,
  );
  expect(reads).toBe(6);
}, 30_000);

it('retries the first list of a watch that fails for a moment (a reset, a 503)', async () => {
  readAnswers = [200];
  listFaults = ['reset', 503];
  const { outcome, out } = await track();
  expect(outcome.verdict).toBe('ready');
  expect(listFaults).toEqual([]);
  expect(
    out.lines.map((l) => l.message).filter((m) => /^watch of deployments: .*retry \d of 5/.test(m)),
  ).toEqual([
    expect.stringMatching(/ECONNRESET|socket hang up|other side closed|fetch failed/i),
    expect.stringMatching(/503/),
  ]);
});

it('stops at once when the first list is refused (403): no retry', async () => {
  listFaults = [403];
  await expect(
    RolloutTracker.start({ kubeconfig: kubeConfig(), namespace: NS, out: new MemoryOutput() }),
  ).rejects.toThrow(/cannot watch deployments in namespace .*: 403/);
  expect(listFaults).toEqual([]);
});

describe('the watch of HPAs (for the HPA checks, not for the rollout)', () => {
  it('tracks as usual when the identity may not list HPAs, and says the checks read each HPA instead', async () => {
    readAnswers = [200];
    let seen: unknown = 'not asked';
    const { outcome, out } = await track((tracker) => (seen = tracker.hpaSeenActive(NAME, 0)));
    expect(outcome.verdict).toBe('ready');
    expect(seen).toBeUndefined();
    expect(out.lines).toContainEqual({
      level: 'info',
      message: expect.stringMatching(
        /^not watching horizontalpodautoscalers in .*\(403: horizontalpodautoscalers is forbidden\): the HPA checks read each HPA after its rollout$/,
      ),
    });
  });

  it('answers with the HPA it listed active, for any moment from the list on', async () => {
    hpaList = [
      {
        metadata: { name: NAME, namespace: NS, uid: 'u1', generation: 2, resourceVersion: '90' },
        spec: { scaleTargetRef: { kind: 'Deployment', name: NAME }, maxReplicas: 20 },
        status: { currentReplicas: 3, desiredReplicas: 3, conditions: [SCALING_ACTIVE] },
      },
    ];
    const out = new MemoryOutput();
    const tracker = await RolloutTracker.start({ kubeconfig: kubeConfig(), namespace: NS, out });
    try {
      const applied = Date.now();
      expect(tracker.hpaSeenActive(NAME, applied)?.metadata).toMatchObject({ uid: 'u1', generation: 2 });
      expect(tracker.hpaSeenActive('payment-service', applied)).toBeUndefined();
      expect(out.text()).not.toMatch(/not watching/);
    } finally {
      await tracker.stop();
    }
  });
});
