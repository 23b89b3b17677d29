/**
 * The whole pipeline with the real helm binary rendering the real chart. Commands
 * that would touch a cluster (list, upgrade, rollback, uninstall) are answered by a
 * fake at the exec boundary and recorded, so each test can assert what would have
 * changed; AWS is mocked at the SDK client.
 */
import {
  appendFileSync,
  cpSync,
  mkdtempSync,
  writeFileSync,
  readFileSync,
  copyFileSync,
  existsSync,
  readdirSync,
  realpathSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  BatchGetImageCommand,
  DescribeRepositoriesCommand,
  ECRClient,
  GetAuthorizationTokenCommand,
} from '@aws-sdk/client-ecr';
import { DescribeClusterCommand, EKSClient, ResourceNotFoundException } from '@aws-sdk/client-eks';
import {
  GetOpenIDConnectProviderCommand,
  GetRoleCommand,
  IAMClient,
  ListOpenIDConnectProvidersCommand,
  NoSuchEntityException,
} from '@aws-sdk/client-iam';
import { mockClient } from 'aws-sdk-client-mock';
import { awsClients } from '../../src/aws/clients.js';
import { userValues } from '../../src/helm/values.js';
import { runPipeline } from '../../src/pipeline/index.js';
import type { KubeAccess, PipelineDeps } from '../../src/pipeline/context.js';
import { exitCodeOf } from '../../src/report/recorder.js';
import { readPlanFile } from '../../src/config/plan-file.js';
import type { RolloutOutcome, TrackRequest } from '../../src/kube/tracker.js';
import type { LiveService } from '../../src/kube/checklist-rules.js';
import { summaryText } from '../../src/report/summary.js';
import { inputError, preflightError } from '../../src/errors.js';
import { execRunner, type Runner, type RunResult } from '../../src/runner.js';
import { MemoryOutput } from '../memory-output.js';
import type { DeployRequest } from '../../src/model.js';
import { SERVICES as ALL_SERVICES } from '../../scripts/stand-in.mjs';

/** In deploy order: the gateway routes to the others, so its wave comes last. */
const SERVICES = [...ALL_SERVICES.filter((s) => s !== 'api-gateway'), 'api-gateway'];
const HELM = process.env.HELM_BIN ?? resolve('.cache/tools/helm4/helm');
const REGISTRY = '123456789012.dkr.ecr.us-east-1.amazonaws.com';
const ISSUER = 'https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE';
const ISSUER_HOST_PATH = ISSUER.slice('https://'.length);
const PROVIDER_ARN = `arn:aws:iam::123456789012:oidc-provider/${ISSUER_HOST_PATH}`;
const digestOf = (repo: string) => `sha256:${Buffer.from(repo).toString('hex').padEnd(64, '0').slice(0, 64)}`;

/** `helm list` answering that every service is deployed at `revision`. */
const listedAt = (revision: number) => ({
  stdout: JSON.stringify(
    SERVICES.map((name) => ({
      name,
      revision: String(revision),
      status: 'deployed',
      chart: 'ecommerce-service-0.1.0',
      app_version: '1.0.0',
      updated: '',
    })),
  ),
});

type ClusterAnswer = (args: string[]) => Partial<RunResult> | undefined;

/** Real helm for version/template; `cluster` answers everything that would reach a cluster. */
function runner(cluster: ClusterAnswer = () => undefined) {
  const calls: string[][] = [];
  /** Each release's revisions as helm would record them: listed ones, then one per upgrade. */
  const history = new Map<string, { revision: number; status: string; description: string }[]>();
  const run: Runner = async (command, args, options) => {
    calls.push(args);
    if (args[0] === 'version' || args[0] === 'template') return execRunner(command, args, options);
    const answer = cluster(args);
    if (args[0] === 'list') {
      const res = { exitCode: 0, stdout: '[]', stderr: '', ...answer };
      for (const r of JSON.parse(res.stdout) as { name: string; revision: string; status: string }[]) {
        history.set(r.name, [{ revision: Number(r.revision), status: r.status, description: 'listed' }]);
      }
      return res;
    }
    if (args[0] === 'history') {
      return { exitCode: 0, stdout: JSON.stringify(history.get(args[1]!) ?? []), stderr: '', ...answer };
    }
    if (args[0] === 'upgrade') {
      const release = args[2]!;
      const past = history.get(release) ?? [];
      const version = (past.at(-1)?.revision ?? 0) + 1;
      const res = {
        exitCode: 0,
        stdout: JSON.stringify({ name: release, version, info: { status: 'deployed' } }),
        stderr: '',
        ...answer,
      };
      // Like helm, a failed upgrade past validation still records a revision, marked failed
      // (with helm's own description); a refused one (another operation in progress) does not.
      if (!args.some((x) => x.startsWith('--dry-run')) && !/another operation/.test(res.stderr)) {
        const ok = res.exitCode === 0;
        const description = ok
          ? (args[args.indexOf('--description') + 1] ?? '')
          : `Upgrade "${release}" failed`;
        const revision = ok ? (JSON.parse(res.stdout) as { version: number }).version : version;
        history.set(release, [...past, { revision, status: ok ? 'deployed' : 'failed', description }]);
      }
      return res;
    }
    return { exitCode: 0, stdout: '', stderr: '', ...answer };
  };
  /** Calls that would change the cluster. */
  const changes = () =>
    calls.filter(
      (a) =>
        (a[0] === 'upgrade' && !a.some((x) => x.startsWith('--dry-run'))) ||
        ['rollback', 'uninstall'].includes(a[0]!),
    );
  return { run, calls, changes };
}

function ecrWith(present: (repo: string, tag: string) => boolean) {
  const ecr = new ECRClient({ region: 'us-east-1' });
  const mock = mockClient(ecr);
  mock.on(DescribeRepositoriesCommand).callsFake((input: { repositoryNames: string[] }) => ({
    repositories: input.repositoryNames.map((n) => ({
      repositoryName: n,
      repositoryUri: `${REGISTRY}/${n}`,
    })),
  }));
  mock
    .on(BatchGetImageCommand)
    .callsFake((input: { repositoryName: string; imageIds: { imageTag: string }[] }) => {
      const repo = input.repositoryName;
      const found = input.imageIds.filter((i) => present(repo, i.imageTag));
      return {
        images: found.map((i) => ({
          repositoryName: repo,
          imageId: { imageTag: i.imageTag, imageDigest: digestOf(repo) },
        })),
        failures: input.imageIds
          .filter((i) => !present(repo, i.imageTag))
          .map((i) => ({
            imageId: i,
            failureCode: 'ImageNotFound',
            failureReason: 'Requested image not found',
          })),
      };
    });
  return { ecr, mock };
}

function eksWith(status: 'ACTIVE' | 'CREATING' | 'missing') {
  const eks = new EKSClient({ region: 'us-east-1' });
  const mock = mockClient(eks);
  if (status === 'missing') {
    mock
      .on(DescribeClusterCommand)
      .rejects(new ResourceNotFoundException({ message: 'No cluster found for name: shop.', $metadata: {} }));
  } else {
    mock.on(DescribeClusterCommand).resolves({
      cluster: {
        name: 'shop',
        arn: 'arn:aws:eks:us-east-1:123456789012:cluster/shop',
        status,
        endpoint: 'https://127.0.0.1:6443',
        certificateAuthority: { data: Buffer.from('not a real CA').toString('base64') },
        version: '1.35',
        identity: { oidc: { issuer: ISSUER } },
      },
    });
  }
  return eks;
}

/** A role's trust as IAM stores it for IRSA; `sub` and `issuer` can be made wrong. */
function webIdentityTrust(service: string, over: { sub?: string; issuer?: string; op?: string } = {}) {
  const hp = (over.issuer ?? ISSUER).replace('https://', '');
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { Federated: `arn:aws:iam::123456789012:oidc-provider/${hp}` },
        Action: 'sts:AssumeRoleWithWebIdentity',
        Condition: {
          [over.op ?? 'StringEquals']: {
            [`${hp}:sub`]: over.sub ?? `system:serviceaccount:production:${service}`,
            [`${hp}:aud`]: 'sts.amazonaws.com',
          },
        },
      },
    ],
  };
}

interface IamState {
  /** Role name -> trust policy (as JSON); a missing name is a missing role. */
  roles: Map<string, object>;
  provider: boolean;
  denied?: boolean;
  /** Role names asked for (GetRole), in order. */
  asked?: string[];
}

/** IAM with the provider registered and every `<service>-role` trusting its ServiceAccount. */
function iamWith(change: (state: IamState) => void = () => {}) {
  const state: IamState = {
    roles: new Map(SERVICES.map((s) => [`${s}-role`, webIdentityTrust(s)])),
    provider: true,
  };
  change(state);
  const iam = new IAMClient({ region: 'us-east-1' });
  const mock = mockClient(iam);
  const denied = () =>
    Object.assign(new Error('User is not authorized to perform: iam:GetRole'), { name: 'AccessDenied' });
  mock.on(ListOpenIDConnectProvidersCommand).callsFake(() => {
    if (state.denied) throw denied();
    return { OpenIDConnectProviderList: state.provider ? [{ Arn: PROVIDER_ARN }] : [] };
  });
  mock.on(GetOpenIDConnectProviderCommand).callsFake((input: { OpenIDConnectProviderArn: string }) => {
    if (!state.provider || input.OpenIDConnectProviderArn !== PROVIDER_ARN)
      throw new NoSuchEntityException({ message: 'OpenIDConnect Provider not found', $metadata: {} });
    return { Url: ISSUER_HOST_PATH, ClientIDList: ['sts.amazonaws.com'] };
  });
  mock.on(GetRoleCommand).callsFake((input: { RoleName: string }) => {
    state.asked?.push(input.RoleName);
    if (state.denied) throw denied();
    const trust = state.roles.get(input.RoleName);
    if (!trust)
      throw new NoSuchEntityException({ message: `Role ${input.RoleName} not found`, $metadata: {} });
    // IAM returns the document URL-encoded.
    return {
      Role: {
        RoleName: input.RoleName,
        Arn: `arn:aws:iam::123456789012:role/${input.RoleName}`,
        Path: '/',
        RoleId: 'AROAEXAMPLE',
        CreateDate: new Date(),
        AssumeRolePolicyDocument: encodeURIComponent(JSON.stringify(trust)),
      },
    };
  });
  return { iam, mock };
}

const probe = (
  path: string,
  initialDelaySeconds: number,
  periodSeconds: number,
  failureThreshold: number,
) => ({
  httpGet: { path, port: 'http', scheme: 'HTTP' },
  initialDelaySeconds,
  periodSeconds,
  timeoutSeconds: 1,
  successThreshold: 1,
  failureThreshold,
});

/** A service as the API server shows it after a good deploy of the production values at `digestOf(service)`. */
function healthy(service: string, change: (s: LiveService) => void = () => {}): LiveService {
  const image = `${REGISTRY}/${service}@${digestOf(service)}`;
  const pod = (i: number) => ({
    metadata: { name: `${service}-abc-${i}` },
    spec: { containers: [{ name: service, image }] },
    status: {
      phase: 'Running',
      containerStatuses: [{ name: service, ready: true, restartCount: 0, image, imageID: '' }],
    },
  });
  const state: LiveService = {
    deployment: {
      metadata: { name: service, generation: 2 },
      spec: {
        replicas: 3,
        selector: {},
        template: {
          spec: {
            containers: [
              {
                name: service,
                image,
                startupProbe: probe('/health/live', 0, 5, 30),
                livenessProbe: probe('/health/live', 10, 15, 3),
                readinessProbe: probe('/health/ready', 5, 10, 3),
              },
            ],
          },
        },
      },
      status: {
        observedGeneration: 2,
        replicas: 3,
        availableReplicas: 3,
        updatedReplicas: 3,
        conditions: [{ type: 'Available', status: 'True' }],
      },
    },
    pods: [pod(1), pod(2), pod(3)] as LiveService['pods'],
    service: { spec: { type: 'ClusterIP', ports: [{ port: 3000 }] } },
    endpointSlices: [
      {
        addressType: 'IPv4',
        endpoints: [1, 2, 3].map((i) => ({ addresses: [`10.0.0.${i}`], conditions: { ready: true } })),
      },
    ],
    unhealthyEvents: [],
  };
  change(state);
  return state;
}

/** The Kubernetes API side: every rollout ready unless `failing` names the service. */
function fakeKube(
  failing: Record<string, Partial<RolloutOutcome>> = {},
  live: Record<string, LiveService> = {},
) {
  const tracked: TrackRequest[] = [];
  const locks: string[] = [];
  const scaled: string[] = [];
  const watches: string[] = [];
  const kube: KubeAccess = {
    scaler: () => async (req) => {
      scaled.push(`${req.deployment} to ${req.min}`);
      return `scaled from 1 to ${req.min}`;
    },
    lock: async (_kubeconfig, opts) => {
      locks.push(`take ${opts.namespace} as ${opts.holder}`);
      return { release: async () => void locks.push(`release ${opts.namespace}`) };
    },
    tracker: async () => {
      watches.push(locks.length ? 'started after the lease' : 'started before the lease');
      return {
        track: async (req) => {
          tracked.push(req);
          const f = failing[req.service];
          return f
            ? { service: req.service, verdict: 'failed', reason: 'Timeout', message: 'failed', ...f }
            : {
                service: req.service,
                verdict: 'ready',
                reason: 'Ready',
                message: '3/3 ready',
                timeToReadyMs: 1500,
              };
        },
        stop: async () => void watches.push('stopped'),
      };
    },
    verifier: () => async (req) => ({
      service: req.service,
      hpa: { verdict: 'ok', message: 'min 3, max 20' },
      pdb: { verdict: 'ok', message: '1 disruption allowed' },
      spread: { verdict: 'ok', message: '3 zones' },
    }),
    live: () => async (_namespace, service) => live[service] ?? healthy(service),
  };
  return { kube, tracked, locks, scaled, watches };
}

function setup(
  opts: {
    failing?: Record<string, Partial<RolloutOutcome>>;
    cluster?: ClusterAnswer;
    present?: (repo: string, tag: string) => boolean;
    eks?: 'ACTIVE' | 'CREATING' | 'missing';
    iam?: (state: IamState) => void;
    live?: Record<string, LiveService>;
  } = {},
) {
  const r = runner(opts.cluster);
  const { iam } = iamWith(opts.iam);
  const { ecr } = ecrWith(opts.present ?? (() => true));
  const eks = eksWith(opts.eks ?? 'ACTIVE');
  const out = new MemoryOutput();
  const k = fakeKube(opts.failing, opts.live);
  const deps: PipelineDeps = {
    kube: k.kube,
    out,
    run: r.run,
    awsClients: () => ({ ecr, eks, iam }),
    tokenCommand: { command: process.execPath, args: ['dist/cli.js', 'token'] },
    tempDir: tmpdir(),
    pathEnv: '',
  };
  return { deps, out, tracked: k.tracked, locks: k.locks, scaled: k.scaled, watches: k.watches, ...r };
}

const request = (over: Partial<DeployRequest> = {}): DeployRequest => ({
  mode: 'deploy',
  configPath: 'deploy.yaml',
  services: [],
  imageTag: 'abc123',
  environment: 'production',
  cluster: { name: 'shop', region: 'us-east-1' },
  timeoutSeconds: 120,
  concurrency: 3,
  helmBinary: HELM,
  skipImageCheck: false,
  rollback: 'failed',
  rollbackTimeoutSeconds: 60,
  keepFailedInstall: false,
  strict: false,
  // Deploy files these tests write to temp dirs name the chart and values of this repository.
  fileRoots: { allowed: [realpathSync('.')] },
  trace: {
    commitSha: '0123456789abcdef',
    actor: 'octocat',
    runUrl: 'https://github.com/org/repo/actions/runs/1',
  },
  ...over,
});

describe('a deploy of the six services', () => {
  it('checks images, renders every service, then upgrades each by digest in dependsOn order', async () => {
    const t = setup();
    const report = await runPipeline(request(), t.deps);
    expect(exitCodeOf(report)).toBe(0);
    expect(report.result).toBe('success');
    expect(report.services.map((s) => [s.service, s.status, s.revision])).toEqual(
      SERVICES.map((s) => [s, 'deployed', 1]),
    );

    const upgrades = t.changes();
    expect(upgrades.map((a) => a[2])).toEqual(expect.arrayContaining(SERVICES));
    expect(upgrades.at(-1)![2]).toBe('api-gateway'); // its own wave, after what it routes to
    const user = upgrades.find((a) => a[2] === 'user-service')!;
    expect(user.slice(0, 4)).toEqual([
      'upgrade',
      '--install',
      'user-service',
      resolve('charts/ecommerce-service'),
    ]);
    expect(user).toEqual(expect.arrayContaining(['--namespace', 'production']));
    expect(user).not.toContain('--create-namespace');
    const files = user.flatMap((a, i) => (user[i - 1] === '-f' || user[i - 1] === '--values' ? [a] : []));
    expect(files.slice(0, 2)).toEqual([
      resolve('charts/ecommerce-service/values/production.yaml'),
      resolve('charts/ecommerce-service/values/services/user-service.yaml'),
    ]);
    expect(user.join(' ')).toContain(`image.repository=${REGISTRY}/user-service`);
    expect(user.join(' ')).toContain(`image.digest=${digestOf('user-service')}`);
    expect(user.join(' ')).toContain('commit 0123456789abcdef');
    // What was rendered is what the services run: every release rendered first.
    const firstUpgrade = t.calls.findIndex((a) => a[0] === 'upgrade');
    expect(t.calls.slice(0, firstUpgrade).filter((a) => a[0] === 'template')).toHaveLength(6);
  });

  /** deploy.yaml with the gateway depending on user-service alone, so the scheduling shows. */
  function gatewayAfterUserService(): string {
    const dir = mkdtempSync(join(tmpdir(), 'deps-deploy-'));
    const text = readFileSync('deploy.yaml', 'utf8')
      .replace('chart: charts/ecommerce-service', `chart: ${resolve('charts/ecommerce-service')}`)
      .replaceAll('charts/ecommerce-service/values/', `${resolve('charts/ecommerce-service/values')}/`)
      .replace(/dependsOn: \[.*\]/, 'dependsOn: [user-service]');
    writeFileSync(join(dir, 'deploy.yaml'), text);
    return join(dir, 'deploy.yaml');
  }

  /** The fake API side with `hook` run before each rollout is tracked. */
  const beforeTrack = (base: KubeAccess, hook: (req: TrackRequest) => unknown): KubeAccess => ({
    ...base,
    tracker: async (...args) => {
      const tracker = await base.tracker(...args);
      return { ...tracker, track: async (req) => (await hook(req), tracker.track(req)) };
    },
  });

  /** Resolves when `gate` opens, or after 3 s (then the order the test asserts shows the wait). */
  const until = (gate: Promise<void>) => Promise.race([gate, new Promise<void>((r) => setTimeout(r, 3000))]);

  it('starts a service once what it depends on is ready, not when the slowest of its wave is', async () => {
    const t = setup();
    const base = t.deps.kube!;
    const events: string[] = [];
    let gatewayTracked!: () => void;
    const gate = new Promise<void>((r) => (gatewayTracked = r));
    t.deps.kube = beforeTrack(base, async (req) => {
      if (req.service === 'api-gateway') gatewayTracked();
      // notification-service is slow: ready only once the gateway started (or after 3 s).
      if (req.service === 'notification-service') await until(gate);
      events.push(`${req.service} ready`);
    });
    const report = await runPipeline(
      request({ configPath: gatewayAfterUserService(), concurrency: 6 }),
      t.deps,
    );
    expect(report.result).toBe('success');
    const upgradeOfGateway = t.changes().findIndex((a) => a[2] === 'api-gateway');
    expect(upgradeOfGateway).toBeGreaterThan(-1);
    expect(events.indexOf('api-gateway ready')).toBeLessThan(events.indexOf('notification-service ready'));
    expect(events.indexOf('user-service ready')).toBeLessThan(events.indexOf('api-gateway ready'));
  });

  it('holds no release slot while a ready service is being verified', async () => {
    const t = setup();
    const base = t.deps.kube!;
    const order: string[] = [];
    let gatewayTracked!: () => void;
    const gate = new Promise<void>((r) => (gatewayTracked = r));
    t.deps.kube = {
      ...beforeTrack(base, (req) => {
        if (req.service === 'api-gateway') gatewayTracked();
        order.push(`track ${req.service}`);
      }),
      verifier: (kc) => async (req) => {
        // user-service's HPA check waits (like an HPA's first metrics) until the gateway started.
        if (req.service === 'user-service') await until(gate);
        order.push(`verified ${req.service}`);
        return base.verifier(kc)(req);
      },
    };
    const report = await runPipeline(
      request({
        configPath: gatewayAfterUserService(),
        concurrency: 1,
        services: ['user-service', 'api-gateway'],
      }),
      t.deps,
    );
    expect(report.result).toBe('success');
    // With one slot, the gateway could only start before user-service's checks ended if they hold none.
    expect(order.indexOf('track api-gateway')).toBeLessThan(order.indexOf('verified user-service'));
    // The run still waits for every check: both are in the report.
    expect(report.services.map((s) => [s.service, s.verification?.hpa.verdict])).toEqual([
      ['user-service', 'ok'],
      ['api-gateway', 'ok'],
    ]);
  });

  it("gives each released service's HPA check what the run's HPA watch saw since its release was applied", async () => {
    const t = setup();
    const base = t.deps.kube!;
    const asked: { name: string; since: number; upgradeStart: number; tracked: number }[] = [];
    const tracked = new Map<string, { upgradeStart: number; at: number }>();
    t.deps.kube = {
      ...base,
      tracker: async (...args) => {
        const tracker = await base.tracker(...args);
        return {
          ...tracker,
          track: async (req) => {
            tracked.set(req.service, { upgradeStart: req.since.getTime(), at: Date.now() });
            return tracker.track(req);
          },
          hpaSeenActive: (name, since) => {
            const t0 = tracked.get(name)!;
            asked.push({ name, since, upgradeStart: t0.upgradeStart, tracked: t0.at });
            return undefined;
          },
        };
      },
      verifier: (kc) => async (req) => {
        expect(req.seenActive?.()).toBeUndefined();
        return base.verifier(kc)(req);
      },
    };
    const report = await runPipeline(request({ services: ['order-service', 'user-service'] }), t.deps);
    expect(report.result).toBe('success');
    expect(asked.map((a) => a.name).sort()).toEqual(['order-service', 'user-service']);
    // Asked about the time after helm applied the release (after its upgrade started, before its rollout was tracked).
    for (const a of asked) {
      expect(a.since).toBeGreaterThanOrEqual(a.upgradeStart);
      expect(a.since).toBeLessThanOrEqual(a.tracked);
    }
  });

  it('after a failure, starts nothing new and says why each was skipped', async () => {
    const t = setup({ failing: { 'user-service': {} } });
    const report = await runPipeline(
      request({
        configPath: gatewayAfterUserService(),
        concurrency: 1,
        services: ['user-service', 'order-service', 'api-gateway'],
      }),
      t.deps,
    );
    expect(report.result).toBe('failure');
    expect(
      t
        .changes()
        .filter((a) => a[0] === 'upgrade')
        .map((a) => a[2]),
    ).toEqual(['user-service']);
    const reasons = Object.fromEntries(report.services.map((s) => [s.service, [s.status, s.reason]]));
    expect(reasons['order-service']).toEqual(['skipped', 'user-service failed']);
    expect(reasons['api-gateway']).toEqual([
      'skipped',
      'it depends on user-service, which did not become ready',
    ]);
  });

  it("raises a first install to its HPA's minimum at once; an upgrade's replicas are the HPA's alone", async () => {
    const first = setup();
    await runPipeline(request(), first.deps);
    expect(first.scaled.sort()).toEqual(SERVICES.map((s) => `${s} to 3`).sort());
    expect(first.tracked.every((t) => t.minReplicas === 3)).toBe(true);
    expect(first.out.text()).toContain('user-service: scaled from 1 to 3');

    const upgrade = setup({ cluster: (args) => (args[0] === 'list' ? listedAt(4) : undefined) });
    await runPipeline(request(), upgrade.deps);
    expect(upgrade.scaled).toEqual([]);
  });

  it("reads each live release from helm's storage, not with two `helm get` processes per service", async () => {
    const t = setup({ cluster: (args) => (args[0] === 'list' ? listedAt(4) : undefined) });
    const read: string[] = [];
    t.deps.kube = {
      ...t.deps.kube!,
      storedRelease: () => async (namespace, release, revision) => {
        read.push(`${namespace}/${release} v${revision}`);
        return { manifest: '', values: {} };
      },
    };
    await runPipeline(request(), t.deps);
    expect(read.sort()).toEqual(SERVICES.map((s) => `production/${s} v4`).sort());
    expect(t.calls.filter((a) => a[0] === 'get')).toEqual([]);

    // Where helm's storage cannot be read (another driver, no access), helm is asked.
    const fallback = setup({ cluster: (args) => (args[0] === 'list' ? listedAt(4) : undefined) });
    fallback.deps.kube = { ...fallback.deps.kube!, storedRelease: () => async () => undefined };
    await runPipeline(request(), fallback.deps);
    expect(fallback.calls.filter((a) => a[0] === 'get').map((a) => `${a[1]} ${a[2]}`)).toHaveLength(12);
  });

  it("lists the releases from helm's storage in one request: no `helm list`, and the diff reads no revision again", async () => {
    const t = setup();
    const listedNs: string[] = [];
    const read: string[] = [];
    t.deps.kube = {
      ...t.deps.kube!,
      releases: () => async (namespace) => {
        listedNs.push(namespace);
        return new Map(
          SERVICES.map((s) => [
            s,
            {
              info: {
                status: 'deployed',
                revision: 4,
                chart: 'ecommerce-service-0.1.0',
                appVersion: '',
                updated: '',
              },
              stored: { manifest: '', values: {} },
            },
          ]),
        );
      },
      storedRelease: () => async (namespace, release, revision) => {
        read.push(`${namespace}/${release} v${revision}`);
        return undefined;
      },
    };
    const report = await runPipeline(request(), t.deps);
    expect(exitCodeOf(report)).toBe(0);
    expect(listedNs).toEqual(['production']);
    expect(t.calls.filter((a) => a[0] === 'list' || a[0] === 'get')).toEqual([]);
    expect(read).toEqual([]);
    // Upgrades from the listed revision: each service's diff says so.
    expect(t.out.text()).toContain('order-service: changes 7 objects (live revision 4)');

    // Where the storage cannot be listed so (another driver, no access), helm lists them.
    const fallback = setup({ cluster: (args) => (args[0] === 'list' ? listedAt(4) : undefined) });
    fallback.deps.kube = { ...fallback.deps.kube!, releases: () => async () => undefined };
    await runPipeline(request(), fallback.deps);
    expect(fallback.calls.filter((a) => a[0] === 'list')).toHaveLength(1);
  });

  it('still checks the HPA, PDB and spread of a service it leaves alone; a failed check there only warns', async () => {
    const t = setup({ cluster: (args) => (args[0] === 'list' ? listedAt(4) : undefined) });
    // The live releases are exactly what this run renders: every service is unchanged.
    const rendered = new Map<string, { manifest: string; args: string[] }>();
    const run = t.deps.run;
    t.deps.run = (async (command, args, options) => {
      const res = await run(command, args, options);
      if (args[0] === 'template') rendered.set(args[1]!, { manifest: res.stdout, args });
      return res;
    }) as Runner;
    const verified: string[] = [];
    t.deps.kube = {
      ...t.deps.kube!,
      storedRelease: () => async (_namespace, release) => {
        const { manifest, args } = rendered.get(release)!;
        const files = args.flatMap((a, i) => (args[i - 1] === '-f' ? [a] : []));
        const sets = Object.fromEntries(
          args.flatMap((a, i) =>
            ['--set', '--set-literal'].includes(args[i - 1]!)
              ? [[a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)]]
              : [],
          ),
        );
        return { manifest, values: await userValues(files, sets) };
      },
      verifier: () => async (req) => {
        verified.push(req.service);
        const pdb =
          req.service === 'order-service'
            ? { verdict: 'error' as const, message: 'PodDisruptionBudget order-service not found' }
            : { verdict: 'ok' as const, message: '1 disruption allowed' };
        return {
          service: req.service,
          hpa: { verdict: 'ok', message: 'ok' },
          pdb,
          spread: { verdict: 'ok', message: 'ok' },
        };
      },
    };
    const report = await runPipeline(request(), t.deps);
    expect(report.services.map((s) => s.status)).toEqual(SERVICES.map(() => 'unchanged'));
    expect(t.changes()).toEqual([]);
    expect(verified.sort()).toEqual([...SERVICES].sort());
    expect(report.result).toBe('success');
    expect(report.services.find((s) => s.service === 'order-service')!.verification!.pdb.verdict).toBe(
      'error',
    );
    expect(t.out.text()).toMatch(
      /order-service: PDB: PodDisruptionBudget \S+ not found \(unchanged by this run, so not rolled back\)/,
    );
  });

  it('writes the trace annotations into the values the release gets', async () => {
    const t = setup();
    let seen = '';
    t.deps.run = (async (command, args, options) => {
      if (args[0] === 'template' && args[1] === 'order-service') {
        const f = args[args.lastIndexOf('-f') + 1] ?? args[args.lastIndexOf('--values') + 1]!;
        seen = readFileSync(f, 'utf8');
      }
      return runner().run(command, args, options);
    }) as Runner;
    await runPipeline(request({ mode: 'plan', cluster: undefined, skipImageCheck: true }), t.deps);
    expect(seen).toContain('ecommerce-deploy/commit: 0123456789abcdef');
    expect(seen).toContain('ecommerce-deploy/actor: octocat');
  });

  it('rolls back a failed service to its previous revision and exits 1', async () => {
    const t = setup({
      cluster: (args) => {
        if (args[0] === 'list') return listedAt(4);
        if (args[0] === 'upgrade' && args[2] === 'payment-service')
          return { exitCode: 1, stderr: 'Error: UPGRADE FAILED: context deadline exceeded' };
        if (args[0] === 'upgrade')
          return { stdout: JSON.stringify({ name: args[2], version: 5, info: { status: 'deployed' } }) };
        return undefined;
      },
    });
    const report = await runPipeline(request(), t.deps);
    expect(exitCodeOf(report)).toBe(1);
    const payment = report.services.find((s) => s.service === 'payment-service')!;
    expect(payment).toMatchObject({ status: 'rolled-back', rolledBackTo: 4 });
    expect(payment.message).toContain('context deadline exceeded');
    expect(t.calls.find((a) => a[0] === 'rollback')!.slice(0, 3)).toEqual([
      'rollback',
      'payment-service',
      '4',
    ]);
    // The gateway waits for its wave, which never comes.
    expect(report.services.find((s) => s.service === 'api-gateway')!.status).toBe('skipped');
  });

  it('with rollback "all", puts every released service back', async () => {
    const t = setup({
      cluster: (args) => {
        if (args[0] === 'list') return listedAt(2);
        if (args[0] === 'upgrade' && args[2] === 'order-service')
          return { exitCode: 1, stderr: 'Error: boom' };
        return undefined;
      },
    });
    // Concurrency 6: the five the gateway depends on all start before order-service fails.
    const report = await runPipeline(request({ rollback: 'all', concurrency: 6 }), t.deps);
    const rolled = t.calls
      .filter((a) => a[0] === 'rollback')
      .map((a) => a[1])
      .sort();
    expect(rolled).toEqual([
      'notification-service',
      'order-service',
      'payment-service',
      'product-service',
      'user-service',
    ]);
    expect(report.services.filter((s) => s.status === 'rolled-back')).toHaveLength(5);
  });

  it('leaves a release another deploy moved on since, and says so', async () => {
    let moved = false;
    const t = setup({
      cluster: (args) => {
        if (args[0] === 'list') return listedAt(4);
        if (args[0] === 'upgrade' && args[2] === 'payment-service')
          return { exitCode: 1, stderr: 'Error: UPGRADE FAILED: context deadline exceeded' };
        // Meanwhile someone else deployed payment-service: its history now ends at 6.
        if (args[0] === 'history' && args[1] === 'payment-service' && !moved) {
          moved = true;
          const rows = [4, 5, 6].map((revision) => ({
            revision,
            status: revision === 6 ? 'deployed' : 'superseded',
            description: 'other run',
          }));
          return { stdout: JSON.stringify(rows) };
        }
        return undefined;
      },
    });
    const report = await runPipeline(request(), t.deps);
    expect(exitCodeOf(report)).toBe(1);
    expect(t.calls.filter((a) => a[0] === 'rollback')).toEqual([]);
    expect(report.services.find((s) => s.service === 'payment-service')!.status).toBe('failed');
    expect(report.warnings).toContainEqual(
      expect.stringMatching(
        /payment-service: not rolled back: it is at revision 6 \(deployed\).*another deploy changed it/,
      ),
    );
  });

  it('treats "another operation is in progress" as a conflict, never rolled back', async () => {
    const t = setup({
      cluster: (args) => {
        if (args[0] === 'list') return listedAt(4);
        if (args[0] === 'upgrade' && args[2] === 'order-service')
          return {
            exitCode: 1,
            stderr: 'Error: UPGRADE FAILED: another operation (install/upgrade/rollback) is in progress',
          };
        return undefined;
      },
    });
    const report = await runPipeline(request({ rollback: 'all' }), t.deps);
    expect(exitCodeOf(report)).toBe(1);
    expect(report.services.find((s) => s.service === 'order-service')).toMatchObject({
      status: 'failed',
      reason: 'Conflict',
    });
    const rolled = t.calls.filter((a) => a[0] === 'rollback').map((a) => a[1]);
    expect(rolled).not.toContain('order-service');
    expect(rolled.length).toBeGreaterThan(0);
  });
});

describe('rollouts judged by the tracker', () => {
  const deployedBefore = (args: string[]) =>
    args[0] === 'list'
      ? listedAt(3)
      : args[0] === 'upgrade'
        ? { stdout: JSON.stringify({ name: args[2], version: 4, info: { status: 'deployed' } }) }
        : undefined;

  it('applies each release without helm --wait and asks the tracker, with the HPA minimum', async () => {
    const t = setup();
    const report = await runPipeline(request(), t.deps);
    expect(report.result).toBe('success');
    for (const a of t.changes()) expect(a.some((x) => x.startsWith('--wait'))).toBe(false);
    expect(t.tracked.map((r) => [r.service, r.deployment, r.minReplicas, r.timeoutSeconds]).sort()).toEqual(
      SERVICES.map((s) => [s, s, 3, 120]).sort(),
    );
    expect(report.services[0]).toMatchObject({
      timeToReadyMs: 1500,
      verification: { hpa: { verdict: 'ok' }, pdb: { verdict: 'ok' }, spread: { verdict: 'ok' } },
    });
  });

  it("skips helm's client-side OpenAPI check on a 1.27+ cluster, and shows what the API server warned about", async () => {
    const t = setup({
      cluster: (args) =>
        args[0] === 'upgrade' && args[2] === 'order-service'
          ? { stderr: 'W1202 07:15:02.207250    9303 warnings.go:70] unknown field "spec.replicaz"\n' }
          : undefined,
    });
    const report = await runPipeline(request(), t.deps);
    expect(report.result).toBe('success');
    for (const a of t.changes()) expect(a).toContain('--disable-openapi-validation'); // EKS says 1.35
    expect(report.warnings).toContain(
      'order-service: the API server warned while helm applied the release: unknown field "spec.replicaz" (the field was dropped: a misspelt key in the values or the chart?)',
    );

    // Through a kubeconfig the API server's /version decides; where it does not answer, helm keeps its check.
    const kubeconfig = join(mkdtempSync(join(tmpdir(), 'kc-')), 'config');
    writeFileSync(kubeconfig, 'apiVersion: v1\nkind: Config\nclusters: []\n');
    for (const [version, skipped] of [
      ['v1.31.2', true],
      [undefined, false],
    ] as const) {
      const plain = setup();
      plain.deps.kube = { ...plain.deps.kube!, serverVersion: async () => version };
      const run = await runPipeline(
        request({ cluster: undefined, region: 'us-east-1', kubeconfig }),
        plain.deps,
      );
      expect(run.result).toBe('success');
      expect(plain.changes()).toHaveLength(SERVICES.length);
      for (const a of plain.changes()) expect(a.includes('--disable-openapi-validation')).toBe(skipped);
    }
  });

  it('reports why a rollout failed and puts that service back on its previous revision', async () => {
    const diagnostics = {
      pod: 'order-service-7d9-x1',
      container: 'order-service',
      reason: 'ImagePullBackOff',
      message: 'Back-off pulling image',
      events: [{ type: 'Warning', reason: 'Failed', message: 'Failed to pull image', count: 2 }],
    };
    const t = setup({
      cluster: deployedBefore,
      failing: {
        'order-service': {
          reason: 'ImagePullBackOff',
          message: 'pod order-service-7d9-x1 cannot pull',
          diagnostics,
        },
      },
    });
    const report = await runPipeline(request({ rollbackTimeoutSeconds: 45 }), t.deps);
    expect(exitCodeOf(report)).toBe(1);
    const order = report.services.find((s) => s.service === 'order-service')!;
    expect(order).toMatchObject({
      status: 'rolled-back',
      reason: 'ImagePullBackOff',
      rolledBackTo: 3,
      diagnostics,
    });
    const rollback = t.calls.find((a) => a[0] === 'rollback')!;
    expect(rollback.slice(0, 3)).toEqual(['rollback', 'order-service', '3']);
    expect(rollback).toContain('45s');
    expect(t.out.text()).toContain('Failed to pull image');
    expect(report.services.find((s) => s.service === 'user-service')!.status).toBe('deployed');
  });

  it('uninstalls a failed first install unless told to keep it', async () => {
    const failing = { 'user-service': { reason: 'CrashLoopBackOff' as const } };
    const removed = setup({ failing });
    await runPipeline(request({ services: ['user-service'] }), removed.deps);
    expect(removed.calls.filter((a) => a[0] === 'uninstall').map((a) => a[1])).toEqual(['user-service']);

    const kept = setup({ failing });
    const report = await runPipeline(
      request({ services: ['user-service'], keepFailedInstall: true }),
      kept.deps,
    );
    expect(kept.calls.filter((a) => a[0] === 'uninstall')).toEqual([]);
    expect(report.services[0]!.status).toBe('failed');
  });
});

describe('bad input stops with exit 2 before anything changes', () => {
  async function expectRefused(
    req: Partial<DeployRequest>,
    opts: Parameters<typeof setup>[0],
    message: string | RegExp,
  ) {
    const t = setup(opts);
    const report = await runPipeline(request(req), t.deps);
    expect(exitCodeOf(report)).toBe(2);
    expect(report.error!.message).toMatch(message);
    expect(t.changes()).toEqual([]);
    expect(t.out.text()).toMatch(message);
    return report;
  }

  it('an unknown service name', () =>
    expectRefused({ services: ['basket-service'] }, {}, /unknown service: basket-service/));

  it('a service name that is not a DNS-1123 label', () =>
    expectRefused({ services: ['Payment_Service'] }, {}, /not a valid service name: "Payment_Service"/));

  it('a missing values file, naming the deploy file and key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bad-deploy-'));
    const text = readFileSync('deploy.yaml', 'utf8')
      .replace('chart: charts/ecommerce-service', `chart: ${resolve('charts/ecommerce-service')}`)
      .replaceAll('charts/ecommerce-service/values/', `${resolve('charts/ecommerce-service/values')}/`)
      .replace('services/order-service.yaml', 'services/order.yaml');
    writeFileSync(join(dir, 'deploy.yaml'), text);
    const report = await expectRefused(
      { configPath: join(dir, 'deploy.yaml') },
      {},
      /values file not found: .*order\.yaml/,
    );
    expect(report.error!.message).toContain('key services.order-service.valuesFiles[0]');
  });

  it('malformed YAML, with the line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bad-deploy-'));
    writeFileSync(join(dir, 'deploy.yaml'), 'services:\n  a: {valuesFiles: [x.yaml}\n');
    await expectRefused({ configPath: join(dir, 'deploy.yaml') }, {}, /not valid YAML[\s\S]*deploy\.yaml:2/);
  });

  it('a values file the chart rejects, naming the service and key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bad-values-'));
    copyFileSync('deploy.yaml', join(dir, 'deploy.yaml'));
    const text = readFileSync('deploy.yaml', 'utf8')
      .replace('chart: charts/ecommerce-service', `chart: ${resolve('charts/ecommerce-service')}`)
      .replaceAll('charts/ecommerce-service/values/', `${resolve('charts/ecommerce-service/values')}/`)
      .replace('  payment-service:\n', '  payment-service:\n    values: { replicaCont: 3 }\n');
    writeFileSync(join(dir, 'deploy.yaml'), text);
    await expectRefused(
      { configPath: join(dir, 'deploy.yaml') },
      {},
      /payment-service: the chart does not render[\s\S]*replicaCont/,
    );
  });

  it('image tags missing in ECR, listing every one', async () => {
    const report = await expectRefused(
      { imageTag: 'v2' },
      { present: (repo) => !['order-service', 'api-gateway'].includes(repo) },
      /order-service:v2/,
    );
    expect(report.error!.message).toContain('api-gateway:v2');
    expect(report.error!.message).not.toContain('user-service:v2');
  });

  it('missing images while the cluster was looked up: the ECR error is reported, no kubeconfig is left', async () => {
    const tempDir = mkdtempSync(join(tmpdir(), 'preflight-connect-'));
    const t = setup({ present: (repo) => repo !== 'order-service' });
    const report = await runPipeline(request({ imageTag: 'v2' }), { ...t.deps, tempDir });
    expect(exitCodeOf(report)).toBe(2);
    expect(report.error!.message).toContain('order-service:v2');
    expect(t.changes()).toEqual([]);
    expect(readdirSync(tempDir)).toEqual([]);
  });

  it('a cluster that does not exist', () =>
    expectRefused({}, { eks: 'missing' }, /EKS cluster shop not found in us-east-1/));

  it('a cluster that is not ACTIVE', () => expectRefused({}, { eks: 'CREATING' }, /CREATING/));

  it('no AWS credentials', async () => {
    const saved = { ...process.env };
    for (const k of Object.keys(process.env)) if (k.startsWith('AWS_')) delete process.env[k];
    Object.assign(process.env, {
      AWS_CONFIG_FILE: '/nonexistent/config',
      AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/credentials',
      AWS_EC2_METADATA_DISABLED: 'true',
    });
    try {
      const t = setup();
      const report = await runPipeline(request(), { ...t.deps, awsClients });
      expect(exitCodeOf(report)).toBe(2);
      expect(report.error!.message).toMatch(/credentials/i);
      expect(t.changes()).toEqual([]);
    } finally {
      process.env = saved;
    }
  });

  it('no permission to watch the rollouts', async () => {
    const t = setup();
    t.deps.kube = {
      ...t.deps.kube!,
      tracker: async () => {
        throw preflightError('cannot watch Deployments in namespace production: forbidden', {
          hint: 'the deploy identity needs get, list and watch on deployments',
        });
      },
    };
    const report = await runPipeline(request(), t.deps);
    expect(exitCodeOf(report)).toBe(2);
    expect(report.error!.message).toContain('cannot watch Deployments');
    expect(t.changes()).toEqual([]);
  });

  it('helm missing', () => expectRefused({ helmBinary: undefined }, {}, /helm not found/));

  it('helm older than 3.13', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'old-helm-'));
    const fake = join(dir, 'helm');
    writeFileSync(fake, '#!/bin/sh\necho v3.12.3\n', { mode: 0o755 });
    const t = setup();
    const report = await runPipeline(request({ helmBinary: fake }), { ...t.deps, run: execRunner });
    expect(exitCodeOf(report)).toBe(2);
    expect(report.error!.message).toMatch(/3\.12\.3[\s\S]*3\.13/);
  });
});

describe('IRSA: every service account can assume its IAM role, or nothing changes', () => {
  async function refused(iam: (state: IamState) => void, message: RegExp) {
    const t = setup({ iam });
    const report = await runPipeline(request(), t.deps);
    expect(exitCodeOf(report)).toBe(2);
    expect(report.error!.message).toMatch(message);
    expect(t.changes()).toEqual([]);
    expect(t.locks).toEqual([]); // stopped before the lease too
    // The watches had started while the run rendered (they only read); they are stopped.
    expect(t.watches).toEqual(['started before the lease', 'stopped']);
    return report.error!.message;
  }

  it('passes when each role trusts its ServiceAccount through the cluster provider', async () => {
    const t = setup();
    const report = await runPipeline(request(), t.deps);
    expect(exitCodeOf(report)).toBe(0);
    expect(t.out.text()).toContain(
      'order-service: IRSA: ServiceAccount order-service can assume arn:aws:iam::123456789012:role/order-service-role',
    );
  });

  it("looks up the role each service's values name while the services render, each role once", async () => {
    const asked: string[] = [];
    const t = setup({ iam: (s) => (s.asked = asked) });
    const run = t.deps.run;
    let askedBeforeLastRender: string[] | undefined;
    t.deps.run = (async (command, args, options) => {
      if (args[0] === 'template' && args[1] === 'api-gateway') {
        // The last to render (concurrency 3): waits up to 1 s for the lookups to go out.
        for (let i = 0; i < 100 && asked.length < 6; i++) await sleep(10);
        askedBeforeLastRender = [...asked];
      }
      return run(command, args, options);
    }) as Runner;
    expect(exitCodeOf(await runPipeline(request(), t.deps))).toBe(0);
    // Every role, api-gateway's too, before api-gateway has rendered: the values name them.
    expect([...askedBeforeLastRender!].sort()).toEqual(SERVICES.map((s) => `${s}-role`).sort());
    // The checks of the rendered ServiceAccounts took those lookups: no role was asked twice.
    expect(asked).toHaveLength(6);
    expect(t.out.text()).toContain(
      'api-gateway: IRSA: ServiceAccount api-gateway can assume arn:aws:iam::123456789012:role/api-gateway-role',
    );
  });

  it('refuses a trust for another service account, saying what it allows and what it must', async () => {
    const message = await refused(
      (s) =>
        s.roles.set(
          'order-service-role',
          webIdentityTrust('order-service', { sub: 'system:serviceaccount:staging:order-service' }),
        ),
      /order-service: role arn:aws:iam::123456789012:role\/order-service-role: its trust policy does not let ServiceAccount production\/order-service assume it/,
    );
    expect(message).toContain('It allows: statement 1: Allow sts:AssumeRoleWithWebIdentity');
    expect(message).toContain('"system:serviceaccount:staging:order-service"');
    expect(message).toContain(
      `It must allow: Allow sts:AssumeRoleWithWebIdentity for Federated ${PROVIDER_ARN}`,
    );
    expect(message).toContain('"system:serviceaccount:production:order-service"');
    expect(message).toContain('update-assume-role-policy --role-name order-service-role');
  });

  it("refuses a trust for another cluster's issuer", () =>
    refused(
      (s) =>
        s.roles.set(
          'payment-service-role',
          webIdentityTrust('payment-service', {
            issuer: 'https://oidc.eks.us-east-1.amazonaws.com/id/OTHERCLUSTER',
          }),
        ),
      /payment-service: role .*payment-service-role: its trust policy does not let .*It allows: .*id\/OTHERCLUSTER.*It must allow: .*EXAMPLED539D4633E53DE1B71EXAMPLE/s,
    ));

  it("refuses when the cluster's OIDC provider is not registered in IAM, for every service", async () => {
    const message = await refused((s) => (s.provider = false), /6 services could not assume their IAM role/);
    expect(message).toContain(
      `user-service: role arn:aws:iam::123456789012:role/user-service-role: the cluster's OIDC provider ${PROVIDER_ARN} is not registered in IAM`,
    );
    expect(message).toContain('associate-iam-oidc-provider --cluster shop');
  });

  it('refuses a role that does not exist', () =>
    refused(
      (s) => s.roles.delete('notification-service-role'),
      /notification-service: role arn:aws:iam::123456789012:role\/notification-service-role \(for ServiceAccount production\/notification-service\) does not exist/,
    ));

  it('accepts a StringLike wildcard that covers the service account', async () => {
    const t = setup({
      iam: (s) =>
        s.roles.set(
          'user-service-role',
          webIdentityTrust('user-service', {
            op: 'StringLike',
            sub: 'system:serviceaccount:prod*:user-?ervice',
          }),
        ),
    });
    expect(exitCodeOf(await runPipeline(request(), t.deps))).toBe(0);
  });

  it('warns that the check was skipped when IAM denies access, and deploys', async () => {
    const t = setup({ iam: (s) => (s.denied = true) });
    const report = await runPipeline(request(), t.deps);
    expect(exitCodeOf(report)).toBe(0);
    expect(report.warnings.join('\n')).toMatch(
      /IRSA check skipped: no permission to read IAM \(AccessDenied\)/,
    );
    expect(report.warnings[0]).toMatch(/^user-service, product-service, .*api-gateway: /);
  });

  it('is not run with a plain kubeconfig (no EKS cluster, no issuer)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kc-'));
    const kubeconfig = {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:6443' } }],
      users: [{ name: 'u', user: { token: 'test' } }],
      contexts: [{ name: 'c', context: { cluster: 'c', user: 'u' } }],
      'current-context': 'c',
    };
    writeFileSync(join(dir, 'kubeconfig'), JSON.stringify(kubeconfig));
    const t = setup({ iam: (s) => (s.provider = false) });
    const report = await runPipeline(
      request({ cluster: undefined, region: 'us-east-1', kubeconfig: join(dir, 'kubeconfig') }),
      t.deps,
    );
    expect(report.error?.message).toBeUndefined();
    expect(exitCodeOf(report)).toBe(0);
    expect(t.out.text()).not.toContain('IRSA');
  });
});

describe('verify: the checklist against the live services, read-only', () => {
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

  it('one row per check per service, all ok: exit 0, nothing changed, no lease', async () => {
    const t = setup();
    const report = await runPipeline(request({ mode: 'verify' }), t.deps);
    expect(report.error).toBeUndefined();
    expect(exitCodeOf(report)).toBe(0);
    expect(report.checks!.map((c) => [c.service, c.check])).toEqual(
      SERVICES.flatMap((s) => CHECKS.map((c) => [s, c])),
    );
    expect(report.checks!.filter((c) => c.status !== 'ok')).toEqual([]);
    expect(report.services.every((s) => s.status === 'verified')).toBe(true);
    expect(t.changes()).toEqual([]);
    expect(t.locks).toEqual([]);
    const text = summaryText(report);
    expect(text).toContain('Verified 6 services: every check passed');
    expect(text).toMatch(/order-service +image +ok +at sha256:/);
  });

  it('a Deployment at another digest, a pod not ready and a changed probe fail their rows: exit 1', async () => {
    const t = setup({
      live: {
        'order-service': healthy('order-service', (s) => {
          s.deployment!.spec!.template.spec!.containers[0]!.image = `${REGISTRY}/order-service@sha256:${'f'.repeat(64)}`;
        }),
        'user-service': healthy('user-service', (s) => {
          s.pods[0]!.status!.containerStatuses![0]!.ready = false;
          s.pods[1]!.status!.containerStatuses![0]!.restartCount = 2;
        }),
        'payment-service': healthy('payment-service', (s) => {
          s.deployment!.spec!.template.spec!.containers[0]!.readinessProbe!.periodSeconds = 30;
        }),
      },
    });
    const report = await runPipeline(request({ mode: 'verify' }), t.deps);
    expect(exitCodeOf(report)).toBe(1);
    const failed = report.checks!.filter((c) => c.status === 'failed');
    expect(failed.map((c) => `${c.service} ${c.check}`)).toEqual([
      'user-service pods',
      'order-service image',
      'payment-service probes',
    ]);
    expect(failed[0]!.message).toBe(
      '2/3 pods with every container ready, 2 restarts; not ready: user-service-abc-1 0/1 (Running)',
    );
    expect(failed[2]!.message).toBe('readinessProbe periodSeconds is 30, the chart says 10');
    expect(failed[1]!.message).toBe(
      `the Deployment runs ${REGISTRY}/order-service@sha256:${'f'.repeat(64)}, expected ${REGISTRY}/order-service@${digestOf('order-service')}`,
    );
    expect(report.services.find((s) => s.service === 'order-service')!.status).toBe('failed');
    expect(summaryText(report)).toContain('Verify: 3 checks failed for 6 services');
  });

  it('an IRSA trust that does not fit is a failed row, not a refusal', async () => {
    const t = setup({ iam: (s) => s.roles.delete('api-gateway-role') });
    const report = await runPipeline(request({ mode: 'verify' }), t.deps);
    expect(exitCodeOf(report)).toBe(1);
    expect(report.checks!.filter((c) => c.status === 'failed')).toEqual([
      expect.objectContaining({
        service: 'api-gateway',
        check: 'irsa',
        message: expect.stringContaining('does not exist'),
      }),
    ]);
  });
});

describe('the namespace lease and releases a dead run left pending', () => {
  it('holds the lease for the run, recovers a pending-upgrade to its last deployed revision, then deploys', async () => {
    let lists = 0;
    const t = setup({
      cluster: (args) => {
        if (args[0] === 'list') {
          lists += 1;
          const order =
            lists === 1
              ? { revision: '7', status: 'pending-upgrade' }
              : { revision: '8', status: 'deployed' };
          return {
            stdout: JSON.stringify([
              { name: 'order-service', chart: 'c', app_version: '1', updated: '', ...order },
            ]),
          };
        }
        if (args[0] === 'history' && lists === 1) {
          const h = (revision: number, status: string) => ({
            revision,
            status,
            chart: 'c',
            app_version: '1',
            updated: '',
            description: '',
          });
          return {
            stdout: JSON.stringify([h(5, 'superseded'), h(6, 'superseded'), h(7, 'pending-upgrade')]),
          };
        }
        return undefined;
      },
    });
    const report = await runPipeline(request(), t.deps);
    expect(report.result).toBe('success');
    const changes = t.changes().map((a) => a.slice(0, 3));
    expect(changes[0]).toEqual(['rollback', 'order-service', '6']);
    expect(changes.slice(1).every((a) => a[0] === 'upgrade')).toBe(true);
    expect(report.recovered).toEqual([
      {
        service: 'order-service',
        action:
          'order-service was pending-upgrade at revision 7, left by a run that did not finish; rolled back to revision 6',
      },
    ]);
    // The run started from the recovered state: order-service upgrades from 8 to 9.
    expect(report.services.find((r) => r.service === 'order-service')!.revision).toBe(9);
    expect(t.locks).toEqual([
      expect.stringMatching(
        /^take production as https:\/\/github.com\/org\/repo\/actions\/runs\/1 \(run-id [0-9a-f-]+\)$/,
      ),
      'release production',
    ]);
  });

  it('a plan only warns about a pending release, takes no lease and changes nothing', async () => {
    const t = setup({
      cluster: (args) =>
        args[0] === 'list'
          ? {
              stdout: JSON.stringify([
                {
                  name: 'order-service',
                  revision: '7',
                  status: 'pending-install',
                  chart: 'c',
                  app_version: '1',
                  updated: '',
                },
              ]),
            }
          : undefined,
    });
    const report = await runPipeline(request({ mode: 'plan' }), t.deps);
    expect(report.result).toBe('planned');
    expect(t.changes()).toEqual([]);
    expect(t.locks).toEqual([]);
    expect(report.warnings).toContainEqual(
      expect.stringMatching(/order-service is pending-install: a deploy would recover it first/),
    );
  });

  it('deploy --plan: a release left pending since the plan is refused (exit 2) before it is recovered', async () => {
    const order = { name: 'order-service', chart: 'c', app_version: '1', updated: '' };
    const planOut = join(mkdtempSync(join(tmpdir(), 'pipeline-plan-')), 'plan.json');
    const planned = setup({
      cluster: (args) =>
        args[0] === 'list'
          ? { stdout: JSON.stringify([{ ...order, revision: '6', status: 'deployed' }]) }
          : undefined,
    });
    const made = await runPipeline(request({ mode: 'plan', planOut }), planned.deps);
    expect([made.result, made.planId]).toEqual(['planned', expect.stringMatching(/^sha256:/)]);
    const plan = readPlanFile('--plan', planOut, 3600);
    expect(plan.services['order-service']!.liveRevision).toBe(6);

    const t = setup({
      cluster: (args) =>
        args[0] === 'list'
          ? { stdout: JSON.stringify([{ ...order, revision: '7', status: 'pending-upgrade' }]) }
          : undefined,
    });
    const report = await runPipeline(request({ planFile: { path: planOut, plan } }), t.deps);
    expect(exitCodeOf(report)).toBe(2);
    expect(report.error?.message).toMatch(
      /no longer applies to order-service: the live release moved since the plan: it was at revision 6, it is at revision 7 \(pending-upgrade\) now/,
    );
    expect(t.changes()).toEqual([]);
    // The lease was taken for the check, and given back.
    expect(t.locks).toEqual([expect.stringMatching(/^take production/), 'release production']);
  });

  it('deploy --plan: hands the plan id to the release start (the GitHub deployment records it)', async () => {
    const order = { name: 'order-service', chart: 'c', app_version: '1', updated: '' };
    const planOut = join(mkdtempSync(join(tmpdir(), 'pipeline-plan-')), 'plan.json');
    const listed = (args: string[]) =>
      args[0] === 'list'
        ? { stdout: JSON.stringify([{ ...order, revision: '6', status: 'deployed' }]) }
        : undefined;
    const made = await runPipeline(request({ mode: 'plan', planOut }), setup({ cluster: listed }).deps);
    const plan = readPlanFile('--plan', planOut, 3600);
    const t = setup({ cluster: listed });
    const starts: { planId?: string }[] = [];
    t.deps.onReleaseStart = async (start) => void starts.push(start);
    const report = await runPipeline(request({ planFile: { path: planOut, plan } }), t.deps);
    expect(report.result).toBe('success');
    expect(starts.map((s) => s.planId)).toEqual([made.planId]);
    expect(report.planId).toBe(made.planId);
  });

  it('deploy --plan: refuses (exit 2) when the chart’s files changed since the plan, even ones it does not render', async () => {
    const dir = realpathSync(mkdtempSync(join(tmpdir(), 'pipeline-chart-')));
    cpSync(resolve('charts/ecommerce-service'), join(dir, 'chart'), { recursive: true });
    const config = join(dir, 'deploy.yaml');
    writeFileSync(
      config,
      readFileSync('deploy.yaml', 'utf8')
        .replace('chart: charts/ecommerce-service', `chart: ${join(dir, 'chart')}`)
        .replaceAll('charts/ecommerce-service/values/', `${join(dir, 'chart', 'values')}/`),
    );
    const over = { configPath: config, fileRoots: { allowed: [realpathSync('.'), dir] } };
    const planOut = join(dir, 'plan.json');
    const made = await runPipeline(request({ ...over, mode: 'plan', planOut }), setup().deps);
    expect(made.result).toBe('planned');
    const plan = readPlanFile('--plan', planOut, 3600);
    expect(plan.chart.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    appendFileSync(join(dir, 'chart', 'README.md'), '\nA line added after the review.\n');
    const t = setup();
    const report = await runPipeline(request({ ...over, planFile: { path: planOut, plan } }), t.deps);
    expect(exitCodeOf(report)).toBe(2);
    expect(report.error?.message).toMatch(/no longer applies: the chart .* has other files now/);
    expect(t.changes()).toEqual([]);
  });

  it('stops with exit 2 naming the holder when another run holds the lease, and changes nothing', async () => {
    const t = setup();
    t.deps.kube = {
      ...t.deps.kube!,
      lock: async () => {
        throw inputError(
          'another deploy to production is running: someone@laptop (run-id x) since 2026-12-01T20:00:00.000Z',
        );
      },
    };
    const report = await runPipeline(request(), t.deps);
    expect(exitCodeOf(report)).toBe(2);
    expect(report.error!.message).toMatch(/another deploy to production is running: someone@laptop/);
    expect(t.changes()).toEqual([]);
  });
});

describe('plan', () => {
  it('renders every service with no AWS and no cluster, and says the image check was skipped', async () => {
    const t = setup();
    const report = await runPipeline(
      request({ mode: 'plan', cluster: undefined, skipImageCheck: true }),
      t.deps,
    );
    expect(exitCodeOf(report)).toBe(0);
    expect(report.result).toBe('planned');
    expect(report.services.map((s) => s.status)).toEqual(SERVICES.map(() => 'planned'));
    expect(report.services[0]).toMatchObject({
      image: `${REGISTRY}/user-service:abc123`,
      chartVersion: '0.1.0',
    });
    expect(report.warnings.join('\n')).toContain('ECR image check skipped');
    expect(t.calls.filter((a) => a[0] !== 'version' && a[0] !== 'template')).toEqual([]);
  });
});

describe('a chart from ECR (OCI)', () => {
  /** The shipped deploy file with its chart in another account's ECR; paths made absolute. */
  function ociDeployFile(chart: string) {
    const dir = mkdtempSync(join(tmpdir(), 'oci-deploy-'));
    const text = readFileSync('deploy.yaml', 'utf8')
      .replace(/^chart: .*$/m, `chart: ${chart}\nchartVersion: 0.1.0`)
      .replaceAll('charts/ecommerce-service/', `${resolve('charts/ecommerce-service')}/`);
    writeFileSync(join(dir, 'deploy.yaml'), text);
    return join(dir, 'deploy.yaml');
  }

  /**
   * helm as `runner()` answers it, recording each call's environment; `show chart` and
   * `template` of the OCI reference read the same chart from disk (nothing to pull from).
   */
  function ociRunner(chart: string) {
    const seen: { args: string[]; env?: Record<string, string>; input?: string }[] = [];
    const local = resolve('charts/ecommerce-service');
    const run = (async (command, args, options) => {
      seen.push({ args, env: options?.env, input: options?.input });
      if (args[0] === 'registry') return { exitCode: 0, stdout: '', stderr: 'Login Succeeded\n' };
      if (args[0] === 'show')
        return { exitCode: 0, stdout: readFileSync(join(local, 'Chart.yaml'), 'utf8'), stderr: '' };
      return runner().run(
        command,
        args.map((a) => (a === chart ? local : a)),
        options,
      );
    }) as Runner;
    return { run, seen };
  }

  it("logs helm into the chart's registry for this run only, with the password on stdin, masked", async () => {
    const host = '210987654321.dkr.ecr.eu-west-1.amazonaws.com';
    const chart = `oci://${host}/charts/ecommerce-service`;
    const t = setup();
    const password = 'ecr-password-for-this-run';
    const regions: string[] = [];
    const ecrFor = (region: string) => {
      regions.push(region);
      const { ecr, mock } = ecrWith(() => true);
      mock.on(GetAuthorizationTokenCommand).resolves({
        authorizationData: [
          {
            authorizationToken: Buffer.from(`AWS:${password}`).toString('base64'),
            proxyEndpoint: `https://${REGISTRY}`, // the caller's own registry, not the chart's
          },
        ],
      });
      return ecr;
    };
    const { eks, iam } = t.deps.awsClients('us-east-1');
    t.deps.awsClients = (region) => ({ ecr: ecrFor(region), eks, iam });
    const { run, seen } = ociRunner(chart);
    t.deps.run = run;

    const report = await runPipeline(request({ configPath: ociDeployFile(chart) }), t.deps);

    expect(exitCodeOf(report)).toBe(0);
    const login = seen.find((c) => c.args[0] === 'registry')!;
    expect(login.args).toEqual(['registry', 'login', host, '--username', 'AWS', '--password-stdin']);
    expect(login.input).toBe(password);
    expect(regions).toContain('eu-west-1');
    expect(t.out.secrets).toContain(password);
    expect(t.out.text()).not.toContain(password);
    // Every helm command of the run reads the login from one private file, gone afterwards.
    const configs = new Set(
      seen.filter((c) => c.args[0] !== 'version').map((c) => c.env?.HELM_REGISTRY_CONFIG),
    );
    expect(configs.size).toBe(1);
    const [config] = [...configs];
    expect(config).toMatch(new RegExp(`^${tmpdir()}/ecommerce-deploy-[^/]+/registry.json$`));
    expect(existsSync(config!)).toBe(false);
    const upgrade = seen.find((c) => c.args[0] === 'upgrade')!;
    expect(upgrade.args).toEqual(expect.arrayContaining(['--version', '0.1.0']));
  });

  it("leaves helm's own registry config alone for a chart outside ECR", async () => {
    const chart = 'oci://ghcr.io/org/charts/ecommerce-service';
    const t = setup();
    const { run, seen } = ociRunner(chart);
    t.deps.run = run;

    const report = await runPipeline(request({ configPath: ociDeployFile(chart) }), t.deps);

    expect(exitCodeOf(report)).toBe(0);
    expect(seen.some((c) => c.args[0] === 'registry')).toBe(false);
    expect(seen.every((c) => c.env?.HELM_REGISTRY_CONFIG === undefined)).toBe(true);
  });
});

describe('a cancelled run (SIGINT/SIGTERM)', () => {
  it('starts nothing new, reports where each service was left, rolls nothing back, leaves no temp files', async () => {
    const controller = new AbortController();
    const t = setup();
    const tempDir = mkdtempSync(join(tmpdir(), 'cancel-test-'));
    const stops: boolean[] = [];
    const pending: ((o: RolloutOutcome) => void)[] = [];
    t.deps.tempDir = tempDir;
    t.deps.signal = controller.signal;
    t.deps.kube = {
      lock: fakeKube().kube.lock,
      live: fakeKube().kube.live,
      scaler: fakeKube().kube.scaler,
      tracker: async () => ({
        // Every rollout is still in progress when the signal comes.
        track: (req) =>
          new Promise((resolve) => {
            pending.push(resolve);
            if (pending.length === 1) setImmediate(() => controller.abort('SIGINT'));
            void req;
          }),
        stop: async (cancelled) => {
          stops.push(Boolean(cancelled));
          for (const r of pending.splice(0)) {
            r({
              service: '',
              verdict: 'failed',
              reason: cancelled ? 'Cancelled' : 'Timeout',
              message: 'stopped',
            });
          }
        },
      }),
      verifier: fakeKube().kube.verifier,
    };
    const report = await runPipeline(request({ concurrency: 3 }), t.deps);

    expect(report.result).toBe('cancelled');
    expect(report.cancelledBy).toBe('SIGINT');
    expect(exitCodeOf(report)).toBe(130);
    expect(stops[0]).toBe(true);
    const upgraded = t.changes().map((a) => a[2]);
    expect(upgraded).toHaveLength(3); // the concurrency limit's worth, nothing after the signal
    for (const s of report.services) {
      if (upgraded.includes(s.service)) {
        expect(s).toMatchObject({ status: 'cancelled', revision: 1 });
        expect(s.message).toMatch(/revision 1 released; its rollout was still in progress/);
      } else {
        expect(s).toMatchObject({
          status: 'skipped',
          reason: 'Cancelled',
          message: 'not started: the run was cancelled',
        });
      }
    }
    expect(t.calls.filter((a) => a[0] === 'rollback' || a[0] === 'uninstall')).toEqual([]);
    expect(readdirSync(tempDir)).toEqual([]);
  });

  it('ends with 143 for SIGTERM, before anything changed when it comes during preflight', async () => {
    const controller = new AbortController();
    controller.abort('SIGTERM');
    const t = setup();
    t.deps.signal = controller.signal;
    const report = await runPipeline(request(), t.deps);
    expect(exitCodeOf(report)).toBe(143);
    expect(t.changes()).toEqual([]);
    expect(report.services.every((s) => s.status === 'skipped' && s.reason === 'Cancelled')).toBe(true);
  });
});
