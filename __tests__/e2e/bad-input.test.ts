/**
 * Bad input against a real cluster (the stand-in) changes nothing: after a good deploy
 * of the six services, each bad deploy exits 2 with the input named on the first error
 * line and a "what to do" line, leaves its temp dir empty, and `helm list` shows every
 * release at the same revision and status as before. The cases without a cluster are
 * in __tests__/input/bad-input.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  pushImages,
  readStandInEnv,
  repoRoot,
  restrictedNamespace,
  type StandInEnv,
  SERVICES,
} from '../../scripts/stand-in.mjs';
import { deployCli, runNode, writeDeployFile, type NodeRun } from './run.js';

const NS = 'e2e-bad-input';
const TAG = 'bad-input-1';
const HELM3 = resolve(repoRoot, '.cache/tools/helm3/helm');
const tmp = mkdtempSync(join(tmpdir(), 'e2e-bad-input-'));

let env: StandInEnv;

/** `helm list` of the namespace, as the cluster's admin sees it. */
function helmList(): { name: string; revision: string; status: string; chart: string }[] {
  const res = spawnSync(HELM3, ['list', '--all', '--namespace', NS, '--output', 'json'], {
    env: { ...process.env, KUBECONFIG: env.KUBECONFIG },
    encoding: 'utf8',
  });
  if (res.status !== 0) throw new Error(`helm list failed: ${res.stderr}`);
  return (JSON.parse(res.stdout) as Record<string, string>[])
    .map(({ name, revision, status, chart }) => ({
      name: name!,
      revision: revision!,
      status: status!,
      chart: chart!,
    }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

function firstErrorLine(run: NodeRun): string | undefined {
  for (const line of (run.stderr + '\n' + run.stdout).split('\n')) {
    const cliError = /^(?:\[\s*[\d.]+s\] )?error: (.*)$/.exec(line);
    if (cliError) return cliError[1];
    const actionError = /^::error(?: [^:]*)?::(.*)$/.exec(line);
    if (actionError) return actionError[1]!.split('%0A')[0];
  }
  return undefined;
}

let caseNo = 0;
/** A CLI deploy against the stand-in's EKS cluster, in a fresh TMPDIR. */
async function badDeploy(opts: {
  config?: string;
  namespace?: string;
  extraArgs?: string[];
  report?: string;
}) {
  const temp = mkdtempSync(join(tmp, `tmp-${++caseNo}-`));
  const run = await deployCli(env, {
    namespace: opts.namespace ?? NS,
    tag: TAG,
    config: opts.config,
    report: opts.report ?? join(tmp, `report-${caseNo}.json`),
    extraArgs: opts.extraArgs,
    extraEnv: { TMPDIR: temp },
  });
  return { ...run, temp };
}

beforeAll(async () => {
  const found = readStandInEnv(process.env.E2E_RUN_DIR);
  if (!found) throw new Error('the e2e stand-in is not running: run the e2e tests with `npm run test:e2e`');
  env = found;
  restrictedNamespace(env, NS);
  await pushImages(env, SERVICES, TAG);
  const good = await deployCli(env, {
    namespace: NS,
    tag: TAG,
    report: join(tmp, 'good.json'),
    extraArgs: ['--concurrency', '6'],
  });
  if (good.code !== 0) throw new Error(`the good deploy failed:\n${good.output}`);
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('a bad deploy against the cluster changes nothing', () => {
  const typo = () => writeDeployFile(tmp, 'typo.yaml', { 'order-service': { values: { replicaCont: 3 } } });
  const pdb = () =>
    writeDeployFile(tmp, 'pdb.yaml', {
      'user-service': {
        values: { podDisruptionBudget: { minAvailable: 3 }, autoscaling: { minReplicas: 3 } },
      },
    });
  const outside = () => {
    const file = join(tmp, 'outside.yaml');
    writeFileSync(file, `services:\n  user-service:\n    valuesFiles: [/etc/hostname]\n`);
    return file;
  };

  const cases: [string, () => Promise<NodeRun & { temp: string }>, RegExp][] = [
    // The work-dir race of the issue showed up in 1 run of 5: five runs here.
    ...[1, 2, 3, 4, 5].map((n): [string, () => Promise<NodeRun & { temp: string }>, RegExp] => [
      `a values typo in one of six services (run ${n} of 5)`,
      () => badDeploy({ config: typo(), extraArgs: ['--concurrency', '6'] }),
      /^order-service: the chart does not render: .*replicaCont/,
    ]),
    [
      'PDB minAvailable >= autoscaling.minReplicas',
      () => badDeploy({ config: pdb() }),
      /^user-service: the chart does not render: .*podDisruptionBudget\.minAvailable \(3\) must be lower than autoscaling\.minReplicas \(3\)/,
    ],
    [
      '--namespace Bad_NS',
      () => badDeploy({ namespace: 'Bad_NS' }),
      /^--namespace "Bad_NS" is not a valid Kubernetes namespace/,
    ],
    [
      '--rollback-timeout 9999999999',
      () => badDeploy({ extraArgs: ['--rollback-timeout', '9999999999'] }),
      /^--rollback-timeout 9999999999 is more than the limit/,
    ],
    ['--services ","', () => badDeploy({ extraArgs: ['--services', ','] }), /^--services names no service/],
    ['--report is a directory', () => badDeploy({ report: tmp }), /^--report .* is a directory/],
    [
      'a values file outside the repository',
      () => badDeploy({ config: outside() }),
      /^services\.user-service\.valuesFiles\[0\] \/etc\/hostname is outside the deploy file's repository/,
    ],
    [
      'the Action with namespace Bad_NS',
      async () => {
        const temp = mkdtempSync(join(tmp, `tmp-${++caseNo}-`));
        const run = await runNode(env, [resolve(repoRoot, 'dist/index.js')], {
          'INPUT_CLUSTER-NAME': env.EKS_CLUSTER_NAME,
          'INPUT_AWS-REGION': env.AWS_REGION,
          INPUT_CONFIG: resolve(repoRoot, 'deploy.yaml'),
          'INPUT_IMAGE-TAG': TAG,
          INPUT_NAMESPACE: 'Bad_NS',
          GITHUB_WORKSPACE: repoRoot,
          RUNNER_TEMP: temp,
          TMPDIR: temp,
        });
        return { ...run, temp };
      },
      /^namespace "Bad_NS" is not a valid Kubernetes namespace/,
    ],
  ];

  it.each(cases)('%s', async (_what, door, first) => {
    const before = helmList();
    expect(before.map((r) => r.name).sort()).toEqual([...SERVICES].sort());
    const run = await door();
    const output = `exit ${run.code}\n${run.stderr}\n${run.stdout}`;
    expect({ code: run.code, first: firstErrorLine(run) ?? output }).toEqual({
      code: 2,
      first: expect.stringMatching(first),
    });
    expect(output).toMatch(/what to do: \S/);
    expect(output).not.toMatch(/^\s+at .*:\d+:\d+\)?$|stopped unexpectedly/m);
    expect(readdirSync(run.temp)).toEqual([]);
    expect(helmList()).toEqual(before);
  });
});
