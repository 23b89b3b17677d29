import { DeployError } from '../../src/errors.js';
import type { SupportedHelm } from '../../src/helm/binary.js';
import {
  Helm,
  helmGcDefault,
  recoveryOf,
  listArgs,
  rollbackArgs,
  serverValidatesFields,
  serverWarnings,
  setArgs,
  templateArgs,
  upgradeArgs,
  type HistoryEntry,
  type ReleaseInfo,
  type UpgradeParams,
} from '../../src/helm/helm.js';
import { fakeRunner } from './fake-runner.js';

const helm3: SupportedHelm = {
  path: '/opt/helm3',
  major: 3,
  version: { major: 3, minor: 17, patch: 3, raw: 'v3.17.3' },
};
const helm4: SupportedHelm = {
  path: '/opt/helm4',
  major: 4,
  version: { major: 4, minor: 1, patch: 4, raw: 'v4.1.4' },
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

const DIGEST = 'sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';

const full: UpgradeParams = {
  release: 'user-service',
  chart: '/charts/ecommerce-service',
  namespace: 'shop',
  valuesFiles: ['/deploy/values/production.yaml', '/deploy/services/user-service.yaml'],
  sets: { 'image.repository': '1234.dkr.ecr.us-east-1.amazonaws.com/user-service', 'image.digest': DIGEST },
  version: '1.2.0',
  description: 'commit abc123',
  dryRun: 'server',
};

describe('upgradeArgs', () => {
  const common = [
    'upgrade',
    '--install',
    'user-service',
    '/charts/ecommerce-service',
    '--namespace',
    'shop',
    '-f',
    '/deploy/values/production.yaml',
    '-f',
    '/deploy/services/user-service.yaml',
    '--set',
    'image.repository=1234.dkr.ecr.us-east-1.amazonaws.com/user-service',
    '--set',
    `image.digest=${DIGEST}`,
    '--version',
    '1.2.0',
    '--description',
    'commit abc123',
  ];

  it('never waits or times out: the rollout tracker judges the rollout', () => {
    expect(upgradeArgs(full)).toEqual([...common, '--dry-run=server']);
  });

  it('adds nothing optional when nothing optional is asked for', () => {
    const p = { release: 'api-gateway', chart: 'oci://r/c', namespace: 'shop', valuesFiles: [], sets: {} };
    expect(upgradeArgs(p)).toEqual([
      'upgrade',
      '--install',
      'api-gateway',
      'oci://r/c',
      '--namespace',
      'shop',
    ]);
  });
});

describe('setArgs', () => {
  it('passes values --set keeps as strings with --set, and integers, bools and commas with --set-literal', () => {
    expect(
      setArgs({
        'image.repository': 'repo/user-service',
        'image.tag': '20240101',
        'image.version': '1.10',
        'feature.on': 'true',
        'annotations.runUrl': 'https://ci/run?a=1,b=2',
        'annotations.note': 'a\\b {x}',
      }),
    ).toEqual([
      '--set',
      'image.repository=repo/user-service',
      '--set-literal',
      'image.tag=20240101',
      '--set',
      'image.version=1.10',
      '--set-literal',
      'feature.on=true',
      '--set-literal',
      'annotations.runUrl=https://ci/run?a=1,b=2',
      '--set-literal',
      'annotations.note=a\\b {x}',
    ]);
  });

  it('rejects a key helm would mis-parse', () => {
    expect(() => setArgs({ 'a=b': 'x' })).toThrow(/invalid helm value key "a=b"/);
  });
});

describe('other arguments', () => {
  it('template renders with the same values and no --kube-version', () => {
    expect(templateArgs({ ...full, sets: { 'image.tag': 'v1' } })).toEqual([
      'template',
      'user-service',
      '/charts/ecommerce-service',
      '--namespace',
      'shop',
      '-f',
      '/deploy/values/production.yaml',
      '-f',
      '/deploy/services/user-service.yaml',
      '--set',
      'image.tag=v1',
      '--version',
      '1.2.0',
    ]);
  });

  it('lists every status: --all on helm 3, the default on helm 4 (where --all is unknown)', () => {
    expect(listArgs('shop', 3)).toEqual(['list', '--all', '--namespace', 'shop', '--output', 'json']);
    expect(listArgs('shop', 4)).toEqual(['list', '--namespace', 'shop', '--output', 'json']);
  });

  it('rollback waits the way each major waits', () => {
    const p = { release: 'order-service', revision: 4, namespace: 'shop', timeoutSeconds: 120 };
    const base = ['rollback', 'order-service', '4', '--namespace', 'shop', '--timeout', '120s'];
    expect(rollbackArgs(p, 3)).toEqual([...base, '--wait']);
    expect(rollbackArgs(p, 4)).toEqual([...base, '--wait=watcher']);
  });
});

describe("helm's client-side OpenAPI check", () => {
  it('is skipped only where the API server validates fields itself (Kubernetes 1.27 and later)', () => {
    expect(['1.27', '1.35', 'v1.30.4-eks-a737599', 'v1.27.0', '2.0'].map(serverValidatesFields)).toEqual([
      true,
      true,
      true,
      true,
      true,
    ]);
    expect(['1.26', 'v1.25.16-eks-1', '', undefined, 'unknown'].map(serverValidatesFields)).toEqual([
      false,
      false,
      false,
      false,
      false,
    ]);
    expect(upgradeArgs({ ...full, serverValidatesFields: true }).at(-1)).toBe('--disable-openapi-validation');
    expect(upgradeArgs(full)).not.toContain('--disable-openapi-validation');
  });

  it("reads the API server's warnings out of helm's stderr", () => {
    const stderr = [
      'W1202 07:15:02.207250    9303 warnings.go:70] unknown field "spec.template.spec.containers[0].imagePullPolicyy"',
      'Release "x" has been upgraded. Happy Helming!',
      'W1202 07:15:03.000001   12 warnings.go:70] spec.template.spec.nodeSelector[beta.kubernetes.io/os]: deprecated',
      // helm 4 logs them as structured klog: info level, quoted, with the server's "Warning: " prefix
      'I1202 07:21:22.036962   15000 warnings.go:107] "Warning: unknown field \\"bogusField\\""',
    ].join('\n');
    expect(serverWarnings(stderr)).toEqual([
      'unknown field "spec.template.spec.containers[0].imagePullPolicyy"',
      'spec.template.spec.nodeSelector[beta.kubernetes.io/os]: deprecated',
      'unknown field "bogusField"',
    ]);
    expect(serverWarnings('')).toEqual([]);
  });
});

describe('Helm client', () => {
  const gc = helmGcDefault(process.env);
  it('runs the found binary with KUBECONFIG set and reads the new revision', async () => {
    const release = {
      name: 'user-service',
      version: 7,
      info: { status: 'deployed' },
      chart: { metadata: { version: '1.2.0' } },
    };
    const { run, calls } = fakeRunner(() => ({ stdout: JSON.stringify(release) }));
    const helm = new Helm({ run, helm: helm4, kubeconfig: '/tmp/kc' });
    expect(await helm.upgrade(full)).toEqual({ revision: 7, warnings: [] });
    expect(calls[0]?.command).toBe('/opt/helm4');
    expect(calls[0]?.args).toEqual([...upgradeArgs(full), '--output', 'json']);
    expect(calls[0]?.options?.env).toEqual({ ...gc, KUBECONFIG: '/tmp/kc' });
  });

  it("starts helm with GOGC=400 unless the environment sets GOGC (the user's value wins)", () => {
    expect(helmGcDefault({})).toEqual({ GOGC: '400' });
    expect(helmGcDefault({ GOGC: '100' })).toEqual({});
    expect(helmGcDefault({ GOGC: 'off' })).toEqual({});
  });

  it('hands each command a token that outlives its timeout (HELM_KUBETOKEN), none when there is none', async () => {
    const { run, calls } = fakeRunner((args) => ({ stdout: args[0] === 'list' ? '[]' : '{"version":2}' }));
    const asked: number[] = [];
    const token = Object.assign(
      async (validForSeconds: number) => {
        asked.push(validForSeconds);
        return validForSeconds <= 14 * 60 ? `k8s-aws-v1.for-${validForSeconds}` : undefined;
      },
      { refused: () => {} },
    );
    const helm = new Helm({ run, helm: helm4, kubeconfig: '/tmp/kc', token });

    await helm.releases('shop');
    await helm.rollback('user-service', 1, 'shop', 120);
    await helm.rollback('user-service', 1, 'shop', 900);

    // No timeout named: helm's own 5 min (hooks) plus a minute; otherwise the timeout plus a minute.
    expect(asked).toEqual([360, 180, 960]);
    expect(calls.map((c) => c.options?.env)).toEqual([
      { ...gc, KUBECONFIG: '/tmp/kc', HELM_KUBETOKEN: 'k8s-aws-v1.for-360' },
      { ...gc, KUBECONFIG: '/tmp/kc', HELM_KUBETOKEN: 'k8s-aws-v1.for-180' },
      { ...gc, KUBECONFIG: '/tmp/kc' },
    ]);
  });

  it('mints a fresh token and runs the command once more when the API server refuses the token (401)', async () => {
    let minted = 0;
    let refusedCalls = 0;
    const token = Object.assign(async () => `k8s-aws-v1.token-${++minted}`, {
      refused: () => void (refusedCalls += 1),
    });
    const { run, calls } = fakeRunner((_args, env) =>
      env?.HELM_KUBETOKEN === 'k8s-aws-v1.token-1'
        ? { exitCode: 1, stderr: 'Error: Kubernetes cluster unreachable: Unauthorized' }
        : { stdout: '[]' },
    );
    const helm = new Helm({ run, helm: helm4, kubeconfig: '/tmp/kc', token });
    await expect(helm.releases('shop')).resolves.toEqual(new Map());
    expect(refusedCalls).toBe(1);
    expect(calls.map((c) => c.options?.env?.HELM_KUBETOKEN)).toEqual([
      'k8s-aws-v1.token-1',
      'k8s-aws-v1.token-2',
    ]);
  });

  it('names the release, the command and the end of stderr when an upgrade fails (exit 1)', async () => {
    const noise = Array.from({ length: 30 }, (_, i) => `wait.go:12: waiting for resource ${i}`);
    const stderr = [...noise, 'Error: UPGRADE FAILED: context deadline exceeded'].join('\n') + '\n';
    const { run } = fakeRunner(() => ({ exitCode: 1, stderr }));
    const err = await rejected(new Helm({ run, helm: helm3 }).upgrade(full));
    expect(err.kind).toBe('deploy');
    expect(err.exitCode).toBe(1);
    expect(err.where.service).toBe('user-service');
    expect(err.message).toBe(
      'helm upgrade of user-service failed: UPGRADE FAILED: context deadline exceeded',
    );
    expect(err.details[0]).toMatch(
      /^command: helm upgrade --install user-service \/charts\/ecommerce-service /,
    );
    expect(err.details[0]).toContain('--description');
    expect(err.details).toHaveLength(21);
    expect(err.details.at(-1)).toBe('Error: UPGRADE FAILED: context deadline exceeded');
    expect(err.details).not.toContain('wait.go:12: waiting for resource 0');
    expect(err.describe()).toContain('at: service user-service');
  });

  it('reports a schema failure while rendering as the user input to fix, naming the key', async () => {
    const stderr = [
      "Error: values don't meet the specifications of the schema(s) in the following chart(s):",
      'ecommerce-service:',
      "- at '/image/tag': got number, want string",
    ].join('\n');
    const { run } = fakeRunner(() => ({ exitCode: 1, stderr }));
    const err = await rejected(new Helm({ run, helm: helm4 }).template(full));
    expect(err.kind).toBe('input');
    expect(err.exitCode).toBe(2);
    expect(err.where).toEqual({ service: 'user-service', key: 'image.tag' });
    expect(err.message).toContain("at '/image/tag': got number, want string");
  });

  it('hints at the kubeconfig when the cluster cannot be reached', async () => {
    const stderr =
      'Error: Kubernetes cluster unreachable: Get "https://10.0.0.1/version": dial tcp: connection refused';
    const { run } = fakeRunner(() => ({ exitCode: 1, stderr }));
    const err = await rejected(new Helm({ run, helm: helm3 }).releases('shop'));
    expect(err.exitCode).toBe(2);
    expect(err.hint).toMatch(/kubeconfig/);
  });

  it('logs into a registry with the password on stdin only, and scrubs it from errors', async () => {
    const password = 'eyJwYXlsb2FkIjoiU0VDUkVUIn0=';
    const { run, calls } = fakeRunner(() => ({
      exitCode: 1,
      stderr: `Error: login as AWS with ${password} refused`,
    }));
    const helm = new Helm({ run, helm: helm4 });
    const err = await rejected(helm.registryLogin('1234.dkr.ecr.us-east-1.amazonaws.com', 'AWS', password));
    expect(calls[0]?.args).toEqual([
      'registry',
      'login',
      '1234.dkr.ecr.us-east-1.amazonaws.com',
      '--username',
      'AWS',
      '--password-stdin',
    ]);
    expect(calls[0]?.args.join(' ')).not.toContain(password);
    expect(calls[0]?.options?.input).toBe(password);
    expect(err.describe()).not.toContain(password);
    expect(err.describe()).toContain('***');
  });

  it('parses helm list into releases by name, pending ones included', async () => {
    const rows = [
      {
        name: 'user-service',
        namespace: 'shop',
        revision: '3',
        updated: '2025-01-01',
        status: 'deployed',
        chart: 'ecommerce-service-1.2.0',
        app_version: '1.0',
      },
      {
        name: 'order-service',
        namespace: 'shop',
        revision: '5',
        updated: '2025-01-02',
        status: 'pending-upgrade',
        chart: 'ecommerce-service-1.2.0',
        app_version: '1.0',
      },
    ];
    const { run } = fakeRunner(() => ({ stdout: JSON.stringify(rows) }));
    const releases = await new Helm({ run, helm: helm3 }).releases('shop');
    expect([...releases.keys()]).toEqual(['user-service', 'order-service']);
    expect(releases.get('order-service')).toEqual({
      status: 'pending-upgrade',
      revision: 5,
      chart: 'ecommerce-service-1.2.0',
      appVersion: '1.0',
      updated: '2025-01-02',
    });
  });

  it('treats a release helm has never heard of as having no history', async () => {
    const { run } = fakeRunner(() => ({ exitCode: 1, stderr: 'Error: release: not found' }));
    expect(await new Helm({ run, helm: helm4 }).history('payment-service', 'shop')).toEqual([]);
  });

  it('reads the chart version from helm show chart', async () => {
    const { run, calls } = fakeRunner(() => ({
      stdout: 'apiVersion: v2\nname: ecommerce-service\nversion: 1.4.0\n',
    }));
    expect(await new Helm({ run, helm: helm3 }).chartVersion('oci://r/ecommerce-service', '1.4.0')).toBe(
      '1.4.0',
    );
    expect(calls[0]?.args).toEqual(['show', 'chart', 'oci://r/ecommerce-service', '--version', '1.4.0']);
  });
});

describe('recoveryOf: unlocking a release a dead run left pending', () => {
  const rel = (status: string, revision: number): ReleaseInfo => ({
    status,
    revision,
    chart: 'ecommerce-service-1.2.0',
    appVersion: '1.0',
    updated: '',
  });
  const h = (revision: number, status: string): HistoryEntry => ({
    revision,
    status,
    chart: '',
    appVersion: '',
    updated: '',
    description: '',
  });

  it('leaves deployed and failed releases alone', () => {
    expect(recoveryOf(rel('deployed', 3), [h(3, 'deployed')])).toBeUndefined();
    expect(recoveryOf(rel('failed', 2), [h(1, 'superseded'), h(2, 'failed')])).toBeUndefined();
  });

  it('rolls a stuck upgrade back to the last revision that was live', () => {
    const history = [h(3, 'superseded'), h(4, 'deployed'), h(5, 'failed'), h(6, 'pending-upgrade')];
    expect(recoveryOf(rel('pending-upgrade', 6), history)).toEqual({ action: 'rollback', to: 4 });
    const rolling = [h(6, 'superseded'), h(7, 'failed'), h(8, 'pending-rollback')];
    expect(recoveryOf(rel('pending-rollback', 8), rolling)).toEqual({ action: 'rollback', to: 6 });
  });

  it('removes a first install that never finished, and has no answer for an upgrade with nothing live before it', () => {
    expect(recoveryOf(rel('pending-install', 1), [h(1, 'pending-install')])).toEqual({ action: 'uninstall' });
    expect(recoveryOf(rel('pending-upgrade', 2), [h(1, 'failed'), h(2, 'pending-upgrade')])).toBeUndefined();
  });
});
