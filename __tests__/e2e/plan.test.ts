/**
 * Review before apply, on the stand-in with real helm 3 and 4: `plan` against the live
 * releases shows exactly what a values change does; a deploy that changes nothing makes no
 * new revision; a plan file is applied as reviewed, and refused once a release moved.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadKubeConfig } from '../../src/kube/client.js';
import { releaseLister, storedReleaseReader } from '../../src/kube/helm-storage.js';
import type { PlanFile, Report } from '../../src/model.js';
import {
  helmReleases,
  kubectl,
  pushImages,
  readStandInEnv,
  repoRoot,
  restrictedNamespace,
  SERVICES,
  type StandInEnv,
} from '../../scripts/stand-in.mjs';
import { deployCli, parseOutputs, runNode, writeDeployFile } from './run.js';

const NS = 'e2e-plan';
const TAG = 'plan-1';
const HELM3 = resolve('.cache/tools/helm3/helm');
const HELM4 = resolve('.cache/tools/helm4/helm');
const dir = mkdtempSync(join(tmpdir(), 'e2e-plan-'));

let env: StandInEnv;

/** The latest revision of each release in the namespace. */
function revisions(): Record<string, number> {
  const latest: Record<string, number> = {};
  for (const r of helmReleases(env, NS)) latest[r.name] = Math.max(latest[r.name] ?? 0, r.revision);
  return latest;
}

/** `ecommerce-deploy plan` against the stand-in's EKS cluster. */
async function plan(config: string, name: string, extraArgs: string[] = [], helm = HELM3) {
  const report = join(dir, `${name}.json`);
  const run = await runNode(
    env,
    [
      resolve(repoRoot, 'dist/cli.js'),
      'plan',
      '--config',
      config,
      '--cluster',
      env.EKS_CLUSTER_NAME,
      '--region',
      env.AWS_REGION,
      '--namespace',
      NS,
      '--tag',
      TAG,
      '--report',
      report,
      '--allow-files-from',
      repoRoot,
      ...extraArgs,
    ],
    { HELM_BIN: helm },
  );
  let parsed: Report | undefined;
  try {
    parsed = JSON.parse(readFileSync(report, 'utf8')) as Report;
  } catch {
    // asserted below, with the output
  }
  return { ...run, report: parsed, output: `exit ${run.code}\n${run.stdout}\n${run.stderr}` };
}

const deploy = (name: string, extraArgs: string[] = [], helm = HELM3, config?: string) =>
  deployCli(env, {
    namespace: NS,
    tag: TAG,
    config,
    report: join(dir, `${name}.json`),
    extraArgs,
    extraEnv: { HELM_BIN: helm },
  });

/** `ecommerce-deploy deploy --plan FILE` with a deploy file (the plan's tag, namespace and services). */
const deployPlan = (config: string, planFile: string, helm: string, extraArgs: string[] = []) =>
  runNode(
    env,
    [
      resolve(repoRoot, 'dist/cli.js'),
      'deploy',
      '--config',
      config,
      '--allow-files-from',
      repoRoot,
      '--cluster',
      env.EKS_CLUSTER_NAME,
      '--region',
      env.AWS_REGION,
      '--plan',
      planFile,
      ...extraArgs,
    ],
    { HELM_BIN: helm },
  );

const kinds = (report: Report | undefined) =>
  Object.fromEntries((report?.services ?? []).map((s) => [s.service, s.change?.kind]));

/** The deploy file with one service's values changed: a ConfigMap added, its checksum on the pods. */
const withConfig = (service: string, flag: string) =>
  writeDeployFile(dir, `${service}-${flag}.yaml`, {
    [service]: { values: { config: { FEATURE_FLAG: flag } } },
  });

beforeAll(async () => {
  const found = readStandInEnv(process.env.E2E_RUN_DIR);
  if (!found) throw new Error('the e2e stand-in is not running: run the e2e tests with `npm run test:e2e`');
  env = found;
  restrictedNamespace(env, NS);
  await pushImages(env, SERVICES, TAG);
  const first = await deploy('first', ['--concurrency', '6']);
  expect({ code: first.code, output: first.code === 0 ? '' : first.output }).toEqual({ code: 0, output: '' });
  expect(first.report?.services.map((s) => s.change?.kind)).toEqual(SERVICES.map(() => 'new-install'));
});

describe('plan against the live releases', () => {
  it('shows exactly the service whose values changed, with the changed lines; the other five unchanged', async () => {
    const run = await plan(withConfig('order-service', 'enabled'), 'plan-order', ['--detailed-exitcode']);
    expect({ code: run.code, output: run.code === 3 ? '' : run.output }).toEqual({ code: 3, output: '' });
    expect(kinds(run.report)).toEqual(
      Object.fromEntries(SERVICES.map((s) => [s, s === 'order-service' ? 'changed' : 'unchanged'])),
    );
    const change = run.report!.services.find((s) => s.service === 'order-service')!.change!;
    expect(change.liveRevision).toBe(1);
    expect(change.values).toEqual([{ path: 'config.FEATURE_FLAG', change: 'added', to: '"enabled"' }]);
    expect(change.objects.map((o) => `${o.change} ${o.kind}/${o.name}`).sort()).toEqual([
      'added ConfigMap/order-service',
      'changed Deployment/order-service',
    ]);
    // The terminal shows the headline per service and the changed lines (plain: stdout is no TTY).
    expect(run.stdout).toMatch(/^order-service: changes 2 objects$/m);
    expect(run.stdout).toMatch(/^user-service: unchanged$/m);
    expect(run.stdout).toMatch(/^\s+\+\s+checksum\/config: [0-9a-f]+$/m);
    expect(run.stdout).toMatch(/^\s+\+\s+FEATURE_FLAG: enabled$/m);
    expect(run.stdout).not.toContain('\u001b[');
    // The trace annotations (a new run, a new commit) are not a change.
    expect(run.stdout).not.toMatch(/ecommerce-deploy\/(commit|actor|image-tag)/);
    expect(revisions()).toEqual(Object.fromEntries(SERVICES.map((s) => [s, 1])));
  });

  it('through the Action: changes-pending, and a collapsible block per changed service in the job summary', async () => {
    const files = { output: join(dir, 'action-output'), summary: join(dir, 'action-summary.md') };
    writeFileSync(files.output, '');
    writeFileSync(files.summary, '');
    const run = await runNode(env, [resolve(repoRoot, 'dist/index.js')], {
      'INPUT_CLUSTER-NAME': env.EKS_CLUSTER_NAME,
      'INPUT_AWS-REGION': env.AWS_REGION,
      INPUT_CONFIG: withConfig('payment-service', 'enabled'),
      'INPUT_ALLOW-FILES-FROM': repoRoot,
      'INPUT_IMAGE-TAG': TAG,
      INPUT_NAMESPACE: NS,
      'INPUT_DRY-RUN': 'true',
      GITHUB_OUTPUT: files.output,
      GITHUB_STEP_SUMMARY: files.summary,
      RUNNER_TEMP: dir,
      HELM_BIN: HELM3,
    });
    expect({ code: run.code, output: run.code === 0 ? '' : run.stdout + run.stderr }).toEqual({
      code: 0,
      output: '',
    });
    const outputs = parseOutputs(files.output);
    expect([outputs.result, outputs['changes-pending']]).toEqual(['planned', 'true']);
    const summary = readFileSync(files.summary, 'utf8');
    expect(summary).toContain('<summary><b>payment-service</b>: changes 2 objects</summary>');
    expect(summary).toContain('- <b>user-service</b>: unchanged');
    expect(summary).toMatch(/```diff\n[\s\S]*\+\s+FEATURE_FLAG: enabled/);
  });

  it('ends with 0 under --detailed-exitcode when nothing would change (helm 4)', async () => {
    const run = await plan(resolve(repoRoot, 'deploy.yaml'), 'plan-none', ['--detailed-exitcode'], HELM4);
    expect({ code: run.code, output: run.code === 0 ? '' : run.output }).toEqual({ code: 0, output: '' });
    expect(Object.values(kinds(run.report))).toEqual(SERVICES.map(() => 'unchanged'));
  });
});

describe('deploy leaves what does not change alone', () => {
  it('makes no new revision when nothing changed (helm 4), and says so', async () => {
    const run = await deploy('no-change', [], HELM4);
    expect({ code: run.code, output: run.code === 0 ? '' : run.output }).toEqual({ code: 0, output: '' });
    expect(run.report!.services.map((s) => [s.service, s.status, s.revision])).toEqual(
      run.report!.services.map((s) => [s.service, 'unchanged', 1]),
    );
    expect(run.stdout).toMatch(/^Nothing to deploy: 6 services unchanged/);
    expect(revisions()).toEqual(Object.fromEntries(SERVICES.map((s) => [s, 1])));
  });

  it('releases it anyway with --force', async () => {
    const run = await deploy('forced', ['--force', '--services', 'notification-service']);
    expect({ code: run.code, output: run.code === 0 ? '' : run.output }).toEqual({ code: 0, output: '' });
    expect(run.report!.services).toEqual([
      expect.objectContaining({ service: 'notification-service', status: 'deployed', revision: 2 }),
    ]);
  });
});

describe('an unchanged release whose workload is not healthy', () => {
  it('is released again, never reported done: its Deployment deleted behind helm’s back', async () => {
    kubectl(env, ['delete', 'deployment', 'payment-service', '-n', NS, '--wait=true']);
    const before = revisions();
    const run = await deploy('deployment-gone');
    expect({ code: run.code, output: run.code === 0 ? '' : run.output }).toEqual({ code: 0, output: '' });
    expect(run.output).toContain(
      'payment-service: identical to its live release, but its Deployment is missing: releasing it again',
    );
    const payment = run.report!.services.find((s) => s.service === 'payment-service')!;
    expect(payment).toMatchObject({ status: 'deployed', revision: before['payment-service']! + 1 });
    expect(run.report!.services.filter((s) => s.status === 'unchanged')).toHaveLength(5);
    const deployment = JSON.parse(
      kubectl(env, ['get', 'deployment', 'payment-service', '-n', NS, '-o', 'json']),
    );
    expect(deployment.status.availableReplicas).toBe(3);
  });
});

describe('a plan file, applied as reviewed', () => {
  it('deploys exactly the plan: the changed service gets a new revision, the others stay', async () => {
    const config = withConfig('order-service', 'enabled');
    const made = await plan(config, 'plan-out', ['--out', join(dir, 'plan.json')], HELM4);
    expect({ code: made.code, output: made.code === 0 ? '' : made.output }).toEqual({ code: 0, output: '' });
    const pinned = JSON.parse(readFileSync(join(dir, 'plan.json'), 'utf8')) as PlanFile;
    expect(made.report!.planId).toBe(pinned.id);
    expect(pinned.services['order-service']).toMatchObject({
      liveRevision: 1,
      change: 'changed',
      image: { digest: expect.stringMatching(/^sha256:[0-9a-f]{64}$/) },
    });
    const before = revisions();
    // No --tag: the plan's own; the deploy file must still be the one the plan was made from.
    const run = await deployPlan(config, join(dir, 'plan.json'), HELM3, [
      '--report',
      join(dir, 'applied.json'),
    ]);
    expect({ code: run.code, output: run.code === 0 ? '' : run.stdout + run.stderr }).toEqual({
      code: 0,
      output: '',
    });
    const report = JSON.parse(readFileSync(join(dir, 'applied.json'), 'utf8')) as Report;
    expect(report.planId).toBe(pinned.id);
    expect(revisions()).toEqual({ ...before, 'order-service': before['order-service']! + 1 });
    expect(report.services.find((s) => s.service === 'order-service')!.status).toBe('deployed');
    expect(report.services.filter((s) => s.status === 'unchanged')).toHaveLength(5);
  });

  it('refuses a plan whose live release moved since (exit 2, naming it) and changes nothing', async () => {
    const config = withConfig('user-service', 'enabled');
    const made = await plan(config, 'plan-moved', ['--out', join(dir, 'moved.json')]);
    expect({ code: made.code, output: made.code === 0 ? '' : made.output }).toEqual({ code: 0, output: '' });
    // Someone deploys user-service in between.
    const between = await deploy('between', ['--force', '--services', 'user-service']);
    expect(between.code).toBe(0);
    const before = revisions();
    const run = await deployPlan(config, join(dir, 'moved.json'), HELM4);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/no longer applies to user-service: the live release moved since the plan/);
    expect(run.stderr).toMatch(/it was at revision 1, it is at revision 2 \(deployed\) now/);
    expect(revisions()).toEqual(before);
  });

  it('refuses a plan whose service renders differently now (exit 2), before any change', async () => {
    const made = await plan(withConfig('product-service', 'enabled'), 'plan-render', [
      '--out',
      join(dir, 'render.json'),
    ]);
    expect(made.code).toBe(0);
    const before = revisions();
    const run = await deployPlan(withConfig('product-service', 'disabled'), join(dir, 'render.json'), HELM3);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/no longer applies to product-service: its values differ from the plan's/);
    expect(revisions()).toEqual(before);
  });
});

describe("the live release, read from helm's storage", () => {
  it('is what `helm get manifest` and `helm get values` print, for revisions written by helm 3 and by helm 4', async () => {
    // A helm 4 revision with user values of its own (product-service's config), beside helm 3's.
    const config = withConfig('product-service', 'enabled');
    const run = await deploy('helm4-write', ['--force', '--services', 'product-service'], HELM4, config);
    expect({ code: run.code, output: run.code === 0 ? '' : run.output }).toEqual({ code: 0, output: '' });
    const read = storedReleaseReader(loadKubeConfig(env.KUBECONFIG));
    const compared: string[] = [];
    for (const [service, revision] of Object.entries(revisions())) {
      const stored = await read(NS, service, revision);
      for (const helm of [HELM3, HELM4]) {
        const get = (what: string, ...more: string[]) =>
          execFileSync(
            helm,
            [
              'get',
              what,
              service,
              '-n',
              NS,
              '--revision',
              String(revision),
              '--kubeconfig',
              env.KUBECONFIG,
              ...more,
            ],
            { encoding: 'utf8' },
          );
        // helm prints the stored manifest and a newline.
        expect(`${stored?.manifest}\n`).toBe(get('manifest'));
        expect(stored?.values).toEqual(JSON.parse(get('values', '-o', 'json')) ?? {});
      }
      compared.push(`${service} v${revision}`);
    }
    expect(compared).toHaveLength(SERVICES.length);
    // Not vacuous: product-service's latest revision carries the values that deploy gave it.
    expect((await read(NS, 'product-service', revisions()['product-service']!))?.values).toMatchObject({
      config: { FEATURE_FLAG: 'enabled' },
    });
  });

  it('lists the releases as `helm list` does (helm 3 with --all, helm 4), each with its latest revision', async () => {
    const listed = await releaseLister(loadKubeConfig(env.KUBECONFIG))(NS);
    expect(listed).toBeDefined();
    const ours = [...listed!]
      .map(([name, r]) => ({ name, revision: r.info.revision, status: r.info.status, chart: r.info.chart }))
      .sort((a, b) => a.name.localeCompare(b.name));
    expect(ours.map((r) => r.name)).toEqual([...SERVICES].sort());
    for (const [helm, all] of [
      [HELM3, ['--all']],
      [HELM4, []],
    ] as const) {
      const rows = JSON.parse(
        execFileSync(helm, ['list', ...all, '-n', NS, '--kubeconfig', env.KUBECONFIG, '-o', 'json'], {
          encoding: 'utf8',
        }),
      ) as { name: string; revision: string; status: string; chart: string }[];
      expect(ours).toEqual(
        rows
          .map((r) => ({ name: r.name, revision: Number(r.revision), status: r.status, chart: r.chart }))
          .sort((a, b) => a.name.localeCompare(b.name)),
      );
    }
    // The record it carries is that revision's: what the diff compares with, without reading it again.
    const read = storedReleaseReader(loadKubeConfig(env.KUBECONFIG));
    const product = listed!.get('product-service')!;
    expect(product.stored).toEqual(await read(NS, 'product-service', product.info.revision));
  });
});

describe('a field the API server does not know (helm runs without its client-side OpenAPI check)', () => {
  // podSecurityContext is passed through as the user wrote it; `runAsNonRoott` is a typo.
  const typo = () =>
    writeDeployFile(dir, 'typo.yaml', {
      'order-service': { values: { podSecurityContext: { runAsNonRoot: true, runAsNonRoott: true } } },
    });

  it('helm 3: the release applies, and the run warns that the server dropped the unknown field', async () => {
    const run = await deploy('typo-helm3', ['--services', 'order-service'], HELM3, typo());
    expect({ code: run.code, output: run.code === 0 ? '' : run.output }).toEqual({ code: 0, output: '' });
    expect(run.report!.warnings.join('\n')).toMatch(
      /order-service: the API server warned while helm applied the release: unknown field "spec\.template\.spec\.securityContext\.runAsNonRoott" \(the field was dropped/,
    );
  });

  it('helm 4 (client-side apply, as for a release helm 3 made): the same warning', async () => {
    const run = await deploy('typo-helm4', ['--services', 'order-service', '--force'], HELM4, typo());
    expect({ code: run.code, output: run.code === 0 ? '' : run.output }).toEqual({ code: 0, output: '' });
    expect(run.report!.warnings.join('\n')).toMatch(
      /order-service: the API server warned while helm applied the release: unknown field "spec\.template\.spec\.securityContext\.runAsNonRoott"/,
    );
  });
});
