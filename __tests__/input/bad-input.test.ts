/**
 * Every bad input ends the same way, whichever door it came through (CLI flag, Action
 * input, deploy file): exit 2, a first error line that names the input and the reason,
 * a "what to do" line, no stack trace, and no temp directory left behind. Each case
 * runs the bundled CLI or Action in a fresh TMPDIR / RUNNER_TEMP that must be empty
 * afterwards. No cluster is needed: a case that would reach one gets a kubeconfig
 * pointing at a closed port (cases that need a real cluster are in e2e/bad-input).
 */
import { execFile, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as yaml from 'js-yaml';

const root = resolve(import.meta.dirname, '..', '..');
const outdir = join(root, '.cache', 'test-dist', 'bad-input');
const HELM = join(root, '.cache', 'tools', 'helm3', 'helm');

/** A repository of its own (a `.git` dir, the chart, the shipped deploy file), so path boundaries are real. */
const base = mkdtempSync(join(tmpdir(), 'bad-input-'));
const repo = join(base, 'repo');
const home = join(base, 'home');
const closedKubeconfig = join(base, 'closed.kubeconfig');

interface DeployDoc {
  chart?: string;
  chartVersion?: string;
  namespace?: string;
  registry?: string;
  environments: Record<string, { valuesFiles?: string[]; namespace?: string }>;
  services: Record<string, { valuesFiles?: string[]; values?: object; dependsOn?: string[] } | null>;
}

/** The shipped deploy file, changed by `edit`, written into the fixture repository as `<name>.yaml`. */
function deployFile(name: string, edit: (doc: DeployDoc) => void): string {
  const doc = yaml.load(readFileSync(join(root, 'deploy.yaml'), 'utf8')) as DeployDoc;
  edit(doc);
  const file = join(repo, `${name}.yaml`);
  writeFileSync(file, yaml.dump(doc));
  return file;
}

/** A raw deploy file (for YAML the schema or parser must refuse). */
function rawDeployFile(name: string, text: string): string {
  const file = join(repo, `${name}.yaml`);
  writeFileSync(file, text);
  return file;
}

interface Run {
  code: number | null;
  stderr: string;
  stdout: string;
  tmp: string;
}

function exec(args: string[], env: Record<string, string>, tmp: string): Promise<Run> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      args,
      { cwd: repo, env, encoding: 'utf8', timeout: 60_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
        done({ code, stdout, stderr, tmp });
      },
    );
  });
}

function baseEnv(tmp: string): Record<string, string> {
  // Nothing of this process's AWS_*, INPUT_* or GITHUB_* leaks in: each case says what it sets.
  return { PATH: process.env.PATH ?? '', HOME: home, TMPDIR: tmp, HELM_BIN: HELM, CI: 'true' };
}

function cli(args: string[], extraEnv: Record<string, string> = {}): Promise<Run> {
  const tmp = mkdtempSync(join(base, 'tmp-'));
  return exec([join(outdir, 'cli.js'), ...args], { ...baseEnv(tmp), ...extraEnv }, tmp);
}

function action(inputs: Record<string, string>): Promise<Run> {
  const tmp = mkdtempSync(join(base, 'tmp-'));
  const env: Record<string, string> = {
    ...baseEnv(tmp),
    RUNNER_TEMP: tmp,
    GITHUB_WORKSPACE: repo,
    GITHUB_REPOSITORY: 'shop/ecommerce-deploy',
    GITHUB_SHA: '0123456789abcdef0123456789abcdef01234567',
    GITHUB_RUN_ID: '4242',
  };
  for (const [name, value] of Object.entries(inputs)) env[`INPUT_${name.toUpperCase()}`] = value;
  return exec([join(outdir, 'index.js')], env, tmp);
}

/** A plan of the fixture's deploy file that needs no AWS and no cluster, plus `args`. */
const plan = (...args: string[]) => cli(['plan', '--tag', 'abc123', '--skip-image-check', ...args]);
/** A plan of a deploy file variant. */
const planFile = (file: string, ...args: string[]) => plan('--config', file, ...args);
/** An Action dry run that needs no AWS, plus `inputs`. */
const dryRun = (inputs: Record<string, string>) =>
  action({ 'dry-run': 'true', 'skip-image-check': 'true', 'image-tag': 'abc123', ...inputs });

/** The first line of the first error the run printed: CLI `[ 0.5s] error: …` or `error: …`, Action `::error::…`. */
function firstErrorLine(run: Run): string | undefined {
  for (const line of run.stderr.split('\n').concat(run.stdout.split('\n'))) {
    const cliError = /^(?:\[\s*[\d.]+s\] )?error: (.*)$/.exec(line);
    if (cliError) return cliError[1];
    // The runner's annotation: one line, newlines escaped as %0A.
    const actionError = /^::error(?: [^:]*)?::(.*)$/.exec(line);
    if (actionError) return actionError[1]!.split('%0A')[0]!.replace(/%25/g, '%');
  }
  return undefined;
}

type Door = () => Promise<Run>;

/** [what, how it is run, what the first line must say] */
const cases: [string, Door, RegExp][] = [
  // ---- the issue's table -----------------------------------------------------------------
  ['CLI --config is a directory', () => plan('--config', 'charts'), /^deploy file charts is a directory/],
  [
    'deploy file chart: "oci://"',
    () => planFile(deployFile('oci-empty', (d) => (d.chart = 'oci://'))),
    /^chart "oci:\/\/" is not a valid oci:\/\/ reference/,
  ],
  [
    'deploy file chart: a malformed oci:// URL',
    () =>
      planFile(
        deployFile('oci-port', (d) => {
          d.chart = 'oci://registry.example:99999/charts/x';
          d.chartVersion = '1.0.0';
        }),
      ),
    /^chart "oci:\/\/registry\.example:99999\/charts\/x" is not a valid oci:\/\/ reference/,
  ],
  ['CLI --report is a directory', () => plan('--report', base), /^--report .* is a directory/],
  [
    'CLI --report under a regular file',
    () => plan('--report', join(repo, 'deploy.yaml', 'report.json')),
    /^--report .*deploy\.yaml\/report\.json cannot be created: .*deploy\.yaml is not a directory/,
  ],
  [
    'CLI --kubeconfig with invalid YAML (plan)',
    () => plan('--kubeconfig', join(repo, 'bad-kubeconfig.yaml')),
    /^kubeconfig .*bad-kubeconfig\.yaml is not valid YAML/,
  ],
  [
    'a values typo in one of six services',
    () =>
      planFile(
        deployFile(
          'typo',
          (d) =>
            (d.services['order-service'] = { ...d.services['order-service'], values: { replicaCont: 3 } }),
        ),
      ),
    /^order-service: the chart does not render: .*replicaCont/,
  ],
  [
    'CLI --namespace Production',
    () => plan('--namespace', 'Production'),
    /^--namespace "Production" is not a valid Kubernetes namespace/,
  ],
  [
    'CLI --namespace of 64 characters',
    () => plan('--namespace', 'n'.repeat(64)),
    /^--namespace "n{64}" is not a valid Kubernetes namespace/,
  ],
  [
    'CLI --namespace=--debug',
    () => plan('--namespace=--debug'),
    /^--namespace "--debug" is not a valid Kubernetes namespace/,
  ],
  [
    'Action namespace: Bad_NS',
    () => dryRun({ namespace: 'Bad_NS' }),
    /^namespace "Bad_NS" is not a valid Kubernetes namespace/,
  ],
  [
    'CLI --rollback-timeout 9999999999',
    () => plan('--rollback-timeout', '9999999999'),
    /^--rollback-timeout 9999999999 is more than the limit of 86400 seconds/,
  ],
  ['CLI --services ","', () => plan('--services', ','), /^--services names no service, got ","/],
  ['CLI --services ""', () => plan('--services', ''), /^--services names no service, got ""/],
  [
    "CLI token --region 'x y'",
    () => cli(['token', '--cluster-name', 'shop', '--region', 'x y']),
    /^--region "x y" is not an AWS region/,
  ],
  [
    'deploy file: a non-ECR oci:// chart without chartVersion',
    () =>
      planFile(deployFile('oci-unpinned', (d) => (d.chart = 'oci://ghcr.io/shop/charts/ecommerce-service'))),
    /^chart oci:\/\/ghcr\.io\/shop\/charts\/ecommerce-service needs chartVersion/,
  ],
  [
    'deploy file: PDB minAvailable >= minReplicas',
    () =>
      planFile(
        deployFile('pdb', (d) => {
          d.services['user-service'] = {
            ...d.services['user-service'],
            values: { podDisruptionBudget: { minAvailable: 3 }, autoscaling: { minReplicas: 3 } },
          };
        }),
        '--services',
        'user-service',
      ),
    /^user-service: the chart does not render: .*podDisruptionBudget\.minAvailable \(3\) must be lower than autoscaling\.minReplicas \(3\)/,
  ],
  [
    'a failed helm pull names the chart registry (DNS), not the kubeconfig',
    () =>
      planFile(
        deployFile('oci-nxdomain', (d) => {
          d.chart = 'oci://registry.invalid/charts/ecommerce-service';
          d.chartVersion = '0.1.0';
        }),
      ),
    /^reading chart oci:\/\/registry\.invalid\/charts\/ecommerce-service failed: .*registry\.invalid.*no such host/,
  ],
  [
    'CLI plan against an unreachable cluster prints the command with --kubeconfig',
    () => plan('--kubeconfig', closedKubeconfig, '--services', 'user-service'),
    /^user-service: .*(Kubernetes cluster unreachable|connection refused)/,
  ],
  [
    'deploy file valuesFiles: [../../../../etc/passwd]',
    () =>
      planFile(
        deployFile('passwd', (d) => (d.environments.production!.valuesFiles = ['../../../../etc/passwd'])),
      ),
    /^environments\.production\.valuesFiles\[0\] \.\.\/\.\.\/\.\.\/\.\.\/etc\/passwd is outside the deploy file's repository/,
  ],
  [
    'deploy file valuesFiles with an absolute path outside the repository',
    () =>
      planFile(
        deployFile('abs-values', (d) => (d.services['user-service'] = { valuesFiles: ['/etc/hostname'] })),
      ),
    /^services\.user-service\.valuesFiles\[0\] \/etc\/hostname is outside the deploy file's repository/,
  ],
  // ---- more boundaries: paths ----------------------------------------------------------
  [
    'deploy file: a values file that is a symlink out of the repository',
    () =>
      planFile(
        deployFile('symlink', (d) => (d.services['user-service'] = { valuesFiles: ['link-out.yaml'] })),
      ),
    /^services\.user-service\.valuesFiles\[0\] link-out\.yaml is outside the deploy file's repository/,
  ],
  [
    'deploy file: a local chart outside the repository',
    () => planFile(deployFile('chart-out', (d) => (d.chart = join(root, 'charts', 'ecommerce-service')))),
    /^chart .*charts\/ecommerce-service is outside the deploy file's repository/,
  ],
  [
    'Action: a values file outside GITHUB_WORKSPACE',
    () =>
      dryRun({
        config: deployFile('action-out', (d) => (d.environments.production!.valuesFiles = ['/etc/hostname'])),
      }),
    /^environments\.production\.valuesFiles\[0\] \/etc\/hostname is outside the deploy file's repository/,
  ],
  [
    'CLI --allow-files-from a missing directory',
    () => plan('--allow-files-from', '/nonexistent/dir'),
    /^--allow-files-from "\/nonexistent\/dir" is not a directory/,
  ],
  [
    'Action allow-files-from a missing directory',
    () => dryRun({ 'allow-files-from': '/nonexistent/dir' }),
    /^allow-files-from "\/nonexistent\/dir" is not a directory/,
  ],
  // ---- names, numbers, choices -------------------------------------------------------
  ['CLI --tag missing', () => cli(['plan', '--skip-image-check']), /^--tag is required/],
  [
    'CLI --tag with a space',
    () => cli(['plan', '--skip-image-check', '--tag', 'a b']),
    /^--tag "a b" is not a valid image tag/,
  ],
  [
    'CLI --tag starting with a dot',
    () => cli(['plan', '--skip-image-check', '--tag', '.hidden']),
    /^--tag "\.hidden" is not a valid image tag/,
  ],
  ['CLI --timeout 0', () => plan('--timeout', '0'), /^--timeout must be a positive whole number, got "0"/],
  [
    'CLI --timeout 86401',
    () => plan('--timeout', '86401'),
    /^--timeout 86401 is more than the limit of 86400 seconds/,
  ],
  ['CLI --timeout 5m', () => plan('--timeout', '5m'), /^--timeout must be a positive whole number, got "5m"/],
  [
    'CLI --concurrency -1',
    () => plan('--concurrency=-1'),
    /^--concurrency must be a positive whole number, got "-1"/,
  ],
  [
    'CLI --rollback sometimes',
    () => plan('--rollback', 'sometimes'),
    /^--rollback must be one of failed, all, none, got "sometimes"/,
  ],
  [
    'CLI --services with an unknown service',
    () => plan('--services', 'cart-service'),
    /^unknown service: cart-service/,
  ],
  [
    'CLI --services with an invalid name',
    () => plan('--services', 'User_Service'),
    /^not a valid service name: "User_Service"/,
  ],
  [
    'CLI --env staging (not in the deploy file)',
    () => plan('--env', 'staging'),
    /^unknown environment "staging"/,
  ],
  [
    'CLI --region "us east 1"',
    () => plan('--region', 'us east 1'),
    /^--region "us east 1" is not an AWS region/,
  ],
  [
    'CLI AWS_REGION="x y" in the environment',
    () => cli(['plan', '--tag', 't', '--skip-image-check'], { AWS_REGION: 'x y' }),
    /^AWS_REGION "x y" is not an AWS region/,
  ],
  [
    'CLI --cluster without a region',
    () => cli(['deploy', '--tag', 't', '--cluster', 'shop']),
    /^--cluster "shop" needs --region/,
  ],
  [
    'CLI --cluster and --kubeconfig together',
    () =>
      cli([
        'deploy',
        '--tag',
        't',
        '--cluster',
        'shop',
        '--region',
        'us-east-1',
        '--kubeconfig',
        closedKubeconfig,
      ]),
    /^give either --cluster or --kubeconfig, not both/,
  ],
  ['CLI deploy without a cluster', () => cli(['deploy', '--tag', 't']), /^a deploy needs a cluster/],
  [
    'CLI deploy with --skip-image-check',
    () => cli(['deploy', '--tag', 't', '--kubeconfig', closedKubeconfig, '--skip-image-check']),
    /^--skip-image-check only applies to a plan/,
  ],
  [
    'CLI --kubeconfig that does not exist',
    () => plan('--kubeconfig', join(base, 'nope.kubeconfig')),
    /^kubeconfig not found: .*nope\.kubeconfig/,
  ],
  [
    'CLI --kubeconfig that is a directory',
    () => plan('--kubeconfig', base),
    /^kubeconfig .* cannot be read \(EISDIR\)/,
  ],
  [
    'CLI --kubeconfig that is YAML but no kubeconfig',
    () => plan('--kubeconfig', join(repo, 'deploy.yaml')),
    /^kubeconfig .*deploy\.yaml has no clusters/,
  ],
  [
    'CLI HELM_BIN that does not exist',
    () => cli(['plan', '--tag', 't', '--skip-image-check'], { HELM_BIN: '/nonexistent/helm' }),
    /^helm not found at \/nonexistent\/helm/,
  ],
  // ---- the deploy file ----------------------------------------------------------------
  [
    'CLI --config that does not exist',
    () => plan('--config', 'nope.yaml'),
    /^deploy file not found: nope\.yaml/,
  ],
  [
    'deploy file that is not YAML',
    () => planFile(rawDeployFile('broken', 'services:\n  a: [\n')),
    /^deploy file is not valid YAML/,
  ],
  [
    'deploy file with an unknown key',
    () =>
      planFile(deployFile('unknown-key', (d) => ((d as unknown as Record<string, unknown>).charts = 'x'))),
    /^deploy file is invalid: charts unknown key "charts"/,
  ],
  [
    'deploy file with an invalid service name',
    () => planFile(rawDeployFile('bad-name', 'services:\n  Order_Service: {}\n')),
    /^"Order_Service" is not a valid service name/,
  ],
  [
    'deploy file namespace Bad_NS',
    () => planFile(deployFile('bad-ns', (d) => (d.namespace = 'Bad_NS'))),
    /^deploy file is invalid: namespace must match/,
  ],
  [
    'deploy file environment namespace of 64 characters',
    () => planFile(deployFile('long-ns', (d) => (d.environments.production!.namespace = 'n'.repeat(64)))),
    /^deploy file is invalid: environments\.production\.namespace /,
  ],
  [
    'deploy file with a missing values file',
    () =>
      planFile(
        deployFile('missing-values', (d) => (d.services['user-service'] = { valuesFiles: ['nope.yaml'] })),
      ),
    /^values file not found: nope\.yaml/,
  ],
  [
    'deploy file chart without Chart.yaml',
    () => planFile(deployFile('no-chart', (d) => (d.chart = 'charts'))),
    /^chart not found: charts has no Chart\.yaml/,
  ],
  [
    'deploy file dependsOn an unknown service',
    () =>
      planFile(
        deployFile('dep-unknown', (d) => (d.services['user-service'] = { dependsOn: ['cart-service'] })),
      ),
    /^service user-service depends on unknown service "cart-service"/,
  ],
  [
    'deploy file dependsOn cycle',
    () =>
      planFile(
        deployFile(
          'dep-cycle',
          (d) => (d.services['user-service'] = { ...d.services['user-service'], dependsOn: ['api-gateway'] }),
        ),
      ),
    /^dependsOn forms a cycle between: /,
  ],
  [
    'deploy file: an ECR oci:// chart without chartVersion',
    () =>
      planFile(
        deployFile(
          'oci-ecr',
          (d) => (d.chart = 'oci://123456789012.dkr.ecr.us-east-1.amazonaws.com/charts/ecommerce-service'),
        ),
      ),
    /^chart oci:\/\/123456789012\.dkr\.ecr\.us-east-1\.amazonaws\.com\/charts\/ecommerce-service needs chartVersion/,
  ],
  // ---- the Action ---------------------------------------------------------------------
  [
    'Action image-tag missing',
    () => action({ 'dry-run': 'true', 'skip-image-check': 'true' }),
    /^image-tag is required/,
  ],
  ['Action config is a directory', () => dryRun({ config: 'charts' }), /^deploy file charts is a directory/],
  [
    'Action report-path is a directory',
    () => dryRun({ 'report-path': base }),
    /^report-path .* is a directory/,
  ],
  [
    'Action kubeconfig with invalid YAML',
    () => dryRun({ kubeconfig: join(repo, 'bad-kubeconfig.yaml') }),
    /^kubeconfig .*bad-kubeconfig\.yaml is not valid YAML/,
  ],
  ['Action services ","', () => dryRun({ services: ',' }), /^services names no service, got ","/],
  [
    'Action timeout "five minutes"',
    () => dryRun({ timeout: 'five minutes' }),
    /^timeout must be a positive whole number, got "five minutes"/,
  ],
  [
    'Action rollback-timeout 9999999999',
    () => dryRun({ 'rollback-timeout': '9999999999' }),
    /^rollback-timeout 9999999999 is more than the limit/,
  ],
  [
    'Action aws-region "x y"',
    () => dryRun({ 'aws-region': 'x y' }),
    /^aws-region "x y" is not an AWS region/,
  ],
  [
    'Action dry-run "maybe"',
    () => action({ 'dry-run': 'maybe', 'image-tag': 't' }),
    /^dry-run must be true or false, got "maybe"/,
  ],
  [
    'Action helm-source "latest"',
    () => dryRun({ 'helm-source': 'latest' }),
    /^helm-source must be path or pinned, got "latest"/,
  ],
  [
    'Action helm-version 9.9.9',
    () => dryRun({ 'helm-version': '9.9.9' }),
    /^helm-version "9\.9\.9" has no pinned checksum/,
  ],
  [
    'Action cluster-name without aws-region',
    () => action({ 'image-tag': 't', 'cluster-name': 'shop' }),
    /^cluster-name "shop" needs aws-region/,
  ],
  [
    'Action skip-image-check on a deploy',
    () => action({ 'image-tag': 't', kubeconfig: closedKubeconfig, 'skip-image-check': 'true' }),
    /^skip-image-check only applies to a plan/,
  ],
];

// One bundle and one fixture repository for every case below.
beforeAll(() => {
  const res = spawnSync(process.execPath, [join(root, 'scripts', 'bundle.mjs'), '--outdir', outdir], {
    encoding: 'utf8',
  });
  if (res.status !== 0) throw new Error(`bundle failed:\n${res.stderr}`);
  mkdirSync(join(repo, '.git'), { recursive: true });
  mkdirSync(home);
  cpSync(join(root, 'charts'), join(repo, 'charts'), { recursive: true });
  copyFileSync(join(root, 'deploy.yaml'), join(repo, 'deploy.yaml'));
  writeFileSync(join(repo, 'bad-kubeconfig.yaml'), 'apiVersion: v1\nclusters: [\n  - name: x\n');
  symlinkSync('/etc/hostname', join(repo, 'link-out.yaml'));
  writeFileSync(
    closedKubeconfig,
    yaml.dump({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'closed', cluster: { server: 'https://127.0.0.1:1' } }],
      users: [{ name: 'u', user: { token: 'not-a-secret' } }],
      contexts: [{ name: 'closed', context: { cluster: 'closed', user: 'u' } }],
      'current-context': 'closed',
    }),
  );
}, 120_000);
afterAll(() => rmSync(base, { recursive: true, force: true }));

describe('every bad input exits 2 with its cause and the fix, and leaves nothing behind', () => {
  it('has at least 50 cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(50);
  });

  it.concurrent.each(cases)('%s', async (_what, door, first) => {
    const run = await door();
    const seen = `exit ${run.code}\n--- stderr\n${run.stderr}\n--- stdout\n${run.stdout}`;
    expect({ code: run.code, first: firstErrorLine(run) ?? seen }).toEqual({
      code: 2,
      first: expect.stringMatching(first),
    });
    expect({ whatToDo: /what to do: \S/.test(run.stderr + run.stdout), seen }).toEqual({
      whatToDo: true,
      seen,
    });
    // No stack trace: no `at fn (file:line:col)` frames and no "stopped unexpectedly".
    expect(run.stderr + run.stdout).not.toMatch(/^\s+at .*:\d+:\d+\)?$|stopped unexpectedly/m);
    expect(readdirSync(run.tmp)).toEqual([]);
  });
});

describe('what a failed helm command prints', () => {
  it('leads with the PDB rule, hints at the values, and marks the command as not to be run as is', async () => {
    const file = deployFile('pdb-detail', (d) => {
      d.services['user-service'] = {
        ...d.services['user-service'],
        values: { podDisruptionBudget: { minAvailable: 3 }, autoscaling: { minReplicas: 3 } },
      };
    });
    const run = await planFile(file, '--services', 'user-service');
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('what to do: fix the value named above');
    expect(run.stderr).not.toContain('--debug for more detail');
    expect(run.stderr).toContain('template: ecommerce-service/templates/deployment.yaml:1:4');
    expect(run.stderr).toMatch(/command \(not to be run as is: [^)]*\): helm template user-service /);
  });

  it('hints at the chart registry when its DNS fails, and at the kubeconfig with a complete command when the cluster is closed', async () => {
    const registry = await planFile(
      deployFile('oci-nxdomain-2', (d) => {
        d.chart = 'oci://registry.invalid/charts/ecommerce-service';
        d.chartVersion = '0.1.0';
      }),
    );
    expect(registry.stderr).toContain(
      'what to do: check that the chart registry registry.invalid is reachable',
    );
    expect(registry.stderr).not.toMatch(/what to do: .*kubeconfig/);
    expect(registry.stderr).toMatch(
      /command: helm show chart oci:\/\/registry\.invalid\/charts\/ecommerce-service --version 0\.1\.0$/m,
    );

    const closed = await plan('--kubeconfig', closedKubeconfig, '--services', 'user-service');
    expect(closed.code).toBe(2);
    expect(closed.stderr).toContain('what to do: check that the kubeconfig points at the right cluster');
    expect(closed.stderr).toMatch(
      /helm upgrade --install user-service .* --dry-run=server .*--kubeconfig \S*closed\.kubeconfig/,
    );
  });
});
