/**
 * The bundled Action (dist/index.js) talking to GitHub, with GITHUB_API_URL pointing at a
 * local server that validates every request against GitHub's published OpenAPI
 * description: a pull_request plan comments the plan and a second run updates that
 * comment in place; a deploy against the stand-in is recorded as a GitHub deployment
 * whose statuses go in_progress → success. No request may be invalid.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  pushImages,
  readStandInEnv,
  restrictedNamespace,
  type StandInEnv,
  SERVICES,
} from '../../scripts/stand-in.mjs';
import { GitHubApiServer } from '../github-api-server.js';
import { parseOutputs, runNode } from './run.js';

const TOKEN = 'ghs_e2eSecretToken0123456789abcdef';
const SHA = '0123456789abcdef0123456789abcdef01234567';
const NS = 'e2e-github';
const TAG = 'github-1';
const HELM3 = resolve('.cache/tools/helm3/helm');

/** The log without `::add-mask::` lines, which the runner consumes (that is how the token is masked). */
const masked = (log: string) =>
  log
    .split('\n')
    .filter((l) => !l.startsWith('::add-mask::'))
    .join('\n');

describe('the bundled Action on GitHub', () => {
  const dir = mkdtempSync(join(tmpdir(), 'e2e-github-'));
  let server: GitHubApiServer;
  let env: StandInEnv;

  /** The workflow run's environment: repository, commit, run, event; the API at the validating server. */
  function githubEnv(event: string, payload: object, step: string): Record<string, string> {
    const eventPath = join(dir, `${step}-event.json`);
    writeFileSync(eventPath, JSON.stringify(payload));
    const files = { output: join(dir, `${step}-output`), summary: join(dir, `${step}-summary.md`) };
    writeFileSync(files.output, '');
    writeFileSync(files.summary, '');
    return {
      GITHUB_API_URL: server.url,
      GITHUB_SERVER_URL: 'https://github.com',
      GITHUB_REPOSITORY: 'acme/shop',
      GITHUB_SHA: SHA,
      GITHUB_RUN_ID: '4242',
      GITHUB_ACTOR: 'octocat',
      GITHUB_EVENT_NAME: event,
      GITHUB_EVENT_PATH: eventPath,
      GITHUB_OUTPUT: files.output,
      GITHUB_STEP_SUMMARY: files.summary,
      GITHUB_WORKSPACE: resolve('.'),
      RUNNER_TEMP: dir,
      'INPUT_GITHUB-TOKEN': TOKEN,
      INPUT_CONFIG: 'deploy.yaml',
      INPUT_ENVIRONMENT: 'production',
      HELM_BIN: HELM3,
    };
  }

  beforeAll(async () => {
    const found = readStandInEnv(process.env.E2E_RUN_DIR);
    if (!found) throw new Error('the e2e stand-in is not running: run the e2e tests with `npm run test:e2e`');
    env = found;
    server = await GitHubApiServer.start();
  });
  afterAll(() => server?.stop());

  it('comments the plan on the pull request, then updates that comment in place', async () => {
    const plan = (step: string) =>
      runNode(env, [resolve('dist/index.js')], {
        ...githubEnv('pull_request', { pull_request: { number: 17 }, number: 17 }, step),
        'INPUT_IMAGE-TAG': `pr-${step}`,
        'INPUT_DRY-RUN': 'true',
        'INPUT_SKIP-IMAGE-CHECK': 'true',
      });
    const first = await plan('plan1');
    expect({ code: first.code, log: first.code === 0 ? '' : first.stdout + first.stderr }).toEqual({
      code: 0,
      log: '',
    });
    expect(parseOutputs(join(dir, 'plan1-output')).result).toBe('planned');
    expect(server.comments).toHaveLength(1);
    expect(server.comments[0]).toMatchObject({ issue: 17 });
    expect(server.comments[0]!.body).toContain('<!-- ecommerce-deploy:plan:production -->');
    expect(server.comments[0]!.body).toContain('tag **pr-plan1**');
    for (const s of SERVICES) expect(server.comments[0]!.body).toContain(`| ${s} |`);

    const second = await plan('plan2');
    expect(second.code).toBe(0);
    expect(server.comments).toHaveLength(1);
    expect(server.comments[0]!.body).toContain('tag **pr-plan2**');
    expect(server.calls('issues/create-comment')).toHaveLength(1);
    expect(server.calls('issues/update-comment')).toHaveLength(1);
    // a plan records no deployment
    expect(server.calls('repos/create-deployment')).toHaveLength(0);
    expect(server.requests.every((r) => r.authorization === `token ${TOKEN}`)).toBe(true);
    expect(masked(first.stdout + first.stderr + second.stdout + second.stderr)).not.toContain(TOKEN);
    expect(server.violations).toEqual([]);
  });

  it('records a deploy as a GitHub deployment: in_progress, then success, with the digests', async () => {
    restrictedNamespace(env, NS);
    const pushed = await pushImages(env, SERVICES, TAG);
    const before = server.requests.length;
    const run = await runNode(env, [resolve('dist/index.js')], {
      ...githubEnv('push', { ref: 'refs/heads/main' }, 'deploy'),
      'INPUT_CLUSTER-NAME': env.EKS_CLUSTER_NAME,
      'INPUT_AWS-REGION': env.AWS_REGION,
      'INPUT_IMAGE-TAG': TAG,
      INPUT_NAMESPACE: NS,
      INPUT_CONCURRENCY: '6',
      INPUT_TIMEOUT: '180',
    });
    expect({ code: run.code, log: run.code === 0 ? '' : run.stdout + run.stderr }).toEqual({
      code: 0,
      log: '',
    });
    expect(parseOutputs(join(dir, 'deploy-output')).result).toBe('success');
    expect(masked(run.stdout + run.stderr)).not.toContain(TOKEN);
    expect(server.deployments).toHaveLength(1);
    const d = server.deployments[0]!;
    expect(d).toMatchObject({
      ref: SHA,
      environment: 'production',
      auto_merge: false,
      required_contexts: [],
      production_environment: true,
    });
    expect(d.statuses.map((s) => s.state)).toEqual(['in_progress', 'success']);
    for (const s of d.statuses) {
      expect(s).toMatchObject({
        log_url: 'https://github.com/acme/shop/actions/runs/4242',
        environment_url: 'https://api.ecommerce.example.com',
      });
    }
    const payload = d.payload as { namespace: string; services: { service: string; digest: string }[] };
    expect(payload.namespace).toBe(NS);
    expect(Object.fromEntries(payload.services.map((s) => [s.service, s.digest]))).toEqual(pushed);
    // the summary is still written; the comment API is not used on a push
    expect(readFileSync(join(dir, 'deploy-summary.md'), 'utf8')).toContain('Deployed 6 services');
    const mine = server.requests.slice(before).map((r) => r.operationId);
    expect(mine).toEqual([
      'repos/create-deployment',
      'repos/create-deployment-status',
      'repos/create-deployment-status',
    ]);
    expect(server.violations).toEqual([]);
  });
});
