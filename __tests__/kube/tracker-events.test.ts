/**
 * Which rollouts a watch event makes the tracker judge: the one Deployment it belongs to
 * (a pod through its ReplicaSet), or every tracked one when its owner is not known. Real
 * HTTP and real client-node watches against a fake API server that streams the events.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { RolloutTracker } from '../../src/kube/tracker.js';
import { MemoryOutput } from '../memory-output.js';
import { fakeServerKubeConfig } from './fake-kubeconfig.js';

type Obj = { metadata: Record<string, unknown>; [k: string]: unknown };
const fixture = (name: string): unknown =>
  JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures', `${name}.json`), 'utf8'));
const order = fixture('deployment-ready') as Obj & { status: Record<string, unknown> };
const NS = order.metadata.namespace as string;
// Both rollouts under way: generation 2 is not observed yet, so neither is ready.
const pending = (name: string): Obj => ({
  ...order,
  metadata: { ...order.metadata, name, generation: 2 },
  status: { ...order.status, observedGeneration: 1 },
});
const deployments = [pending('order-service'), pending('user-service')];
const replicaSets = fixture('replicasets-ready') as Obj[];
const pods = fixture('pods-ready') as Obj[];

let server: Server;
const watches = new Map<string, ServerResponse>();
let rv = 1000;
/** The query of every list request, by path. */
const listed: { path: string; query: string }[] = [];
const oldEvent = {
  metadata: { name: 'order-service.old', namespace: 'x', resourceVersion: '90' },
  type: 'Warning',
  reason: 'FailedCreate',
  message: 'from an hour ago',
  involvedObject: { kind: 'Deployment', name: 'order-service' },
};

function list(kind: string, items: unknown) {
  return JSON.stringify({ kind, apiVersion: 'v1', metadata: { resourceVersion: '100' }, items });
}

beforeAll(async () => {
  const lists: Record<string, string> = {
    [`/apis/apps/v1/namespaces/${NS}/deployments`]: list('DeploymentList', deployments),
    [`/apis/apps/v1/namespaces/${NS}/replicasets`]: list('ReplicaSetList', replicaSets),
    [`/api/v1/namespaces/${NS}/pods`]: list('PodList', pods),
    [`/api/v1/namespaces/${NS}/events`]: list('EventList', [
      { ...oldEvent, metadata: { ...oldEvent.metadata, namespace: NS } },
    ]),
  };
  server = createServer((req, res) => {
    const url = new URL(req.url!, 'http://x');
    if (url.searchParams.get('watch') === 'true') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.flushHeaders();
      watches.set(url.pathname, res);
      return;
    }
    const one = deployments.find((d) => url.pathname.endsWith(`/deployments/${d.metadata.name as string}`));
    if (one) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(one));
      return;
    }
    if (lists[url.pathname]) {
      listed.push({ path: url.pathname, query: url.search });
      res.writeHead(200, { 'content-type': 'application/json' }).end(lists[url.pathname]);
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
});
afterAll(async () => {
  for (const w of watches.values()) w.destroy();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const kubeConfig = () => fakeServerKubeConfig(server);

const settle = () => new Promise((r) => setTimeout(r, 150));

/** A MODIFIED event for `o` on the pods watch, as the API server streams it. */
function podEvent(o: Obj) {
  rv += 1;
  const object = { ...o, metadata: { ...o.metadata, resourceVersion: String(rv) } };
  watches.get(`/api/v1/namespaces/${NS}/pods`)!.write(`${JSON.stringify({ type: 'MODIFIED', object })}\n`);
}

it('judges only the rollout a pod belongs to; a pod whose ReplicaSet it does not know, every one', async () => {
  const judged: string[] = [];
  // Each judgement recorded instead of made; no 1 s tick in this test: only the events judge.
  const proto = RolloutTracker.prototype as unknown as { evaluate(t: unknown): void };
  const [realEvaluate, realSetInterval] = [proto.evaluate, globalThis.setInterval];
  proto.evaluate = (t) => void judged.push((t as { req: { service: string } }).req.service);
  globalThis.setInterval = (() => 0) as unknown as typeof setInterval;
  const tracker = await RolloutTracker.start({
    kubeconfig: kubeConfig(),
    namespace: NS,
    out: new MemoryOutput(),
  });
  try {
    for (const name of ['order-service', 'user-service']) {
      void tracker.track({
        service: name,
        deployment: name,
        timeoutSeconds: 60,
        since: new Date(),
        onProgress: () => {},
      });
    }
    await settle();
    judged.length = 0;

    podEvent(pods[0]!); // owned by order-service's ReplicaSet
    await settle();
    expect(judged).toEqual(['order-service']);

    judged.length = 0;
    const stranger = {
      ...pods[1]!,
      metadata: { ...pods[1]!.metadata, ownerReferences: [{ kind: 'ReplicaSet', name: 'not-in-the-cache' }] },
    };
    podEvent(stranger);
    await settle();
    expect(judged.sort()).toEqual(['order-service', 'user-service']);
  } finally {
    await tracker.stop();
    proto.evaluate = realEvaluate;
    globalThis.setInterval = realSetInterval;
  }
});

it('watches events from the current resourceVersion without reading the old ones, and keeps what it saw through a re-list', async () => {
  listed.length = 0;
  const tracker = await RolloutTracker.start({
    kubeconfig: kubeConfig(),
    namespace: NS,
    out: new MemoryOutput(),
  });
  const cached = () =>
    (tracker as unknown as { events: { list(): { metadata: { name: string } }[] } }).events
      .list()
      .map((e) => e.metadata.name);
  const eventsPath = `/api/v1/namespaces/${NS}/events`;
  try {
    // One item at most, for the collection's resourceVersion; the other kinds are listed whole.
    expect(listed.find((l) => l.path === eventsPath)?.query).toBe('?limit=1');
    expect(listed.filter((l) => l.path !== eventsPath).map((l) => l.query)).toEqual(['', '', '']); // deployments, replicasets, pods (no HPAs here)
    await settle();
    expect(cached()).toEqual([]); // the listed event is not taken

    rv += 1;
    const object = {
      ...oldEvent,
      metadata: { name: 'order-service.new', namespace: NS, resourceVersion: String(rv) },
    };
    watches.get(eventsPath)!.write(`${JSON.stringify({ type: 'ADDED', object })}\n`);
    await settle();
    expect(cached()).toEqual(['order-service.new']);

    // 410 Gone: the watch ends, the informer re-lists (limit=1 again) and watches on.
    watches
      .get(eventsPath)!
      .end(`${JSON.stringify({ type: 'ERROR', object: { kind: 'Status', code: 410 } })}\n`);
    await settle();
    expect(listed.filter((l) => l.path === eventsPath).map((l) => l.query)).toEqual(['?limit=1', '?limit=1']);
    expect(cached()).toEqual(['order-service.new']);
  } finally {
    await tracker.stop();
  }
});
