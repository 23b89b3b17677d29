/**
 * `ecommerce-deploy verify` on the stand-in after a real deploy: the whole checklist,
 * exit 0; then a Deployment moved to another digest by hand fails its image row, exit 1.
 * (The stand-in has no metrics-server: the HPA row may be a warning.)
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Report } from '../../src/model.js';
import {
  kubectl,
  pushImages,
  readStandInEnv,
  repoRoot,
  restrictedNamespace,
  SERVICES,
  type StandInEnv,
} from '../../scripts/stand-in.mjs';
import { deployCli, runNode } from './run.js';

const NS = 'e2e-verify';
const TAG = 'verify-1';
const CHECKS = [
  'renders',
  'deployment',
  'image',
  'pods',
  'hpa',
  'pdb',
  'service',
  'probes',
  'spread',
  'irsa',
];
let env: StandInEnv;
let tmp: string;

async function verify(name: string) {
  const report = join(tmp, `${name}.json`);
  const run = await runNode(env, [
    resolve(repoRoot, 'dist/cli.js'),
    'verify',
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
  ]);
  return {
    ...run,
    report: JSON.parse(readFileSync(report, 'utf8')) as Report,
    output: `exit ${run.code}\n${run.stdout}\n${run.stderr}`,
  };
}

beforeAll(async () => {
  const found = readStandInEnv(process.env.E2E_RUN_DIR);
  if (!found) throw new Error('the e2e stand-in is not running: run the e2e tests with `npm run test:e2e`');
  env = found;
  tmp = mkdtempSync(join(tmpdir(), 'e2e-verify-'));
  restrictedNamespace(env, NS);
  await pushImages(env, SERVICES, TAG);
  const run = await deployCli(env, {
    namespace: NS,
    tag: TAG,
    report: join(tmp, 'deploy.json'),
    extraArgs: ['--concurrency', '6', '--timeout', '180'],
  });
  if (run.code !== 0) throw new Error(`the deploy before verify failed:\n${run.output}`);
});

describe('ecommerce-deploy verify', () => {
  it('prints the whole checklist for the six services and exits 0 after a deploy', async () => {
    const run = await verify('good');
    const rows = run.report.checks!;
    expect(rows.map((r) => `${r.service} ${r.check}`).sort()).toEqual(
      SERVICES.flatMap((s: string) => CHECKS.map((c) => `${s} ${c}`)).sort(),
    );
    const notOk = rows.filter((r) => r.status !== 'ok' && r.check !== 'hpa');
    expect({ code: run.code, notOk }).toEqual({ code: 0, notOk: [] });
    for (const s of SERVICES)
      expect(run.stdout).toMatch(new RegExp(`${s} +image +ok +at sha256:[0-9a-f]{64}`));
    expect(run.stdout).toMatch(/order-service +service +ok +ClusterIP on port 3000, 3 ready endpoints/);
    expect(run.stdout).toMatch(/order-service +irsa +ok +IRSA: ServiceAccount order-service can assume/);
    expect(run.stdout).toContain('Verified 6 services: every check passed');
  });

  it('fails the image row and exits 1 when a Deployment runs another digest', async () => {
    const dep = JSON.parse(kubectl(env, ['get', 'deployment', 'order-service', '-n', NS, '-o', 'json'])) as {
      spec: { template: { spec: { containers: { name: string; image: string }[] } } };
    };
    const container = dep.spec.template.spec.containers[0]!;
    const other = `${container.image.split('@')[0]}@sha256:${'0'.repeat(64)}`;
    kubectl(env, ['set', 'image', 'deployment/order-service', `${container.name}=${other}`, '-n', NS]);
    const run = await verify('moved');
    expect(run.code).toBe(1);
    const failed = run.report.checks!.filter((r) => r.status === 'failed');
    expect(failed).toContainEqual(
      expect.objectContaining({
        service: 'order-service',
        check: 'image',
        message: `the Deployment runs ${other}, expected ${container.image}`,
      }),
    );
    expect(failed.every((r) => r.service === 'order-service')).toBe(true);
    expect(run.stdout).toMatch(/order-service +image +failed +the Deployment runs/);
  });
});
