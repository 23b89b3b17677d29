/**
 * The product end to end on the local EKS stand-in: real helm, a real API server
 * (with Pod Security admission and our EKS token verified by its webhook), kwok
 * pods, and moto for ECR and EKS. Each front door is run as a user runs it.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { KubeConfig, Watch, type V1Deployment } from '@kubernetes/client-node';
import {
  kubectl,
  pushImages,
  readStandInEnv,
  restrictedNamespace,
  type StandInEnv,
  SERVICES,
} from '../../scripts/stand-in.mjs';
import { deployCli, parseOutputs, runNode as runWith } from './run.js';

const NS = 'e2e-shop';
const HELM3 = resolve('.cache/tools/helm3/helm');
const HELM4 = resolve('.cache/tools/helm4/helm');

let env: StandInEnv;

/** The bundled entry point with the stand-in's AWS settings (never its admin kubeconfig). */
const runNode = (args: string[], extraEnv: Record<string, string> = {}) => runWith(env, args, extraEnv);

function releases(): Record<string, { revision: string; status: string }> {
  const list = JSON.parse(kubectl(env, ['get', 'secrets', '-n', NS, '-l', 'owner=helm', '-o', 'json'])) as {
    items: { metadata: { labels: Record<string, string> } }[];
  };
  const latest: Record<string, { revision: string; status: string }> = {};
  for (const s of list.items) {
    const { name, version, status } = s.metadata.labels as Record<string, string>;
    if (!latest[name!] || Number(version) > Number(latest[name!]!.revision)) {
      latest[name!] = { revision: version!, status: status! };
    }
  }
  return latest;
}

beforeAll(() => {
  const found = readStandInEnv(process.env.E2E_RUN_DIR);
  if (!found) throw new Error('the e2e stand-in is not running: run the e2e tests with `npm run test:e2e`');
  env = found;
  restrictedNamespace(env, NS);
});

describe('a first deploy through the bundled action', () => {
  const dir = mkdtempSync(join(tmpdir(), 'e2e-action-'));
  let result: { code: number; stdout: string; stderr: string };

  beforeAll(async () => {
    // The runner creates these files before a step runs.
    writeFileSync(join(dir, 'output'), '');
    writeFileSync(join(dir, 'summary.md'), '');
    await pushImages(env, SERVICES, 'release-1');
    result = await runNode([resolve('dist/index.js')], {
      'INPUT_CLUSTER-NAME': env.EKS_CLUSTER_NAME,
      'INPUT_AWS-REGION': env.AWS_REGION,
      INPUT_CONFIG: 'deploy.yaml',
      'INPUT_IMAGE-TAG': 'release-1',
      INPUT_NAMESPACE: NS,
      INPUT_ENVIRONMENT: 'production',
      INPUT_CONCURRENCY: '6',
      INPUT_TIMEOUT: '180',
      'INPUT_HELM-VERSION': '3.17.3',
      GITHUB_OUTPUT: join(dir, 'output'),
      GITHUB_STEP_SUMMARY: join(dir, 'summary.md'),
      RUNNER_TEMP: dir,
      HELM_BIN: HELM3,
    });
  });

  it('succeeds and reports every service with revision 1 and its digest', () => {
    expect({ code: result.code, stderr: result.code === 0 ? '' : result.stdout + result.stderr }).toEqual({
      code: 0,
      stderr: '',
    });
    const outputs = parseOutputs(join(dir, 'output'));
    expect(outputs.result).toBe('success');
    const services = JSON.parse(outputs.services!) as Record<
      string,
      { revision: number; digest: string; status: string }
    >;
    expect(Object.keys(services).sort()).toEqual([...SERVICES].sort());
    for (const s of Object.values(services)) {
      expect(s).toMatchObject({
        revision: 1,
        status: 'deployed',
        digest: expect.stringMatching(/^sha256:[0-9a-f]{64}$/),
      });
    }
    const summary = readFileSync(join(dir, 'summary.md'), 'utf8');
    for (const s of SERVICES) expect(summary).toMatch(new RegExp(`^\\| ${s} \\|.*deployed`, 'm'));
  });

  it('leaves six available Deployments of 3 ready pods over three zones, admitted as "restricted"', () => {
    const deployments = JSON.parse(kubectl(env, ['get', 'deploy', '-n', NS, '-o', 'json']))
      .items as V1Deployment[];
    expect(deployments.map((d) => d.metadata!.name).sort()).toEqual([...SERVICES].sort());
    const nodes = JSON.parse(kubectl(env, ['get', 'nodes', '-o', 'json'])).items as {
      metadata: { name: string; labels: Record<string, string> };
    }[];
    const zoneOf = new Map(
      nodes.map((n) => [n.metadata.name, n.metadata.labels['topology.kubernetes.io/zone']]),
    );
    for (const d of deployments) {
      expect(d.status).toMatchObject({ readyReplicas: 3, availableReplicas: 3, updatedReplicas: 3 });
      const image = d.spec!.template.spec!.containers[0]!.image!;
      expect(image).toMatch(new RegExp(`/${d.metadata!.name}@sha256:[0-9a-f]{64}$`));
      const pods = JSON.parse(
        kubectl(env, ['get', 'pods', '-n', NS, '-l', `app=${d.metadata!.name}`, '-o', 'json']),
      ).items as { spec: { nodeName: string }; status: { phase: string } }[];
      const zones = new Set(
        pods.filter((p) => p.status.phase === 'Running').map((p) => zoneOf.get(p.spec.nodeName)),
      );
      expect(zones.size).toBe(3);
    }
    expect(kubectl(env, ['get', 'ns', NS, '-o', 'jsonpath={.metadata.labels}'])).toContain(
      '"pod-security.kubernetes.io/enforce":"restricted"',
    );
  });

  it('creates six ClusterIP Services on port 3000, six HPAs and six PDBs', () => {
    const svcs = JSON.parse(kubectl(env, ['get', 'svc', '-n', NS, '-o', 'json'])).items as {
      metadata: { name: string };
      spec: { type: string; ports: { port: number }[] };
    }[];
    expect(svcs.map((s) => [s.metadata.name, s.spec.type, s.spec.ports[0]!.port]).sort()).toEqual(
      [...SERVICES].sort().map((s) => [s, 'ClusterIP', 3000]),
    );
    const hpas = JSON.parse(kubectl(env, ['get', 'hpa', '-n', NS, '-o', 'json'])).items as {
      spec: { minReplicas: number; maxReplicas: number };
    }[];
    expect(hpas).toHaveLength(6);
    for (const h of hpas) expect(h.spec).toMatchObject({ minReplicas: 3, maxReplicas: 20 });
    const pdbs = JSON.parse(kubectl(env, ['get', 'pdb', '-n', NS, '-o', 'json'])).items as {
      spec: { minAvailable: number };
    }[];
    expect(pdbs.map((p) => p.spec.minAvailable)).toEqual([2, 2, 2, 2, 2, 2]);
  });

  it('stores six NetworkPolicies, each selecting its 3 pods, open to the Istio gateway and api-gateway', () => {
    const policies = JSON.parse(kubectl(env, ['get', 'networkpolicy', '-n', NS, '-o', 'json'])).items as {
      metadata: { name: string };
      spec: {
        podSelector: { matchLabels: Record<string, string> };
        ingress: { from: { podSelector?: { matchLabels: Record<string, string> } }[]; ports: unknown[] }[];
      };
    }[];
    expect(policies.map((p) => p.metadata.name).sort()).toEqual([...SERVICES].sort());
    for (const p of policies) {
      const selector = Object.entries(p.spec.podSelector.matchLabels)
        .map(([k, v]) => `${k}=${v}`)
        .join(',');
      const pods = JSON.parse(kubectl(env, ['get', 'pods', '-n', NS, '-l', selector, '-o', 'json'])).items;
      expect([p.metadata.name, pods.length]).toEqual([p.metadata.name, 3]);
      const apps = p.spec.ingress[0]!.from.map((peer) => peer.podSelector?.matchLabels.app).filter(Boolean);
      expect([p.metadata.name, apps]).toEqual([
        p.metadata.name,
        p.metadata.name === 'api-gateway' ? [] : ['api-gateway'],
      ]);
      expect(p.spec.ingress[0]!.ports).toEqual([{ protocol: 'TCP', port: 3000 }]);
    }
  });

  it("bounds ephemeral storage and, deployed by digest, skips kube-score's pull-policy check with a reason", () => {
    const deployment = JSON.parse(kubectl(env, ['get', 'deploy', 'payment-service', '-n', NS, '-o', 'json']));
    expect(deployment.spec.template.spec.containers[0].resources).toMatchObject({
      requests: { 'ephemeral-storage': '128Mi' },
      limits: { 'ephemeral-storage': '256Mi' },
    });
    expect(deployment.metadata.annotations).toMatchObject({
      'kube-score/ignore': 'container-image-pull-policy',
      'ecommerce-deploy/kube-score-ignore-reason': expect.stringContaining('pinned by digest'),
    });
  });

  it('records who deployed what on each Deployment', () => {
    const annotations = JSON.parse(
      kubectl(env, ['get', 'deploy', 'order-service', '-n', NS, '-o', 'jsonpath={.metadata.annotations}']),
    );
    expect(annotations['ecommerce-deploy/image-tag']).toBe('release-1');
  });
});

describe('a second deploy through the CLI', () => {
  let result: { code: number; stdout: string; stderr: string };
  const minAvailable = new Map<string, number>();

  beforeAll(async () => {
    await pushImages(env, SERVICES, 'release-2');
    // Watch every Deployment for the whole upgrade: availability is observed, not sampled at the end.
    const kc = new KubeConfig();
    kc.loadFromFile(env.KUBECONFIG);
    const req = await new Watch(kc).watch(
      `/apis/apps/v1/namespaces/${NS}/deployments`,
      {},
      (_type: string, d: V1Deployment) => {
        const name = d.metadata!.name!;
        const available = d.status?.availableReplicas ?? 0;
        minAvailable.set(name, Math.min(minAvailable.get(name) ?? Infinity, available));
      },
      () => {},
    );
    result = await deployCli(env, {
      namespace: NS,
      tag: 'release-2',
      report: join(mkdtempSync(join(tmpdir(), 'e2e-cli-')), 'report.json'),
      extraArgs: ['--concurrency', '6', '--timeout', '180'],
      extraEnv: { HELM_BIN: HELM4 },
    });
    req.abort();
  });

  it('upgrades every release to revision 2 by the new digest', () => {
    expect(result.code).toBe(0);
    const rel = releases();
    for (const s of SERVICES) expect(rel[s]).toEqual({ revision: '2', status: 'deployed' });
    expect(result.stdout).toMatch(/^user-service +user-service@sha256:[0-9a-f]{12} +0\.1\.0 +2 +deployed/m);
  });

  it('never had fewer than 3 available replicas of any service', () => {
    expect([...minAvailable.keys()].sort()).toEqual([...SERVICES].sort());
    for (const [, min] of minAvailable) expect(min).toBeGreaterThanOrEqual(3);
  });
});

describe('a tag missing in ECR', () => {
  it('exits 2, lists the missing images and changes no release', async () => {
    const before = releases();
    const result = await deployCli(env, {
      namespace: NS,
      tag: 'never-pushed',
      report: join(mkdtempSync(join(tmpdir(), 'e2e-cli-')), 'report.json'),
    });
    expect(result.code).toBe(2);
    for (const s of SERVICES) expect(result.stderr + result.stdout).toContain(`${s}:never-pushed`);
    expect(releases()).toEqual(before);
  });
});
