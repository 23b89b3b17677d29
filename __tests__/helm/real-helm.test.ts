/**
 * The helm boundary against the real helm 3 and helm 4 binaries
 * (`node scripts/install-tools.mjs` puts them in .cache/tools; HELM_BIN
 * replaces both with one). No cluster: the kubeconfig points at a closed
 * port, so commands that need a cluster must get past helm's flag parser and
 * fail at the connection, which is how a flag one major lacks is caught.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DeployError } from '../../src/errors.js';
import { findHelm, requireSupportedHelm, type SupportedHelm } from '../../src/helm/binary.js';
import { Helm, upgradeArgs, type UpgradeParams } from '../../src/helm/helm.js';
import { execRunner } from '../../src/runner.js';

const binaries: [string, string][] = process.env.HELM_BIN
  ? [['HELM_BIN', process.env.HELM_BIN]]
  : [
      ['helm 3', resolve('.cache/tools/helm3/helm')],
      ['helm 4', resolve('.cache/tools/helm4/helm')],
    ];

const UNREACHABLE_KUBECONFIG = `apiVersion: v1
kind: Config
clusters: [{ name: nowhere, cluster: { server: "https://127.0.0.1:1" } }]
users: [{ name: nobody, user: { token: not-a-token } }]
contexts: [{ name: nowhere, context: { cluster: nowhere, user: nobody, namespace: default } }]
current-context: nowhere
`;

// A schema like the real chart's: the types --set would get wrong are the ones it checks.
const SCHEMA = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  type: 'object',
  properties: {
    replicaCount: { type: 'integer' },
    image: { type: 'object', properties: { tag: { type: 'string' }, repository: { type: 'string' } } },
  },
};

async function rejected(p: Promise<unknown>): Promise<DeployError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof DeployError) return err;
    throw err;
  }
  throw new Error('expected a DeployError');
}

const CONNECTION_FAILED = /cluster unreachable|connection refused/i;
// Helm 4 still takes --atomic, with a deprecation warning: that counts as wrong too.
const FLAG_REJECTED = /unknown flag|invalid argument|unknown shorthand|deprecated/i;

describe.each(binaries)('%s (%s)', (_label, path) => {
  let dir: string;
  let bin: SupportedHelm;
  let helm: Helm;
  let chart: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'real-helm-'));
    // Keep helm's config, cache and registry logins out of the user's home.
    env = {
      HELM_CONFIG_HOME: join(dir, 'config'),
      HELM_CACHE_HOME: join(dir, 'cache'),
      HELM_DATA_HOME: join(dir, 'data'),
    };
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, UNREACHABLE_KUBECONFIG);
    bin = requireSupportedHelm(await findHelm({ run: execRunner, explicit: path }));
    helm = new Helm({ run: execRunner, helm: bin, kubeconfig, env });
    chart = join(dir, 'shop-svc');
    const created = await execRunner(bin.path, ['create', chart], { env });
    if (created.exitCode !== 0) throw new Error(`helm create failed: ${created.stderr}`);
    writeFileSync(join(chart, 'values.schema.json'), JSON.stringify(SCHEMA));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('findHelm reads the real version', () => {
    expect(bin.version.raw).toMatch(/^v\d+\.\d+\.\d+/);
    expect(bin.major).toBe(bin.version.major);
    expect(bin.version.major * 100 + bin.version.minor).toBeGreaterThanOrEqual(313);
  });

  it('renders the chart with values files applied in order and set values kept as exact strings', async () => {
    const envValues = join(dir, 'production.yaml');
    const overrides = join(dir, 'user-service.yaml');
    writeFileSync(envValues, 'replicaCount: 2\nimage:\n  repository: wrong\n');
    writeFileSync(overrides, 'replicaCount: 3\n');
    const yaml = await helm.template({
      release: 'user-service',
      chart,
      namespace: 'shop',
      valuesFiles: [envValues, overrides],
      sets: {
        'image.repository': '1234.dkr.ecr.us-east-1.amazonaws.com/user-service',
        // As --set this would be the integer 20240101 and fail the schema.
        'image.tag': '20240101',
        'podAnnotations.runUrl': 'https://ci.example/run?a=1,b=2',
        'podAnnotations.release': '1.10',
      },
    });
    expect(yaml).toContain('replicas: 3');
    expect(yaml).toContain('image: "1234.dkr.ecr.us-east-1.amazonaws.com/user-service:20240101"');
    expect(yaml).toContain('runUrl: https://ci.example/run?a=1,b=2');
    expect(yaml).toContain('release: "1.10"');
  });

  it("surfaces helm's schema message, naming the key, when a value has the wrong type", async () => {
    const err = await rejected(
      helm.template({
        release: 'user-service',
        chart,
        namespace: 'shop',
        valuesFiles: [],
        sets: { replicaCount: 'three' },
      }),
    );
    expect(err.kind).toBe('input');
    expect(err.exitCode).toBe(2);
    expect(err.where).toEqual({ service: 'user-service', key: 'replicaCount' });
    expect(err.message).toMatch(
      /^rendering user-service failed: values don't meet the specifications of the schema/,
    );
    expect(err.message).toMatch(/replicaCount/);
    expect(err.details[0]).toContain('command: helm template user-service');
  });

  it('reads the chart version with helm show chart', async () => {
    expect(await helm.chartVersion(chart)).toBe('0.1.0');
  });

  const upgrade: Omit<UpgradeParams, 'chart'> = {
    release: 'user-service',
    namespace: 'shop',
    valuesFiles: [],
    sets: { 'image.tag': '20240101', 'image.repository': 'repo/user-service' },
    version: '0.1.0',
    description: 'commit abc123 run https://ci.example/run/1',
    dryRun: 'client',
  };

  it("accepts this major's upgrade flags and fails only at the unreachable cluster", async () => {
    const err = await rejected(helm.upgrade({ ...upgrade, chart }));
    expect(err.message).toMatch(CONNECTION_FAILED);
    expect(err.details.join('\n')).not.toMatch(FLAG_REJECTED);
    expect(err.kind).toBe('deploy');
    expect(err.where.service).toBe('user-service');
    expect(err.hint).toMatch(/kubeconfig/);
  });

  it('rejects a flag it does not know (so the test above can fail)', async () => {
    const res = await execRunner(bin.path, [...upgradeArgs({ ...upgrade, chart }), '--no-such-flag'], {
      env: { ...env, KUBECONFIG: join(dir, 'kubeconfig') },
    });
    expect(res.exitCode).not.toBe(0);
    expect(res.stderr).toMatch(FLAG_REJECTED);
  });

  it('accepts the list, history, rollback and uninstall flags', async () => {
    const errors = await Promise.all([
      rejected(helm.releases('shop')),
      rejected(helm.history('user-service', 'shop')),
      rejected(helm.rollback('user-service', 2, 'shop', 60)),
      rejected(helm.uninstall('user-service', 'shop')),
    ]);
    for (const err of errors) {
      expect(err.message).toMatch(CONNECTION_FAILED);
      expect(err.details.join('\n')).not.toMatch(FLAG_REJECTED);
    }
  });

  it('logs into a registry with --password-stdin and keeps the password out of the error', async () => {
    const password = 'not-a-real-token-4f8e2c';
    const err = await rejected(helm.registryLogin('127.0.0.1:1', 'AWS', password));
    expect(err.details.join('\n')).not.toMatch(FLAG_REJECTED);
    expect(err.message).toMatch(/connection refused|127\.0\.0\.1:1/);
    expect(err.describe()).not.toContain(password);
  });
});
