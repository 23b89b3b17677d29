/**
 * The chart as an OCI artifact in ECR, as platform teams often publish it: real helm
 * pulls it from the stand-in's ECR registry (go-containerregistry's OCI registry behind
 * TLS and ECR's basic auth, reached by its ECR host name through a proxy), logged in
 * with the token moto's GetAuthorizationToken hands out, and nothing else.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  helmReleases,
  pushImages,
  readStandInEnv,
  restrictedNamespace,
  type StandInEnv,
} from '../../scripts/stand-in.mjs';
import type { Report } from '../../src/model.js';
import { deployCli, type NodeRun } from './run.js';

const NS = 'e2e-oci';
const HELM4 = resolve('.cache/tools/helm4/helm');
const SERVICES = ['user-service', 'product-service'];
/** Not the bundled chart's version: a release of this version can only have come from the registry. */
const VERSION = '0.1.0-oci.1';

let env: StandInEnv;
/** The stand-in's ECR registry: its host name, the proxy that reaches it and the CA that signed it. */
let ecr: { registry: string; proxy: string; ca: string };
let work: string;

/** helm with the stand-in's ECR reachable by name, and a registry config of its own. */
function helm(args: string[], input?: string) {
  const res = spawnSync(HELM4, args, {
    encoding: 'utf8',
    input,
    env: {
      PATH: process.env.PATH,
      HOME: join(work, 'publisher'),
      HTTPS_PROXY: ecr.proxy,
      SSL_CERT_FILE: ecr.ca,
    },
  });
  if (res.status !== 0) throw new Error(`helm ${args.join(' ')} failed: ${res.stderr}`);
  return res.stdout + res.stderr;
}

function registryLog(): string {
  return readFileSync(join(env.KUBECONFIG, '..', 'logs', 'registry.log'), 'utf8');
}

beforeAll(() => {
  const found = readStandInEnv(process.env.E2E_RUN_DIR);
  if (!found) throw new Error('the e2e stand-in is not running: run the e2e tests with `npm run test:e2e`');
  env = found;
  const { LOCAL_ECR_REGISTRY: registry, LOCAL_ECR_PROXY: proxy, LOCAL_CLUSTER_CA: ca } = env;
  if (!registry || !proxy || !ca)
    throw new Error('the e2e stand-in has no ECR registry: restart it (down.sh, up.sh)');
  ecr = { registry, proxy, ca };
  restrictedNamespace(env, NS);
  work = mkdtempSync(join(tmpdir(), 'e2e-oci-'));
});

describe('a deploy whose chart is an OCI artifact in ECR', () => {
  const chart = () => `oci://${ecr.registry}/charts/ecommerce-service`;
  let result: NodeRun;
  let report: Report;
  let home: string;
  let pullsBefore: number;

  beforeAll(async () => {
    // A platform team publishes the chart (with a login of its own, in its own home).
    helm(['package', resolve('charts/ecommerce-service'), '--version', VERSION, '--destination', work]);
    helm(
      ['registry', 'login', ecr.registry, '--username', 'AWS', '--password-stdin'],
      '123456789012-auth-token',
    );
    helm(['push', join(work, `ecommerce-service-${VERSION}.tgz`), `oci://${ecr.registry}/charts`]);
    await pushImages(env, SERVICES, 'oci-1');

    // The shipped deploy file, its chart replaced by the registry's (paths made absolute).
    const deployFile = join(work, 'deploy.yaml');
    writeFileSync(
      deployFile,
      readFileSync('deploy.yaml', 'utf8')
        .replace(/^chart: .*$/m, `chart: ${chart()}\nchartVersion: ${VERSION}`)
        .replaceAll('charts/ecommerce-service/', `${resolve('charts/ecommerce-service')}/`),
    );
    // The deployer's home is fresh: no registry login but the one the deploy makes.
    home = join(work, 'deployer');
    mkdirSync(home);
    pullsBefore = registryLog()
      .split('\n')
      .filter((l) => l.includes(`manifests/${VERSION}`)).length;
    const run = await deployCli(env, {
      namespace: NS,
      tag: 'oci-1',
      config: deployFile,
      report: join(work, 'report.json'),
      extraArgs: ['--services', SERVICES.join(',')],
      extraEnv: {
        HOME: home,
        XDG_CONFIG_HOME: join(home, '.config'),
        XDG_CACHE_HOME: join(home, '.cache'),
        HELM_BIN: HELM4,
        HTTPS_PROXY: ecr.proxy,
        SSL_CERT_FILE: ecr.ca,
      },
    });
    result = run;
    if (!run.report) throw new Error(`no JSON report:\n${run.output.slice(-3000)}`);
    report = run.report;
  });

  it('logs in with the ECR token, pulls the chart version named and deploys from it', () => {
    expect({ code: result.code, output: result.stderr.slice(-3000) }).toMatchObject({ code: 0 });
    expect(report.services.map((s) => [s.service, s.status, s.revision, s.chartVersion])).toEqual(
      SERVICES.map((s) => [s, 'deployed', 1, VERSION]),
    );
    const releases = helmReleases(env, NS);
    expect(releases.map((r) => [r.name, r.chart.metadata.name, r.chart.metadata.version])).toEqual(
      SERVICES.map((s) => [s, 'ecommerce-service', VERSION]).sort(),
    );
    const pulls = registryLog()
      .split('\n')
      .filter((l) => l.includes(`manifests/${VERSION}`)).length;
    expect(pulls).toBeGreaterThan(pullsBefore);
  });

  it("never shows the registry password and leaves no login in the deployer's helm config", () => {
    expect(result.stdout + result.stderr).not.toContain('123456789012-auth-token');
    expect(existsSync(join(home, '.config', 'helm', 'registry', 'config.json'))).toBe(false);
  });

  it('without the login the same pull is refused (the registry really asks for it)', () => {
    const refused = () =>
      registryLog()
        .split('\n')
        .filter((l) => l.includes('no or wrong basic auth')).length;
    const refusedBefore = refused();
    const res = spawnSync(HELM4, ['show', 'chart', chart(), '--version', VERSION], {
      encoding: 'utf8',
      env: {
        PATH: process.env.PATH,
        HOME: home,
        HTTPS_PROXY: ecr.proxy,
        SSL_CERT_FILE: ecr.ca,
      },
    });
    expect(res.status).not.toBe(0);
    expect(res.stderr).toMatch(/basic credential not found|401|unauthorized/i);
    expect(refused()).toBeGreaterThan(refusedBefore);
  });
});
