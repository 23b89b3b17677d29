/**
 * The run's Lease against a fake API server (real HTTP, real client-node) that keeps
 * resourceVersions as the API server does: a write or delete with a stale one is a 409.
 */
import { createServer, type Server } from 'node:http';
import { acquireLock } from '../../src/kube/lease.js';
import { fakeServerKubeConfig } from './fake-kubeconfig.js';

const NS = 'shop';
const PATH = `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases`;
let server: Server;
let stored: { metadata: { resourceVersion: string } } | undefined;
let rv = 0;
let renewals = 0;
/** Store the next renewal, then reset the connection instead of answering (the answer is lost). */
let loseNextRenewalAnswer = false;
/** How long the answer to a renewal (PUT) takes. */
const RENEW_LATENCY_MS = 1500;

function readBody(req: import('node:http').IncomingMessage): Promise<Record<string, unknown>> {
  return new Promise((resolve) => {
    let data = '';
    req.on('data', (d) => (data += d));
    req.on('end', () => resolve(data ? JSON.parse(data) : {}));
  });
}

beforeAll(async () => {
  server = createServer(async (req, res) => {
    const body = await readBody(req);
    const send = (status: number, doc: unknown) =>
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(doc));
    const conflict = () =>
      send(409, { kind: 'Status', code: 409, reason: 'Conflict', message: 'stale resourceVersion' });
    if (req.method === 'POST' && req.url!.startsWith(PATH)) {
      if (stored) return conflict();
      stored = {
        ...(body as object),
        metadata: { ...(body.metadata as object), resourceVersion: String(++rv) },
      };
      return send(201, stored);
    }
    if (req.method === 'PUT') {
      const sent = (body.metadata as { resourceVersion?: string }).resourceVersion;
      if (!stored || sent !== stored.metadata.resourceVersion) return conflict();
      renewals += 1;
      stored = {
        ...(body as object),
        metadata: { ...(body.metadata as object), resourceVersion: String(++rv) },
      };
      if (loseNextRenewalAnswer) {
        loseNextRenewalAnswer = false;
        return req.socket.destroy();
      }
      // Stored at once, answered late: the client learns the new resourceVersion only then.
      const answer = stored;
      await new Promise((r) => setTimeout(r, RENEW_LATENCY_MS));
      return send(200, answer);
    }
    if (req.method === 'GET' && req.url!.startsWith(PATH) && stored) return send(200, stored);
    if (req.method === 'DELETE') {
      const pre = (body.preconditions as { resourceVersion?: string } | undefined)?.resourceVersion;
      if (!stored || (pre && pre !== stored.metadata.resourceVersion)) return conflict();
      stored = undefined;
      return send(200, { kind: 'Status', status: 'Success' });
    }
    send(404, { kind: 'Status', code: 404 });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const kubeConfig = () => fakeServerKubeConfig(server);

it('releases the lease when the run ends while a renewal is in flight', async () => {
  const log: string[] = [];
  const lock = await acquireLock(kubeConfig(), {
    namespace: NS,
    holder: 'me@host (run-id 1)',
    log: (m) => log.push(m),
  });
  expect(stored).toBeDefined();
  // The first renewal starts 10 s after taking the lease; end the run while it is on the wire.
  await new Promise((r) => setTimeout(r, 10_000 + RENEW_LATENCY_MS / 2));
  await lock.release();
  expect(renewals).toBe(1);
  expect(log.filter((m) => /could not release/.test(m))).toEqual([]);
  expect(stored).toBeUndefined(); // the next run can take it at once
}, 20_000);

it('keeps and releases its lease when a renewal was applied but its answer lost (stale resourceVersion)', async () => {
  const log: string[] = [];
  loseNextRenewalAnswer = true;
  const lock = await acquireLock(kubeConfig(), {
    namespace: NS,
    holder: 'me@host (run-id 2)',
    log: (m) => log.push(m),
  });
  // The first renewal (10 s) is stored but its answer reset; its retry then carries a stale version (409).
  await new Promise((r) => setTimeout(r, 10_000 + RENEW_LATENCY_MS * 3));
  await lock.release();
  expect(log.filter((m) => /taken by another run|could not (renew|release)/.test(m))).toEqual([]);
  expect(stored).toBeUndefined();
}, 25_000);
