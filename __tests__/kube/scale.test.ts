/** raiseToMinimum against a small API server: only up, only the version read, read again on 409. */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { raiseToMinimum } from '../../src/kube/scale.js';
import { fakeServerKubeConfig } from './fake-kubeconfig.js';

let server: Server;
/** The Deployment as stored; `onGet` may move it (as the controller or the HPA would) before it is read. */
let stored: { replicas: number; rv: number };
let onGet: (n: number) => void;
let gets = 0;
const patches: { replicas: number; rv: string; contentType?: string }[] = [];

const body = (req: IncomingMessage) =>
  new Promise<{ metadata: { resourceVersion: string }; spec: { replicas: number } }>((resolve) => {
    let data = '';
    req.on('data', (d) => (data += d));
    req.on('end', () => resolve(data ? JSON.parse(data) : {}));
  });

beforeAll(async () => {
  server = createServer(async (req, res) => {
    const send = (status: number, doc: unknown) =>
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(doc));
    const deployment = () => ({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'order-service', namespace: 'shop', resourceVersion: String(stored.rv) },
      spec: { replicas: stored.replicas, selector: {}, template: {} },
    });
    if (req.url !== '/apis/apps/v1/namespaces/shop/deployments/order-service')
      return send(404, { kind: 'Status', code: 404 });
    if (req.method === 'GET') {
      onGet(++gets);
      return send(200, deployment());
    }
    if (req.method === 'PATCH') {
      const b = await body(req);
      patches.push({
        replicas: b.spec.replicas,
        rv: b.metadata.resourceVersion,
        contentType: req.headers['content-type'],
      });
      // The controller writes the status of a fresh Deployment right after a read: the version moves.
      if (b.metadata.resourceVersion !== String(stored.rv))
        return send(409, {
          kind: 'Status',
          code: 409,
          reason: 'Conflict',
          message: 'the object has been modified',
        });
      stored = { replicas: b.spec.replicas, rv: stored.rv + 1 };
      return send(200, deployment());
    }
    send(405, {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
});
afterAll(() => new Promise((r) => server.close(r)));
beforeEach(() => {
  gets = 0;
  patches.length = 0;
  onGet = () => {};
});

const kc = () => fakeServerKubeConfig(server);
const raise = () => raiseToMinimum(kc(), { namespace: 'shop', deployment: 'order-service', min: 3 });

it('raises a Deployment below the minimum with a merge patch carrying the version it read', async () => {
  stored = { replicas: 1, rv: 10 };
  expect(await raise()).toMatch(/^scaled from 1 to the HPA's minimum of 3 replicas/);
  expect(patches).toEqual([{ replicas: 3, rv: '10', contentType: 'application/merge-patch+json' }]);
  expect(stored.replicas).toBe(3);
});

it('reads again when the version moved between its read and its write, and still raises', async () => {
  stored = { replicas: 1, rv: 10 };
  // The first read is answered, then the controller's status write moves the version.
  onGet = (n) => {
    if (n === 1) queueMicrotask(() => (stored = { ...stored, rv: stored.rv + 1 }));
  };
  expect(await raise()).toMatch(/^scaled from 1 to/);
  expect(patches.map((p) => p.rv)).toEqual(['10', '11']);
  expect(stored.replicas).toBe(3);
});

it('leaves a count the HPA raised meanwhile, and never lowers one', async () => {
  stored = { replicas: 1, rv: 10 };
  onGet = (n) => {
    if (n === 1) queueMicrotask(() => (stored = { replicas: 5, rv: 11 }));
  };
  expect(await raise()).toBe('already at 5 replicas');
  expect(stored.replicas).toBe(5);
  stored = { replicas: 4, rv: 20 };
  expect(await raise()).toBe('already at 4 replicas');
  expect(patches.map((p) => p.replicas)).toEqual([3]);
});

it('never fails the deploy: a missing Deployment is left for the HPA, said why', async () => {
  const msg = await raiseToMinimum(kc(), { namespace: 'shop', deployment: 'absent', min: 3 });
  expect(msg).toMatch(/^left at its replicas for the HPA to raise \(/);
});
