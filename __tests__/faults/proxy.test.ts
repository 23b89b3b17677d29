/**
 * Scenario f: a flaky API server, through the fault proxy (the tool routed to it by the
 * EKS endpoint DescribeCluster returns). f1: a fifth of the tool's own requests answered
 * 429, 503 or reset: retried, the deploy succeeds. f2: the read of one Deployment after its
 * upgrade answered 503 more often than the retry budget: that service fails StatusUnknown
 * (never "ready") and is rolled back to the revision before the run.
 */
import type { StandInEnv } from '../../scripts/stand-in.mjs';
import { harness, startApiProxy, type ApiProxy } from '../e2e/faults.js';
import {
  checkEndState,
  deploy,
  freshTag,
  knownSecrets,
  latestReleases,
  record,
  retryLines,
  scenarioNamespace,
  seconds,
  standIn,
  type Secrets,
} from './scenario.js';

const SVCS = ['user-service', 'order-service'] as const;
/** The retry budget of a Kubernetes read (src/kube/retry.ts): 6 attempts, "retry N of 5". */
const READ_ATTEMPTS = 6;

let env: StandInEnv;
let runDir: string;
let secrets: Secrets;
let proxy: ApiProxy;
let ns: string;

beforeAll(async () => {
  ({ env, runDir } = standIn());
  secrets = await knownSecrets(env);
  proxy = await startApiProxy(runDir);
  await harness.setClusterEndpoint(env, proxy.url);
  ns = scenarioNamespace(env, 'faults-flaky');
});
afterAll(async () => {
  await harness.resetClusterEndpoint(env);
  await proxy?.stop();
});

it('f1: a fifth of its requests answered 429/503/reset: retries them and deploys', async () => {
  await proxy.setRules([
    { id: '429', userAgent: '^node-fetch', watch: false, action: '429', probability: 0.07 },
    { id: '503', userAgent: '^node-fetch', watch: false, action: '503', probability: 0.07 },
    { id: 'reset', userAgent: '^node-fetch', action: 'reset', probability: 0.06 },
  ]);
  await proxy.resetStats();
  const tag = await freshTag(env, SVCS, 'f1');
  const res = await deploy(env, { namespace: ns, tag, services: SVCS, label: 'f1', timeoutMs: 240_000 });
  const stats = await proxy.stats();
  await proxy.clearRules();
  const retries = retryLines(res);
  const byRule = stats.rules.map((r) => `${r.injected} ${r.id}`).join(', ');
  const toolRequests = stats.rules.find((r) => r.id === 'reset')!.matched;
  const end = await checkEndState(env, {
    namespace: ns,
    expected: { 'user-service': 1, 'order-service': 1 },
    runs: [res],
    secrets,
    label: 'f1',
  });
  record({
    id: 'f1',
    title: "20 % of the tool's API requests fail",
    injected:
      "proxy rules on the tool's own requests (User-Agent ^node-fetch): non-watch 429 (p 0.07, Retry-After 1) and 503 (p 0.07), any request incl. watch starts reset (p 0.06)",
    behaviour: `exit ${res.code}; ${res.report?.services.map((s) => `${s.service} ${s.status}`).join(', ')}; ${retries.length} retry line(s) in its log`,
    figures: `${stats.injected} faults injected (${byRule}) of ${toolRequests} tool requests (${stats.requests} through the proxy, helm's included); run ${seconds(res.exitedAt - res.startedAt)}`,
    endState: end.summary,
    passed: end.problems.length === 0 && res.code === 0 && stats.injected > 0,
  });

  expect({ code: res.code, output: res.code === 0 ? '' : res.output }).toEqual({ code: 0, output: '' });
  expect(stats.injected).toBeGreaterThan(0);
  expect(retries.length).toBeGreaterThan(0);
  expect(end.problems).toEqual([]);
});

it('f2: the post-upgrade read of one Deployment keeps failing: StatusUnknown, rolled back, exit 1', async () => {
  // Where f1 left them (its run and the end state's following deploy).
  const before = latestReleases(env, ns);
  const userBefore = before['user-service']!.revision;
  const orderBefore = before['order-service']!.revision;
  await proxy.setRules([
    {
      id: 'post-upgrade-read',
      method: 'GET',
      path: `^/apis/apps/v1/namespaces/${ns}/deployments/user-service$`,
      watch: false,
      userAgent: '^node-fetch',
      action: '503',
      times: READ_ATTEMPTS,
    },
  ]);
  const tag = await freshTag(env, SVCS, 'f2');
  const res = await deploy(env, { namespace: ns, tag, services: SVCS, label: 'f2', timeoutMs: 240_000 });
  const stats = await proxy.stats();
  await proxy.clearRules();
  const user = res.report?.services.find((s) => s.service === 'user-service');
  const order = res.report?.services.find((s) => s.service === 'order-service');
  const readRetries = retryLines(res).filter((l) => l.includes('user-service: reading Deployment'));
  // user-service: upgraded, then rolled back to where it was as one more revision; order-service: upgraded.
  const end = await checkEndState(env, {
    namespace: ns,
    expected: { 'user-service': userBefore + 2, 'order-service': orderBefore + 1 },
    runs: [res],
    secrets,
    label: 'f2',
  });
  record({
    id: 'f2',
    title: 'Post-upgrade Deployment read fails beyond the retry budget',
    injected: `proxy: the tool's GET of Deployment user-service answered 503 ${READ_ATTEMPTS} times (the budget is ${READ_ATTEMPTS} attempts)`,
    behaviour: `exit ${res.code}; user-service ${user?.status} (${user?.reason}), rolled back to r${user?.rolledBackTo}; order-service ${order?.status} r${order?.revision}`,
    figures: `${stats.rules[0]!.injected} × 503 injected; ${readRetries.length} retries of that read logged; run ${seconds(res.exitedAt - res.startedAt)}`,
    endState: end.summary,
    passed: end.problems.length === 0 && res.code === 1 && user?.reason === 'StatusUnknown',
  });

  expect({ code: res.code, output: res.code === 1 ? '' : res.output }).toEqual({ code: 1, output: '' });
  expect(stats.rules[0]).toMatchObject({ injected: READ_ATTEMPTS });
  expect(readRetries).toHaveLength(READ_ATTEMPTS - 1);
  expect(user).toMatchObject({ status: 'rolled-back', reason: 'StatusUnknown', rolledBackTo: userBefore });
  expect(order).toMatchObject({ status: 'deployed', revision: orderBefore + 1 });
  expect(end.problems).toEqual([]);
});
