/**
 * The bundled Action's GitHub side without a cluster: GITHUB_API_URL points at the server
 * that validates every request against GitHub's OpenAPI description. A pull_request dry
 * run comments (then updates) the plan and records no deployment; a 403 on the comment is
 * a warning; a deploy that stops on a bad deploy file records a deployment in `error`.
 * The token never appears in the log. (The deploy that succeeds: __tests__/e2e/github.test.ts.)
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GitHubApiServer } from '../github-api-server.js';

const root = join(import.meta.dirname, '..', '..');
const outdir = join(root, '.cache', 'test-dist', 'github');
const TOKEN = 'ghs_actionUnitToken0123456789abcdef';
const SHA = 'fedcba9876543210fedcba9876543210fedcba98';

let server: GitHubApiServer;

/** The log as the runner shows it: `::add-mask::` (which is how a value gets masked) is consumed by the runner. */
const shown = (log: string) =>
  log
    .split('\n')
    .filter((l) => !l.startsWith('::add-mask::'))
    .join('\n');

function runAction(inputs: Record<string, string>, event: { name: string; payload: object }) {
  const dir = mkdtempSync(join(tmpdir(), 'action-github-'));
  const eventPath = join(dir, 'event.json');
  writeFileSync(eventPath, JSON.stringify(event.payload));
  writeFileSync(join(dir, 'output'), '');
  writeFileSync(join(dir, 'summary.md'), '');
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? dir,
    HELM_BIN: join(root, '.cache', 'tools', 'helm3', 'helm'),
    RUNNER_TEMP: dir,
    GITHUB_OUTPUT: join(dir, 'output'),
    GITHUB_STEP_SUMMARY: join(dir, 'summary.md'),
    GITHUB_WORKSPACE: root,
    GITHUB_REPOSITORY: 'acme/shop',
    GITHUB_SHA: SHA,
    GITHUB_RUN_ID: '77',
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_API_URL: server.url,
    GITHUB_EVENT_NAME: event.name,
    GITHUB_EVENT_PATH: eventPath,
    'INPUT_GITHUB-TOKEN': TOKEN,
  };
  for (const [name, value] of Object.entries(inputs)) env[`INPUT_${name.toUpperCase()}`] = value;
  return new Promise<{ code: number | null; log: string }>((done) => {
    const child = spawn(process.execPath, [join(outdir, 'index.js')], { cwd: root, env });
    let log = '';
    child.stdout.on('data', (d) => (log += d));
    child.stderr.on('data', (d) => (log += d));
    child.on('close', (code) => done({ code, log }));
  });
}

const planInputs = (tag: string) => ({
  'image-tag': tag,
  'dry-run': 'true',
  'skip-image-check': 'true',
  environment: 'production',
});
const pullRequest = { name: 'pull_request', payload: { number: 5, pull_request: { number: 5 } } };

beforeAll(async () => {
  const res = spawnSync(process.execPath, [join(root, 'scripts', 'bundle.mjs'), '--outdir', outdir], {
    encoding: 'utf8',
  });
  if (res.status !== 0) throw new Error(`bundle failed:\n${res.stderr}`);
  server = await GitHubApiServer.start();
});
afterAll(() => server.stop());
beforeEach(() => {
  server.requests.length = 0;
  server.comments.length = 0;
  server.deployments.length = 0;
});
afterEach(() => expect(server.violations).toEqual([]));

describe('the Action on GitHub', () => {
  it('comments the plan on the pull request, updates it on the next run, and records no deployment', async () => {
    const first = await runAction(planInputs('pr-1'), pullRequest);
    expect({ code: first.code, log: first.code === 0 ? '' : first.log }).toEqual({ code: 0, log: '' });
    const second = await runAction(planInputs('pr-2'), pullRequest);
    expect(second.code).toBe(0);
    expect(server.comments).toHaveLength(1);
    expect(server.comments[0]!.issue).toBe(5);
    expect(server.comments[0]!.body).toContain('tag **pr-2**');
    expect(server.comments[0]!.body).toContain(
      '[the job summary](https://github.com/acme/shop/actions/runs/77)',
    );
    expect(second.log).toContain('updated the plan comment on pull request #5');
    expect(server.calls('repos/create-deployment')).toEqual([]);
    expect(first.log).toContain(`::add-mask::${TOKEN}`);
    expect(shown(first.log + second.log)).not.toContain(TOKEN);
  });

  it('comments nothing on a push, and nothing without a token', async () => {
    await runAction(planInputs('push-1'), { name: 'push', payload: {} });
    await runAction({ ...planInputs('pr-3'), 'github-token': '' }, pullRequest);
    expect(server.requests).toEqual([]);
  });

  it('warns and still succeeds when the token may not comment (403)', async () => {
    server.failNext('issues/list-comments', 403);
    const run = await runAction(planInputs('pr-4'), pullRequest);
    expect(run.code).toBe(0);
    expect(run.log).toMatch(
      /::warning::the plan was not commented on pull request #5 \(HTTP 403.*pull-requests: write/,
    );
    expect(server.comments).toEqual([]);
  });

  it('records a deploy that stopped on a bad deploy file as a deployment in error, never in_progress', async () => {
    const dir = mkdtempSync(join(root, '.cache', 'bad-deploy-'));
    const config = join(dir, 'deploy.yaml');
    writeFileSync(config, 'services:\n  user-service:\n    dependOn: []\n');
    const run = await runAction(
      {
        'image-tag': 'bad-1',
        config,
        environment: 'production',
        'cluster-name': 'c',
        'aws-region': 'us-east-1',
      },
      { name: 'push', payload: {} },
    );
    expect(run.code).toBe(2);
    expect(server.deployments).toHaveLength(1);
    expect(server.deployments[0]).toMatchObject({ ref: SHA, environment: 'production', auto_merge: false });
    expect(server.deployments[0]!.statuses).toEqual([
      expect.objectContaining({
        state: 'error',
        log_url: 'https://github.com/acme/shop/actions/runs/77',
        description: expect.stringContaining('input error: deploy file is invalid'),
      }),
    ]);
    expect(shown(run.log)).not.toContain(TOKEN);
  });
});
