/**
 * Runs the bundled Action the way the runner does: `node dist/index.js` with the
 * inputs in INPUT_* variables and GITHUB_OUTPUT / GITHUB_STEP_SUMMARY pointing at
 * files. The bundle is built from the current sources into .cache/test-dist (inside
 * the repo, so the chart is found the same way as from dist/), never over dist/.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { load as loadYaml } from 'js-yaml';
import { DEFAULT_HELM_VERSION } from '../../src/helm/binary.js';
import { DEFAULTS } from '../../src/request.js';
import { SERVICES } from '../../scripts/stand-in.mjs';

const root = join(import.meta.dirname, '..', '..');
const outdir = join(root, '.cache', 'test-dist', 'action');

/** Parses the GITHUB_OUTPUT file format (`name<<delimiter`, value lines, `delimiter`). */
function parseOutputs(text: string): Record<string, string> {
  const outputs: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^([^<=]+)<<(.+)$/.exec(lines[i]!);
    if (!m) continue;
    const end = lines.indexOf(m[2]!, i + 1);
    outputs[m[1]!] = lines.slice(i + 1, end).join('\n');
    i = end;
  }
  return outputs;
}

function runAction(inputs: Record<string, string>) {
  const dir = mkdtempSync(join(tmpdir(), 'action-run-'));
  const files = { output: join(dir, 'output'), summary: join(dir, 'summary.md') };
  writeFileSync(files.output, '');
  writeFileSync(files.summary, '');
  // Only what a runner would set: none of this process's INPUT_*, GITHUB_* or AWS_* leaks in.
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? dir,
    HELM_BIN: join(root, '.cache', 'tools', 'helm3', 'helm'),
    RUNNER_TEMP: dir,
    GITHUB_OUTPUT: files.output,
    GITHUB_STEP_SUMMARY: files.summary,
    GITHUB_WORKSPACE: root,
    GITHUB_REPOSITORY: 'shop/ecommerce-deploy',
    GITHUB_SHA: '0123456789abcdef0123456789abcdef01234567',
    GITHUB_RUN_ID: '4242',
    GITHUB_ACTOR: 'ada',
    GITHUB_SERVER_URL: 'https://github.com',
  };
  // The runner keeps dashes and uppercases: image-tag -> INPUT_IMAGE-TAG.
  for (const [name, value] of Object.entries(inputs)) env[`INPUT_${name.toUpperCase()}`] = value;
  const res = spawnSync(process.execPath, [join(outdir, 'index.js')], {
    cwd: root,
    env,
    encoding: 'utf8',
    timeout: 120_000,
  });
  return {
    status: res.status,
    log: res.stdout + res.stderr,
    outputs: parseOutputs(readFileSync(files.output, 'utf8')),
    summary: readFileSync(files.summary, 'utf8'),
    dir,
  };
}

describe('the bundled Action', () => {
  beforeAll(() => {
    const res = spawnSync(process.execPath, [join(root, 'scripts', 'bundle.mjs'), '--outdir', outdir], {
      encoding: 'utf8',
    });
    if (res.status !== 0) throw new Error(`bundle failed:\n${res.stderr}`);
  });

  it('plans all six services with dry-run, sets the outputs and writes the job summary', () => {
    const reportPath = join(mkdtempSync(join(tmpdir(), 'action-report-')), 'report.json');
    const run = runAction({
      'dry-run': 'true',
      'skip-image-check': 'true',
      config: 'deploy.yaml',
      'image-tag': 'abc123',
      'report-path': reportPath,
    });
    expect({ status: run.status, log: run.status === 0 ? '' : run.log }).toEqual({ status: 0, log: '' });

    expect(run.outputs.result).toBe('planned');
    const services = JSON.parse(run.outputs.services ?? '{}');
    expect(Object.keys(services).sort()).toEqual([...SERVICES].sort());
    for (const name of SERVICES) {
      expect(services[name]).toMatchObject({
        status: 'planned',
        image: expect.stringContaining(`${name}:abc123`),
      });
    }
    expect(run.outputs['report-path']).toBe(reportPath);
    expect(JSON.parse(readFileSync(reportPath, 'utf8'))).toMatchObject({
      result: 'planned',
      imageTag: 'abc123',
    });

    for (const name of SERVICES) expect(run.summary).toMatch(new RegExp(`^\\| ${name} \\|.*planned`, 'm'));
    expect(run.summary).toContain('tag **abc123**');
  });

  it('rejects a bad input with exit 2, an error annotation and result=failure, before doing anything', () => {
    const run = runAction({ 'dry-run': 'true', 'image-tag': 'abc123', timeout: 'five minutes' });
    expect(run.status).toBe(2);
    expect(run.log).toContain('::error::timeout must be a positive whole number, got "five minutes"');
    expect(run.outputs.result).toBe('failure');
    expect(run.summary).toBe('');
  });

  it('rejects a deploy without a cluster, naming the inputs to set', () => {
    const run = runAction({ 'image-tag': 'abc123', rollback: 'failed' });
    expect(run.status).toBe(2);
    expect(run.log).toContain('a deploy needs a cluster: give cluster-name (with aws-region) or kubeconfig');
  });
});

describe('action.yml', () => {
  const action = loadYaml(readFileSync(join(root, 'action.yml'), 'utf8')) as {
    runs: { using: string; main: string };
    inputs: Record<string, { default?: string; required?: boolean; description: string }>;
    outputs: Record<string, { description: string }>;
  };

  it('runs the bundle on node24', () => {
    expect(action.runs).toEqual({ using: 'node24', main: 'dist/index.js' });
  });

  it('documents every input and output the Action reads and sets', () => {
    expect(Object.keys(action.inputs).sort()).toEqual(
      [
        'allow-files-from',
        'aws-region',
        'cluster-name',
        'concurrency',
        'config',
        'dry-run',
        'environment',
        'github-token',
        'helm-source',
        'helm-version',
        'image-tag',
        'keep-failed-install',
        'kubeconfig',
        'mode',
        'namespace',
        'report-path',
        'rollback',
        'rollback-timeout',
        'services',
        'skip-image-check',
        'strict',
        'timeout',
        'wait-for-lock',
        'force',
        'plan-out',
        'plan-file',
        'plan-max-age',
      ].sort(),
    );
    expect(Object.keys(action.outputs).sort()).toEqual(
      ['report-path', 'result', 'services', 'changes-pending', 'plan-id'].sort(),
    );
    for (const [name, input] of Object.entries(action.inputs))
      expect([name, input.description.length > 10]).toEqual([name, true]);
    expect(action.inputs['image-tag']?.required).toBe(true);
    // GitHub deployments and the plan comment with the job's own token unless told otherwise.
    expect(action.inputs['github-token']?.default).toBe('${{ github.token }}');
  });

  it('has the same defaults as the CLI', () => {
    const d = (name: string) => action.inputs[name]?.default;
    expect({
      config: d('config'),
      environment: d('environment'),
      timeout: d('timeout'),
      concurrency: d('concurrency'),
      rollback: d('rollback'),
      'helm-version': d('helm-version'),
      'dry-run': d('dry-run'),
      'skip-image-check': d('skip-image-check'),
      services: d('services'),
    }).toEqual({
      config: DEFAULTS.config,
      environment: DEFAULTS.environment,
      timeout: String(DEFAULTS.timeoutSeconds),
      concurrency: String(DEFAULTS.concurrency),
      rollback: DEFAULTS.rollback,
      'helm-version': DEFAULT_HELM_VERSION,
      'dry-run': 'false',
      'skip-image-check': 'false',
      services: 'all',
    });
  });
});
