/**
 * The PR comment, the GitHub deployment and the retrying client, against a local server
 * that validates every request against GitHub's published OpenAPI description.
 */
import { githubClient, retryDelay, type GitHubClient } from '../../src/github/api.js';
import { COMMENT_LIMIT, commentMarker, planComment, upsertPlanComment } from '../../src/github/comment.js';
import { finalState, GitHubDeployment, type DeploymentPayload } from '../../src/github/deployments.js';
import type { Report, ServiceResult } from '../../src/model.js';
import { GitHubApiServer } from '../github-api-server.js';
import { MemoryOutput } from '../memory-output.js';

const TOKEN = 'ghs_unitTestToken0123456789';
const DIGEST = 'sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';
const REPO = 'ecr.example/shop';
const PR = { owner: 'acme', repo: 'shop', number: 42 };

function planReport(services: ServiceResult[], extra: Partial<Report> = {}): Report {
  return {
    result: 'planned',
    mode: 'plan',
    namespace: 'shop',
    environment: 'production',
    imageTag: 'abc123',
    startedAt: '2026-01-01T00:00:00.000Z',
    durationMs: 4_000,
    services,
    warnings: [],
    ...extra,
  };
}

/** Today's plan: no `change`. */
const plain = (service: string): ServiceResult => ({
  service,
  status: 'planned',
  image: `${REPO}/${service}:abc123`,
  digest: DIGEST,
  chartVersion: '1.4.0',
});

const changed = (service: string, diffLines = 3): ServiceResult => ({
  ...plain(service),
  change: {
    kind: 'changed',
    liveRevision: 4,
    image: { from: `${REPO}/${service}:old111@${DIGEST}`, to: `${REPO}/${service}:abc123@${DIGEST}` },
    chart: { from: '1.3.0', to: '1.4.0' },
    values: [{ path: 'resources.limits.memory', change: 'changed' }],
    objects: [
      {
        kind: 'Deployment',
        name: service,
        change: 'changed',
        diff: Array.from({ length: diffLines }, (_, i) => `-  line${i}: old\n+  line${i}: new`).join('\n'),
      },
      { kind: 'Secret', name: `${service}-env`, change: 'changed' },
      { kind: 'ConfigMap', name: `${service}-cfg`, change: 'added', diff: '+data: {}' },
    ],
  },
});

let server: GitHubApiServer;
let gh: GitHubClient;
let out: MemoryOutput;
let slept: number[];

beforeAll(async () => {
  server = await GitHubApiServer.start();
});
afterAll(() => server.stop());
beforeEach(() => {
  out = new MemoryOutput();
  slept = [];
  gh = githubClient(TOKEN, {
    baseUrl: server.url,
    log: (m) => out.info(m),
    sleep: async (ms) => void slept.push(ms),
  });
  server.requests.length = 0;
  server.comments.length = 0;
  server.deployments.length = 0;
});
afterEach(() => {
  // Every request any test made must be one GitHub's description allows.
  expect(server.violations).toEqual([]);
  expect(out.text()).not.toContain(TOKEN);
});

describe('the validating server', () => {
  it('records an unknown route and an invalid body as violations', async () => {
    await expect(
      gh.request('POST /repos/{owner}/{repo}/deployments', {
        owner: 'a',
        repo: 'b',
        ref: 7 as unknown as string,
      }),
    ).resolves.toBeDefined();
    await expect(gh.request('GET /no/such/route')).rejects.toMatchObject({ status: 404 });
    await expect(
      gh.request('POST /repos/{owner}/{repo}/issues/{issue_number}/comments', {
        owner: 'a',
        repo: 'b',
        issue_number: 1,
        body: 'x',
        bogus: true,
      }),
    ).resolves.toBeDefined();
    expect(server.violations).toEqual([
      expect.stringMatching(/repos\/create-deployment.*\/requestBody\/ref must be string/),
      expect.stringMatching(/GET \/no\/such\/route: no such route/),
      expect.stringMatching(/issues\/create-comment.*must NOT have additional properties/),
    ]);
    server.violations.length = 0;
  });
});

describe('the plan comment', () => {
  it('degrades to image, chart and status when the plan has no change field', () => {
    const body = planComment(planReport([plain('user-service'), plain('cart-service')]));
    expect(body.startsWith(commentMarker('production'))).toBe(true);
    expect(body).toContain('Plan for `production`: 2 services');
    expect(body).toContain(
      '| user-service | planned | <code>user-service:abc123@sha256:0123456789ab</code> | 1.4.0 | — | — |',
    );
    expect(body).not.toContain('<details>');
  });

  it('shows image and chart from → to, revision, objects, and the diffs collapsed', () => {
    const body = planComment(
      planReport(
        [
          changed('user-service'),
          {
            ...plain('cart-service'),
            change: { ...changed('x').change!, kind: 'unchanged', objects: [], values: [] },
          },
        ],
        { planId: 'p-123' },
      ),
    );
    expect(body).toContain('1 of 2 would change');
    expect(body).toContain('plan <code>p-123</code>');
    expect(body).toContain(
      '| user-service | ✏️ changed | <code>user-service:old111@sha256:0123456789ab</code> → <code>user-service:abc123@sha256:0123456789ab</code> | <code>1.3.0</code> → <code>1.4.0</code> | 4 → 5 | 2 changed, 1 added |',
    );
    expect(body).toContain('<details><summary><b>user-service</b>: 2 changed, 1 added</summary>');
    expect(body).toContain('```diff\n-  line0: old\n+  line0: new');
    expect(body).toContain('<code>resources.limits.memory</code> changed');
    expect(body).toContain('_(Secret: contents not shown)_');
    // unchanged services get no section
    expect(body.match(/<details>/g)).toHaveLength(1);
  });

  it('keeps under the limit by cutting diffs, and says where the whole plan is', () => {
    const services = ['a', 'b', 'c', 'd', 'e', 'f'].map((s) => changed(`${s}-service`, 2000));
    const body = planComment(planReport(services), { runUrl: 'https://github.com/acme/shop/actions/runs/9' });
    expect(body.length).toBeLessThanOrEqual(COMMENT_LIMIT);
    expect(body.length).toBeGreaterThan(COMMENT_LIMIT / 2);
    // every service's row stays; some sections are cut, with a pointer
    for (const s of services) expect(body).toContain(`| ${s.service} |`);
    expect(body).toMatch(/✂️ Diffs cut here \(6 services not shown in full\)/);
    expect(body).toContain('[the job summary](https://github.com/acme/shop/actions/runs/9)');
    expect(body.trimEnd().endsWith('</sub>')).toBe(true);
    // no section is cut in the middle (which would leave a fence open)
    expect(body.split('<details>').length).toBe(body.split('</details>').length);
  });

  it('never shows a secret', () => {
    const r = changed('user-service');
    r.change!.objects[0]!.diff = '+  password: hunter2-secret';
    const body = planComment(planReport([r]), { secrets: ['hunter2-secret'] });
    expect(body).not.toContain('hunter2-secret');
    expect(body).toContain('***');
  });

  it('is created once, then updated in place', async () => {
    const first = planComment(planReport([plain('user-service')]));
    await expect(upsertPlanComment(gh, PR, 'production', first, out)).resolves.toMatchObject({
      action: 'created',
    });
    // another environment's comment is a separate one
    await upsertPlanComment(
      gh,
      PR,
      'staging',
      planComment(planReport([plain('user-service')], { environment: 'staging' })),
      out,
    );
    const second = planComment(planReport([changed('user-service')]));
    await expect(upsertPlanComment(gh, PR, 'production', second, out)).resolves.toMatchObject({
      action: 'updated',
    });
    expect(server.comments.map((c) => [c.issue, c.body.split('\n')[0]])).toEqual([
      [42, commentMarker('production')],
      [42, commentMarker('staging')],
    ]);
    expect(server.comments[0]!.body).toBe(second);
    expect(server.calls('issues/create-comment')).toHaveLength(2);
    expect(server.calls('issues/update-comment')).toHaveLength(1);
    expect(server.requests.every((r) => r.authorization === `token ${TOKEN}`)).toBe(true);
  });

  it('makes no second comment when the answer to its create was lost (it is found by its marker)', async () => {
    server.loseAnswer('issues/create-comment', 502);
    const body = planComment(planReport([changed('user-service')]));
    await expect(upsertPlanComment(gh, PR, 'production', body, out)).resolves.toMatchObject({
      action: 'created',
      url: expect.stringContaining('#issuecomment-'),
    });
    expect(server.calls('issues/create-comment')).toHaveLength(1);
    expect(server.comments).toHaveLength(1);
    expect(out.lines.filter((l) => l.level === 'warn')).toEqual([]);
    expect(server.violations).toEqual([]);
  });

  it.each([403, 404])('without permission (%i) warns and goes on', async (status) => {
    server.failNext('issues/list-comments', status);
    await expect(upsertPlanComment(gh, PR, 'production', 'body', out)).resolves.toBeUndefined();
    expect(out.lines.filter((l) => l.level === 'warn').map((l) => l.message)).toEqual([
      expect.stringContaining('pull-requests: write'),
    ]);
    expect(server.comments).toEqual([]);
    // a permission answer is not retried
    expect(slept).toEqual([]);
  });
});

const payload: DeploymentPayload = {
  tool: 'ecommerce-deploy',
  imageTag: 'abc123',
  namespace: 'shop',
  services: [{ service: 'user-service', image: `${REPO}/user-service:abc123`, digest: DIGEST }],
};
const target = {
  owner: 'acme',
  repo: 'shop',
  ref: 'a'.repeat(40),
  environment: 'production',
  environmentUrl: 'https://shop.example.com',
  productionEnvironment: true,
  transientEnvironment: false,
  logUrl: 'https://github.com/acme/shop/actions/runs/9',
};

describe('the GitHub deployment', () => {
  const deployed = (result: Report['result'], error?: Report['error']): Report => ({
    ...planReport([{ ...plain('user-service'), status: result === 'success' ? 'deployed' : 'failed' }]),
    mode: 'deploy',
    result,
    error,
  });

  it('is created for the commit and moves in_progress → success', async () => {
    const d = new GitHubDeployment(gh, target, out);
    await d.start(payload);
    await d.finish(deployed('success'), payload);
    expect(server.deployments).toEqual([
      {
        id: d.deploymentId,
        ref: target.ref,
        environment: 'production',
        payload: { ...payload, request: expect.stringMatching(/^[0-9a-f-]{36}$/) },
        production_environment: true,
        transient_environment: false,
        auto_merge: false,
        required_contexts: [],
        statuses: [
          expect.objectContaining({
            state: 'in_progress',
            log_url: target.logUrl,
            environment_url: target.environmentUrl,
          }),
          expect.objectContaining({
            state: 'success',
            log_url: target.logUrl,
            environment_url: target.environmentUrl,
          }),
        ],
      },
    ]);
  });

  it('keeps the order in_progress → final when the start was not waited for (the Action does not)', async () => {
    server.failNext('repos/create-deployment', 502, {}, 1);
    const d = new GitHubDeployment(gh, target, out);
    void d.start(payload);
    await d.finish(deployed('success'), payload);
    expect(server.deployments).toHaveLength(1);
    expect(server.deployments[0]!.statuses.map((s) => s.state)).toEqual(['in_progress', 'success']);
  });

  it('ends in failure when a service failed', async () => {
    const d = new GitHubDeployment(gh, target, out);
    await d.start(payload);
    await d.finish(deployed('failure'), payload);
    expect(server.deployments[0]!.statuses.map((s) => s.state)).toEqual(['in_progress', 'failure']);
  });

  it('records a run that could not run (preflight error) as error, never in_progress', async () => {
    const d = new GitHubDeployment(gh, target, out);
    await d.finish(
      deployed('failure', { kind: 'preflight', message: 'image missing', exitCode: 2 }),
      payload,
    );
    expect(server.deployments[0]!.statuses.map((s) => s.state)).toEqual(['error']);
    expect(server.deployments[0]!.statuses[0]!.description).toBe('preflight error: image missing');
  });

  it('maps results to states', () => {
    expect(finalState(deployed('success'))).toBe('success');
    expect(finalState(deployed('failure'))).toBe('failure');
    expect(finalState(deployed('failure', { kind: 'deploy', message: 'x', exitCode: 1 }))).toBe('failure');
    expect(finalState(deployed('failure', { kind: 'input', message: 'x', exitCode: 2 }))).toBe('error');
    expect(finalState({ ...deployed('cancelled'), cancelledBy: 'SIGTERM' })).toBe('error');
  });

  it('retries 5xx and rate limits, logging each retry once', async () => {
    server.failNext('repos/create-deployment', 502, {}, 2);
    const d = new GitHubDeployment(gh, target, out);
    await d.start(payload);
    server.failNext('repos/create-deployment-status', 429, { 'retry-after': '3' });
    await d.finish(deployed('success'), payload);
    expect(server.deployments).toHaveLength(1);
    expect(server.deployments[0]!.statuses.map((s) => s.state)).toEqual(['in_progress', 'success']);
    expect(slept).toEqual([1000, 2000, 3000]);
    const retries = out.lines.filter((l) => /retry \d of 3/.test(l.message)).map((l) => l.message);
    expect(retries).toEqual([
      expect.stringMatching(
        /^GitHub API POST \/repos\/\{owner\}\/\{repo\}\/deployments: 502; retry 1 of 3 in 1 s$/,
      ),
      expect.stringMatching(/deployments: 502; retry 2 of 3 in 2 s$/),
      expect.stringMatching(/statuses: 429; retry 1 of 3 in 3 s$/),
    ]);
    expect(out.lines.filter((l) => l.level === 'warn')).toEqual([]);
  });

  it('makes no second deployment when the answer to its create was lost (it is found by its request id)', async () => {
    // Someone else's deployment of the same commit and environment is not taken for ours.
    await new GitHubDeployment(gh, target, out).start(payload);
    server.loseAnswer('repos/create-deployment', 502);
    const d = new GitHubDeployment(gh, target, out);
    await d.start(payload);
    await d.finish(deployed('success'), payload);
    expect(server.calls('repos/create-deployment')).toHaveLength(2);
    expect(server.calls('repos/list-deployments')).toHaveLength(1);
    expect(server.deployments).toHaveLength(2);
    expect(d.deploymentId).toBe(server.deployments[1]!.id);
    expect(server.deployments[1]!.statuses.map((s) => s.state)).toEqual(['in_progress', 'success']);
    expect(server.deployments[0]!.statuses.map((s) => s.state)).toEqual(['in_progress']);
    expect(out.lines.map((l) => l.message)).toContainEqual(
      'GitHub API POST /repos/{owner}/{repo}/deployments: it was carried out before the answer was lost; not sent again',
    );
    expect(server.violations).toEqual([]);
  });

  it('creates the deployment again when the lost create had not landed', async () => {
    server.failNext('repos/create-deployment', 502);
    const d = new GitHubDeployment(gh, target, out);
    await d.start(payload);
    expect(server.calls('repos/list-deployments')).toHaveLength(1);
    expect(server.calls('repos/create-deployment')).toHaveLength(2);
    expect(server.deployments).toHaveLength(1);
    expect(d.deploymentId).toBe(server.deployments[0]!.id);
  });

  it('waits out a primary rate limit (403, x-ratelimit-remaining 0) until its reset', async () => {
    const reset = Math.ceil(Date.now() / 1000) + 5;
    server.failNext('repos/create-deployment', 403, {
      'x-ratelimit-remaining': '0',
      'x-ratelimit-reset': String(reset),
    });
    await new GitHubDeployment(gh, target, out).start(payload);
    expect(server.deployments).toHaveLength(1);
    expect(slept).toHaveLength(1);
    expect(slept[0]).toBeGreaterThan(4000);
    expect(slept[0]).toBeLessThanOrEqual(7000);
  });

  it('once the run is cancelled, tries each request once (a back-off under way ends) and still sends the final state', async () => {
    const cancel = new AbortController();
    const waits: number[] = [];
    const client = githubClient(TOKEN, {
      baseUrl: server.url,
      log: (m) => out.info(m),
      cancelled: cancel.signal,
      // The cancel comes during the first back-off, which would otherwise last 1 s, then 2 s, 4 s.
      sleep: (ms) => {
        waits.push(ms);
        cancel.abort('SIGINT');
        return new Promise(() => {});
      },
    });
    server.failNext('repos/create-deployment', 502);
    await new GitHubDeployment(client, target, out).start(payload);
    expect([waits, server.calls('repos/create-deployment').length]).toEqual([[1000], 1]);

    // Cancelled: a failing request is not retried ...
    server.failNext('repos/create-deployment', 502);
    await new GitHubDeployment(client, target, out).finish(deployed('cancelled'), payload);
    expect([waits, server.calls('repos/create-deployment').length]).toEqual([[1000], 2]);
    expect(out.lines.filter((l) => l.level === 'warn')).toHaveLength(2);

    // ... and one that GitHub answers goes through (within its time limit).
    const d = new GitHubDeployment(client, target, out);
    await d.finish({ ...deployed('cancelled'), cancelledBy: 'SIGINT' }, payload);
    expect(server.deployments.at(-1)!.statuses.map((s) => s.state)).toEqual(['error']);
  });

  it('gives up after bounded retries with a warning, never an exception', async () => {
    server.failNext('repos/create-deployment', 503, {}, 10);
    const d = new GitHubDeployment(gh, target, out);
    await expect(d.start(payload)).resolves.toBeUndefined();
    await expect(d.finish(deployed('success'), payload)).resolves.toBeUndefined();
    expect(server.calls('repos/create-deployment')).toHaveLength(4);
    expect(server.calls('repos/create-deployment-status')).toHaveLength(0);
    expect(out.lines.filter((l) => l.level === 'warn').map((l) => l.message)).toEqual([
      expect.stringContaining('no GitHub deployment was recorded for production (HTTP 503'),
    ]);
  });
});

describe('retryDelay', () => {
  const err = (status: number | undefined, headers: Record<string, string> = {}) => ({
    status,
    response: { headers },
  });
  it('does not retry a permission or validation answer', () => {
    expect(retryDelay(err(403), 1, 1000)).toBeUndefined();
    expect(retryDelay(err(404), 1, 1000)).toBeUndefined();
    expect(retryDelay(err(422), 1, 1000)).toBeUndefined();
  });
  it('retries a secondary rate limit after retry-after, and connection failures with back-off', () => {
    expect(retryDelay(err(403, { 'retry-after': '60' }), 1, 1000)).toBe(60_000);
    expect(retryDelay(err(undefined), 3, 1000)).toBe(4000);
    expect(retryDelay(err(500), 1, 1000)).toBe(1000);
  });
});
