import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main, type CliDeps } from '../../src/cli.js';
import type { DeployRequest, Report } from '../../src/model.js';
import type { Runner } from '../../src/runner.js';

const root = join(import.meta.dirname, '..', '..');

function reportFor(request: DeployRequest, extra: Partial<Report> = {}): Report {
  return {
    result: request.mode === 'plan' ? 'planned' : 'success',
    mode: request.mode,
    cluster: request.cluster?.name,
    namespace: request.namespace ?? 'shop',
    environment: request.environment,
    imageTag: request.imageTag,
    startedAt: '2026-01-01T00:00:00.000Z',
    durationMs: 2000,
    services: ['user-service', 'order-service'].map((service) => ({
      service,
      status: request.mode === 'plan' ? ('planned' as const) : ('deployed' as const),
      image: `r/${service}:${request.imageTag}`,
    })),
    warnings: [],
    ...extra,
  };
}

const gitRunner =
  (sha = 'f00dcafe', name = 'Ada Lovelace'): Runner =>
  async (_cmd, args) =>
    args[0] === 'rev-parse'
      ? { exitCode: 0, stdout: `${sha}\n`, stderr: '' }
      : name
        ? { exitCode: 0, stdout: `${name}\n`, stderr: '' }
        : { exitCode: 1, stdout: '', stderr: '' };

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  requests: DeployRequest[];
}

async function cli(
  argv: string[],
  opts: Partial<CliDeps> & { report?: (r: DeployRequest) => Report } = {},
): Promise<Run> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const requests: DeployRequest[] = [];
  const deps: CliDeps = {
    env: {},
    homedir: mkdtempSync(join(tmpdir(), 'cli-home-')),
    run: gitRunner(),
    stdout: (t) => stdout.push(t),
    stderr: (t) => stderr.push(t),
    stdoutIsTTY: false,
    execute: async (request) => {
      requests.push(request);
      return (opts.report ?? reportFor)(request);
    },
    token: async () => ({ kind: 'ExecCredential', status: { token: 'k8s-aws-v1.abc' } }),
    ...opts,
  };
  const code = await main(argv, deps);
  return { code, stdout: stdout.join(''), stderr: stderr.join(''), requests };
}

describe('cli: plan', () => {
  it('fills in the defaults, and without AWS skips the image check and says why', async () => {
    const { code, requests, stderr, stdout } = await cli(['plan', '--tag', 'abc123'], {
      env: { USER: 'ada' },
    });
    expect(code).toBe(0);
    expect(requests).toEqual([
      {
        mode: 'plan',
        configPath: 'deploy.yaml',
        services: [],
        imageTag: 'abc123',
        environment: 'production',
        namespace: undefined,
        cluster: undefined,
        region: undefined,
        kubeconfig: undefined,
        timeoutSeconds: 300,
        concurrency: 10,
        helmVersion: undefined,
        helmBinary: undefined,
        skipImageCheck: true,
        rollback: 'failed',
        rollbackTimeoutSeconds: 300,
        keepFailedInstall: false,
        strict: false,
        reportPath: undefined,
        force: false,
        fileRoots: { workspace: undefined, allowed: [] },
        trace: { commitSha: 'f00dcafe', actor: 'Ada Lovelace' },
      },
    ]);
    expect(stderr).toContain(
      'no AWS region is set (--region, AWS_REGION or AWS_DEFAULT_REGION), so this plan does not check',
    );
    expect(stdout).toContain('Plan: 2 services would be deployed');
    expect(stdout).toMatch(/^user-service +user-service:abc123 +- +- +planned/m);
  });

  it('with a region but no credentials anywhere, still skips and says so', async () => {
    const { requests, stderr } = await cli(['plan', '--tag', 't'], { env: { AWS_REGION: 'eu-west-1' } });
    expect(requests[0]).toMatchObject({ skipImageCheck: true, region: 'eu-west-1' });
    expect(stderr).toContain('no AWS credentials are configured');
  });

  it.each([
    ['AWS_ACCESS_KEY_ID in env', { AWS_DEFAULT_REGION: 'eu-west-1', AWS_ACCESS_KEY_ID: 'AKIA...' }],
    ['AWS_PROFILE in env', { AWS_REGION: 'eu-west-1', AWS_PROFILE: 'dev' }],
    ['a web identity token', { AWS_REGION: 'eu-west-1', AWS_WEB_IDENTITY_TOKEN_FILE: '/var/run/token' }],
  ])('checks images when a region and credentials are configured (%s)', async (_what, env) => {
    const { requests, stderr } = await cli(['plan', '--tag', 't'], { env });
    expect(requests[0]).toMatchObject({ skipImageCheck: false, region: 'eu-west-1' });
    expect(stderr).not.toContain('does not check');
  });

  it('counts ~/.aws/config as configured credentials', async () => {
    const home = mkdtempSync(join(tmpdir(), 'cli-home-'));
    mkdirSync(join(home, '.aws'));
    writeFileSync(join(home, '.aws', 'config'), '[default]\nregion = eu-west-1\n');
    const { requests } = await cli(['plan', '--tag', 't'], {
      env: { AWS_REGION: 'eu-west-1' },
      homedir: home,
    });
    expect(requests[0]?.skipImageCheck).toBe(false);
  });

  it('takes an explicit --region as "use AWS", and --skip-image-check as "do not"', async () => {
    expect((await cli(['plan', '--tag', 't', '--region', 'us-east-1'])).requests[0]?.skipImageCheck).toBe(
      false,
    );
    const skipped = await cli(['plan', '--tag', 't', '--skip-image-check'], {
      env: { AWS_REGION: 'eu-west-1', AWS_PROFILE: 'dev' },
    });
    expect(skipped.requests[0]?.skipImageCheck).toBe(true);
    expect(skipped.stderr).not.toContain('does not check');
  });

  it('writes the JSON report given with --report', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'cli-report-')), 'report.json');
    const { code } = await cli(['plan', '--tag', 't', '--report', file]);
    expect(code).toBe(0);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ result: 'planned', imageTag: 't' });
  });

  it('keeps the result and the summary when the report cannot be written at the end, and warns', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'cli-report-')), 'report.json');
    // Writable when checked; a directory by the time the run ends.
    const { code, stdout, stderr } = await cli(['plan', '--tag', 't', '--report', file], {
      report: (r) => {
        mkdirSync(file);
        return reportFor(r);
      },
    });
    expect(code).toBe(0);
    expect(stderr).toMatch(/warning: the JSON report was not written: .*EISDIR/);
    expect(stdout).toContain('Plan: 2 services would be deployed');
  });
});

describe('cli: deploy', () => {
  it('maps every option onto the request', async () => {
    const { code, requests } = await cli(
      [
        'deploy',
        '--tag',
        'v1.2.3',
        '--services',
        'user-service, order-service user-service',
        '--env',
        'staging',
        '--namespace',
        'shop-staging',
        '--cluster',
        'prod-eks',
        '--region',
        'eu-west-1',
        '--timeout',
        '600',
        '--concurrency',
        '6',
        '--rollback',
        'all',
        '--config',
        'deploy/shop.yaml',
      ],
      { env: { HELM_BIN: '/opt/helm' }, run: gitRunner('0123abc', '') },
    );
    expect(code).toBe(0);
    expect(requests[0]).toMatchObject({
      mode: 'deploy',
      configPath: 'deploy/shop.yaml',
      services: ['user-service', 'order-service'],
      imageTag: 'v1.2.3',
      environment: 'staging',
      namespace: 'shop-staging',
      cluster: { name: 'prod-eks', region: 'eu-west-1' },
      region: 'eu-west-1',
      timeoutSeconds: 600,
      concurrency: 6,
      rollback: 'all',
      helmBinary: '/opt/helm',
      skipImageCheck: false,
      trace: { commitSha: '0123abc' },
    });
  });

  it('takes the region from AWS_REGION and the actor from USER when git has no name', async () => {
    const { requests } = await cli(['deploy', '--tag', 't', '--cluster', 'c'], {
      env: { AWS_REGION: 'ap-south-1', USER: 'ada' },
      run: gitRunner('abc', ''),
    });
    expect(requests[0]).toMatchObject({
      cluster: { name: 'c', region: 'ap-south-1' },
      trace: { actor: 'ada' },
    });
  });

  it.each([
    [['--timeout', '10s'], '--timeout must be a positive whole number, got "10s"'],
    [['--timeout', '0'], '--timeout must be a positive whole number, got "0"'],
    [['--concurrency', '-1'], '--concurrency must be a positive whole number, got "-1"'],
    [['--rollback', 'sometimes'], '--rollback must be one of failed, all, none, got "sometimes"'],
    [['--tag', 'bad tag!'], '--tag "bad tag!" is not a valid image tag'],
    [['--skip-image-check'], '--skip-image-check only applies to a plan'],
    [['--kubeconfig', '/k'], 'give either --cluster or --kubeconfig, not both'],
  ])('rejects %j with exit 2 before running anything', async (extra, message) => {
    const { code, stderr, requests } = await cli([
      'deploy',
      '--tag',
      'abc',
      '--cluster',
      'c',
      '--region',
      'us-east-1',
      ...extra,
    ]);
    expect(code).toBe(2);
    expect(stderr).toContain(`error: ${message}`);
    expect(requests).toEqual([]);
  });

  it('needs a tag and a cluster', async () => {
    const noTag = await cli(['deploy', '--cluster', 'c', '--region', 'us-east-1']);
    expect([noTag.code, noTag.stderr]).toEqual([2, expect.stringContaining('--tag is required')]);
    const noCluster = await cli(['deploy', '--tag', 't']);
    expect(noCluster.code).toBe(2);
    expect(noCluster.stderr).toContain(
      'a deploy needs a cluster: give --cluster (with --region) or --kubeconfig',
    );
    expect(noCluster.stderr).toContain(
      'what to do: To see what would be deployed without a cluster, run a plan instead.',
    );
  });

  it('exits 1 when the deploy failed and 2 when preflight stopped it, with the reason', async () => {
    const failed = await cli(['deploy', '--tag', 't', '--kubeconfig', '/k'], {
      report: (r) => ({
        ...reportFor(r),
        result: 'failure',
        error: { kind: 'deploy', message: 'user-service: ProgressDeadlineExceeded', exitCode: 1 },
      }),
    });
    expect(failed.code).toBe(1);
    expect(failed.stdout).toContain('deploy error: user-service: ProgressDeadlineExceeded');
    const stopped = await cli(['deploy', '--tag', 't', '--kubeconfig', '/k'], {
      report: (r) => ({
        ...reportFor(r),
        result: 'failure',
        services: [],
        error: { kind: 'preflight', message: 'image missing', exitCode: 2 },
      }),
    });
    expect(stopped.code).toBe(2);
    expect(stopped.stdout).toContain('Deploy stopped before changing the cluster');
  });

  it('keeps secrets the pipeline masked out of the summary', async () => {
    const { stdout, stderr } = await cli(['deploy', '--tag', 't', '--kubeconfig', '/k'], {
      execute: async (request, out) => {
        out.setSecret('ecr-password-123');
        out.info('logged in with ecr-password-123');
        return reportFor(request, { warnings: ['retried login ecr-password-123'] });
      },
    });
    expect(stdout + stderr).not.toContain('ecr-password-123');
    expect(stdout).toContain('retried login ***');
  });
});

describe('cli: review before apply', () => {
  const change = (kind: 'changed' | 'unchanged') => ({
    kind,
    liveRevision: 3,
    image: { from: 'r/x:a@sha256:1', to: 'r/x:b@sha256:2' },
    chart: { from: '0.1.0', to: '0.1.0' },
    values: [],
    objects:
      kind === 'changed'
        ? [
            {
              kind: 'Deployment',
              name: 'x',
              change: 'changed' as const,
              diff: '@@ -1,1 +1,1 @@\n-  a: 1\n+  a: 2',
            },
          ]
        : [],
  });
  const planned =
    (...kinds: ('changed' | 'unchanged')[]) =>
    (r: DeployRequest): Report => {
      const report = reportFor(r);
      return { ...report, services: report.services.map((s, i) => ({ ...s, change: change(kinds[i]!) })) };
    };
  const kube = ['--kubeconfig', '/k'];

  it('--detailed-exitcode: 3 when changes are pending, 0 when none, and 0 without the flag', async () => {
    const pending = await cli(['plan', '--tag', 't', ...kube, '--detailed-exitcode'], {
      report: planned('changed', 'unchanged'),
    });
    expect(pending.code).toBe(3);
    expect(pending.stdout).toMatch(/^user-service: changes 1 object$/m);
    expect(pending.stdout).toMatch(/^order-service: unchanged$/m);
    expect(pending.stdout).toContain('    +  a: 2');
    const none = await cli(['plan', '--tag', 't', ...kube, '--detailed-exitcode'], {
      report: planned('unchanged', 'unchanged'),
    });
    expect(none.code).toBe(0);
    const plain = await cli(['plan', '--tag', 't', ...kube], { report: planned('changed', 'changed') });
    expect(plain.code).toBe(0);
  });

  it('colours the diff only for a terminal without NO_COLOR', async () => {
    const tty = await cli(['plan', '--tag', 't', ...kube], {
      report: planned('changed', 'unchanged'),
      stdoutIsTTY: true,
    });
    expect(tty.stdout).toContain('\u001b[32m+  a: 2\u001b[0m');
    const noColor = await cli(['plan', '--tag', 't', ...kube], {
      report: planned('changed', 'unchanged'),
      stdoutIsTTY: true,
      env: { NO_COLOR: '1' },
    });
    expect(noColor.stdout).not.toContain('\u001b[');
  });

  it('refuses options outside their command, with exit 2 and nothing run', async () => {
    const cases: [string[], RegExp][] = [
      [['plan', '--tag', 't', '--out', '/tmp/p.json'], /--out needs a cluster/],
      [
        ['plan', '--tag', 't', ...kube, '--out', '/tmp/p.json', '--skip-image-check'],
        /cannot be used with --skip-image-check/,
      ],
      [
        ['deploy', '--tag', 't', ...kube, '--plan', '/nonexistent/plan.json'],
        /--plan \/nonexistent\/plan.json cannot be read/,
      ],
      [
        ['deploy', '--tag', 't', ...kube, '--plan', '/tmp/x', '--plan-max-age', 'soon'],
        /--plan-max-age must be a duration/,
      ],
    ];
    for (const [argv, message] of cases) {
      const run = await cli(argv);
      expect([argv.join(' '), run.code, run.requests.length]).toEqual([argv.join(' '), 2, 0]);
      expect(run.stderr).toMatch(message);
    }
  });

  it('takes the tag, environment, namespace and services from a plan file, and refuses other ones', async () => {
    const { sealPlan, writePlanFile } = await import('../../src/config/plan-file.js');
    const file = join(mkdtempSync(join(tmpdir(), 'cli-plan-')), 'plan.json');
    const pinned = {
      image: { tag: 'v7', digest: 'sha256:1' },
      chartVersion: '0.1.0',
      manifestHash: 'sha256:m',
      valuesHash: 'sha256:v',
      liveRevision: 2,
      change: 'changed' as const,
    };
    writePlanFile(
      file,
      sealPlan({
        createdAt: new Date().toISOString(),
        namespace: 'shop',
        environment: 'staging',
        imageTag: 'v7',
        chart: { ref: 'c', name: 'c', version: '0.1.0' },
        services: { 'order-service': pinned },
      }),
    );
    const ok = await cli(['deploy', ...kube, '--plan', file]);
    expect(ok.code).toBe(0);
    expect(ok.requests[0]).toMatchObject({
      imageTag: 'v7',
      environment: 'staging',
      namespace: 'shop',
      services: ['order-service'],
      planFile: { path: file },
    });
    const other = await cli(['deploy', ...kube, '--plan', file, '--tag', 'v8']);
    expect(other.code).toBe(2);
    expect(other.stderr).toContain('--tag "v8" is not the plan\'s');
  });
});

describe('cli: usage', () => {
  it('--help lists the subcommands on stdout and exits 0', async () => {
    const { code, stdout } = await cli(['--help']);
    expect(code).toBe(0);
    for (const sub of ['deploy', 'plan', 'token']) expect(stdout).toMatch(new RegExp(`^  ${sub} `, 'm'));
  });

  it('plan --help documents the options and the image-check rule', async () => {
    const { code, stdout } = await cli(['plan', '--help']);
    expect(code).toBe(0);
    expect(stdout).toContain('--skip-image-check');
    expect(stdout).toContain('otherwise it skips the check and says so');
  });

  it.each([
    [['deploy', '--nope'], "error: unknown option '--nope'"],
    [['launch'], "error: unknown command 'launch'"],
    [['plan', '--tag'], "error: option '--tag <tag>' argument missing"],
    [[], 'Usage: ecommerce-deploy'],
  ])('usage error %j exits 2 with the message', async (argv, message) => {
    const { code, stderr } = await cli(argv);
    expect(code).toBe(2);
    expect(stderr).toContain(message);
  });
});

describe('cli: token', () => {
  it('prints only the ExecCredential JSON on stdout', async () => {
    const calls: string[][] = [];
    const { code, stdout, stderr } = await cli(
      ['token', '--cluster-name', 'prod-eks', '--region', 'eu-west-1'],
      {
        token: async (cluster, region) => {
          calls.push([cluster, region]);
          return { kind: 'ExecCredential', status: { token: 'k8s-aws-v1.xyz' } };
        },
      },
    );
    expect([code, stderr]).toEqual([0, '']);
    expect(calls).toEqual([['prod-eks', 'eu-west-1']]);
    expect(JSON.parse(stdout)).toEqual({ kind: 'ExecCredential', status: { token: 'k8s-aws-v1.xyz' } });
  });

  it('requires the cluster and region', async () => {
    const { code, stdout, stderr } = await cli(['token', '--cluster-name', 'prod-eks']);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain("required option '--region <region>' not specified");
  });
});

describe('the bundled CLI (dist/cli.js)', () => {
  const outdir = join(root, '.cache', 'test-dist', 'cli');
  beforeAll(() => {
    const res = spawnSync(process.execPath, [join(root, 'scripts', 'bundle.mjs'), '--outdir', outdir], {
      encoding: 'utf8',
    });
    if (res.status !== 0) throw new Error(`bundle failed:\n${res.stderr}`);
  });
  const node = (...args: string[]) =>
    spawnSync(process.execPath, [join(outdir, 'cli.js'), ...args], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH },
    });

  it('runs, prints help and exits 0', () => {
    const res = node('--help');
    expect(res.status).toBe(0);
    expect(res.stdout).toMatch(/^ {2}deploy /m);
    expect(res.stdout).toMatch(/^ {2}token /m);
  });

  it('exits 2 on invalid input with the same message as the Action', () => {
    const res = node('plan', '--tag', 'abc', '--timeout', 'soon');
    expect(res.status).toBe(2);
    expect(res.stderr).toContain('--timeout must be a positive whole number, got "soon"');
    expect(res.stdout).toBe('');
  });

  it('stops quietly when its reader closes the pipe early (`| head`)', () => {
    // `true` exits before node has started, so every write meets a closed pipe.
    const res = spawnSync(
      'bash',
      [
        '--norc',
        '-c',
        `"$0" "$1" plan --help | true; echo "exit \${PIPESTATUS[0]}" >&2`,
        process.execPath,
        join(outdir, 'cli.js'),
      ],
      { encoding: 'utf8', env: { PATH: process.env.PATH } },
    );
    expect(res.stderr).not.toContain('EPIPE');
    expect(res.stderr.trim()).toBe('exit 0');
  });

  const nodeBelow22 = Number(process.versions.node.split('.')[0]) < 22;
  (nodeBelow22 ? it : it.skip)("hides the pinned AWS SDK's Node 22 notice unless asked for it", () => {
    const env = {
      PATH: process.env.PATH,
      AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
      AWS_SECRET_ACCESS_KEY: 'secret',
      AWS_ENDPOINT_URL: 'http://127.0.0.1:1', // refused at once: the plan stops at the ECR check
    };
    const plan = (extra: Record<string, string>) =>
      spawnSync(process.execPath, [join(outdir, 'cli.js'), 'plan', '--tag', 'abc', '--region', 'us-east-1'], {
        encoding: 'utf8',
        env: { ...env, ...extra },
      });

    const quiet = plan({});
    const asked = plan({ AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'false' });

    expect(quiet.status).toBe(2);
    expect(quiet.stderr).toContain('ECR DescribeRepositories failed');
    expect(quiet.stderr).not.toContain('NodeVersionSupportWarning');
    expect(asked.stderr).toContain('NodeVersionSupportWarning');
  });

  it('is executable with a node shebang', () => {
    expect(readFileSync(join(outdir, 'cli.js'), 'utf8').split('\n')[0]).toBe('#!/usr/bin/env node');
    const res = spawnSync(join(outdir, 'cli.js'), ['--help'], { encoding: 'utf8' });
    expect(res.status).toBe(0);
  });
});
