/**
 * The bundled Action under the Node that action.yml names (`using: node24`), while the
 * rest of the suite runs on this machine's Node: one deploy of the six services through
 * dist/index.js, started with the binary in ECOMMERCE_DEPLOY_NODE24
 * (`node scripts/install-tools.mjs --node24` fetches it and prints its path; .ci/run and
 * CI set it). Without it the test is skipped with a note, except under CI, where it fails.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  helmReleases,
  pushImages,
  readStandInEnv,
  restrictedNamespace,
  type StandInEnv,
  SERVICES,
} from '../../scripts/stand-in.mjs';
import type { Report } from '../../src/model.js';
import { parseOutputs, runNode, type NodeRun } from './run.js';

const NODE24 = process.env.ECOMMERCE_DEPLOY_NODE24;
const REQUIRED = Boolean(process.env.CI);
const NS = 'e2e-node24';
const TAG = 'node24-1';
const HELM3 = resolve('.cache/tools/helm3/helm');

if (!NODE24 && !REQUIRED) {
  console.warn(
    'action-node24.test.ts skipped: ECOMMERCE_DEPLOY_NODE24 is not set. ' +
      'Run `export ECOMMERCE_DEPLOY_NODE24="$(node scripts/install-tools.mjs --node24)"` first (.ci/run does).',
  );
}

(NODE24 || REQUIRED ? describe : describe.skip)('the bundled Action under Node 24', () => {
  const dir = mkdtempSync(join(tmpdir(), 'e2e-node24-'));
  const files = {
    output: join(dir, 'output'),
    summary: join(dir, 'summary.md'),
    report: join(dir, 'report.json'),
  };
  let env: StandInEnv;
  let version: string;
  let pushed: Record<string, string>;
  let run: NodeRun;

  beforeAll(async () => {
    if (!NODE24) {
      throw new Error(
        'ECOMMERCE_DEPLOY_NODE24 is not set, and under CI this test must run: ' +
          'export ECOMMERCE_DEPLOY_NODE24="$(node scripts/install-tools.mjs --node24)"',
      );
    }
    const found = readStandInEnv(process.env.E2E_RUN_DIR);
    if (!found) throw new Error('the e2e stand-in is not running: run the e2e tests with `npm run test:e2e`');
    env = found;
    const v = spawnSync(NODE24, ['--version'], { encoding: 'utf8' });
    version = (v.stdout ?? '').trim() || `(${v.error?.message ?? `exit ${v.status}: ${v.stderr}`})`;
    restrictedNamespace(env, NS);
    // The runner creates these files before a step runs.
    writeFileSync(files.output, '');
    writeFileSync(files.summary, '');
    pushed = await pushImages(env, SERVICES, TAG);
    run = await runNode(
      env,
      [resolve('dist/index.js')],
      {
        'INPUT_CLUSTER-NAME': env.EKS_CLUSTER_NAME,
        'INPUT_AWS-REGION': env.AWS_REGION,
        INPUT_CONFIG: 'deploy.yaml',
        'INPUT_IMAGE-TAG': TAG,
        INPUT_NAMESPACE: NS,
        INPUT_ENVIRONMENT: 'production',
        INPUT_CONCURRENCY: '6',
        INPUT_TIMEOUT: '180',
        'INPUT_HELM-VERSION': '3.17.3',
        'INPUT_REPORT-PATH': files.report,
        GITHUB_OUTPUT: files.output,
        GITHUB_STEP_SUMMARY: files.summary,
        RUNNER_TEMP: dir,
        HELM_BIN: HELM3,
      },
      NODE24,
    );
  });

  it('runs on a Node 24 binary', () => {
    expect(version).toMatch(/^v24\.\d+\.\d+$/);
  });

  it('succeeds, and its outputs give every service revision 1 at the digest pushed to ECR', () => {
    expect({ code: run.code, log: run.code === 0 ? '' : run.stdout + run.stderr }).toEqual({
      code: 0,
      log: '',
    });
    const outputs = parseOutputs(files.output);
    expect(outputs.result).toBe('success');
    expect(outputs['report-path']).toBe(files.report);
    const services = JSON.parse(outputs.services ?? '{}') as Record<
      string,
      { revision: number; digest: string; status: string }
    >;
    expect(Object.keys(services).sort()).toEqual([...SERVICES].sort());
    for (const s of SERVICES) {
      expect(pushed[s]).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(services[s]).toMatchObject({ revision: 1, status: 'deployed', digest: pushed[s] });
    }
    const report = JSON.parse(readFileSync(files.report, 'utf8')) as Report;
    expect({ result: report.result, namespace: report.namespace, imageTag: report.imageTag }).toEqual({
      result: 'success',
      namespace: NS,
      imageTag: TAG,
    });
  });

  it('leaves one deployed helm revision per service in the cluster', () => {
    const releases = helmReleases(env, NS).map((r) => [r.name, r.revision, r.status]);
    expect(releases).toEqual([...SERVICES].sort().map((s) => [s, 1, 'deployed']));
  });
});
