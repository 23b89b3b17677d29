/**
 * The aws/ boundary against real AWS wire protocol: moto_server, reached only through
 * the SDK's own AWS_ENDPOINT_URL handling and the SDK's default credential chain.
 * scripts/moto-env.sh installs moto; if it cannot, this test fails with pip's error.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CreateRepositoryCommand, PutImageCommand } from '@aws-sdk/client-ecr';
import { CreateClusterCommand } from '@aws-sdk/client-eks';
import { load } from 'js-yaml';
import { awsClients } from '../../src/aws/clients.js';
import { ecrLogin, resolveImages } from '../../src/aws/ecr.js';
import { describeActiveCluster, writeKubeconfig } from '../../src/aws/eks.js';
import { DeployError } from '../../src/errors.js';
import { MemoryOutput } from '../memory-output.js';

const ROOT = resolve(process.cwd());
const MOTO_SERVER = join(ROOT, '.cache/venv/bin/moto_server');
const REGION = 'us-east-1';
const ACCOUNT = '123456789012'; // moto's default account

let moto: ChildProcess | undefined;
let motoLog = '';
const savedEnv = { ...process.env };

function installMoto() {
  const res = spawnSync('bash', [join(ROOT, 'scripts/moto-env.sh')], { encoding: 'utf8', timeout: 280_000 });
  if (res.status !== 0 || !existsSync(MOTO_SERVER)) {
    throw new Error(
      `scripts/moto-env.sh could not install moto (exit ${res.status ?? res.signal}):\n${res.stderr}${res.stdout}`,
    );
  }
}

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const srv = createServer();
    srv.once('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => done(port));
    });
  });
}

async function startMoto(port: number): Promise<void> {
  const child = spawn(MOTO_SERVER, ['-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  moto = child;
  child.stdout?.on('data', (d) => (motoLog += d));
  child.stderr?.on('data', (d) => (motoLog += d));
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`moto_server exited with ${child.exitCode}:\n${motoLog}`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/moto-api/data.json`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`moto_server did not answer on port ${port} within 30 s:\n${motoLog}`);
}

beforeAll(async () => {
  installMoto();
  const port = await freePort();
  await startMoto(port);
  // Only what a user's environment would hold: the SDK finds both on its own.
  for (const k of ['AWS_PROFILE', 'AWS_SESSION_TOKEN', 'AWS_ROLE_ARN', 'AWS_WEB_IDENTITY_TOKEN_FILE'])
    delete process.env[k];
  process.env.AWS_ENDPOINT_URL = `http://127.0.0.1:${port}`;
  process.env.AWS_ACCESS_KEY_ID = 'testing';
  process.env.AWS_SECRET_ACCESS_KEY = 'testing';
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
}, 300_000);

afterAll(async () => {
  process.env = { ...savedEnv };
  if (moto && moto.exitCode === null) {
    const exited = new Promise((r) => moto!.once('exit', r));
    moto.kill('SIGTERM');
    await exited;
  }
});

/** A schema-2 manifest; moto derives the digest from its layers. */
function manifest(seed: string): string {
  const digest = (s: string) => `sha256:${Buffer.from(s).toString('hex').padEnd(64, '0').slice(0, 64)}`;
  return JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
    config: {
      mediaType: 'application/vnd.docker.container.image.v1+json',
      size: 1470,
      digest: digest(`${seed}-config`),
    },
    layers: [
      {
        mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
        size: 2811,
        digest: digest(`${seed}-layer`),
      },
    ],
  });
}

describe('aws/ against moto', () => {
  it('resolves tags to the digests ECR stores, in one call per repository', async () => {
    const { ecr } = awsClients(REGION);
    const pushed = new Map<string, string>();
    for (const repo of ['user-service', 'order-service']) {
      await ecr.send(new CreateRepositoryCommand({ repositoryName: repo }));
      const res = await ecr.send(
        new PutImageCommand({ repositoryName: repo, imageTag: '1.4.2', imageManifest: manifest(repo) }),
      );
      pushed.set(repo, res.image!.imageId!.imageDigest!);
    }

    const { images, calls } = await resolveImages(ecr, [
      { service: 'user-service', repository: 'user-service', tag: '1.4.2' },
      { service: 'order-service', repository: 'order-service', tag: '1.4.2' },
    ]);

    expect(calls).toBe(3);
    expect(images.get('user-service')).toEqual({
      repository: 'user-service',
      tag: '1.4.2',
      uri: `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com/user-service`,
      digest: pushed.get('user-service'),
    });
    expect(images.get('order-service')?.digest).toBe(pushed.get('order-service'));
    expect(pushed.get('user-service')).not.toBe(pushed.get('order-service'));
  });

  it('lists a missing tag and a missing repository together', async () => {
    const { ecr } = awsClients(REGION);
    await ecr.send(new CreateRepositoryCommand({ repositoryName: 'payment-service' }));
    await ecr.send(
      new PutImageCommand({
        repositoryName: 'payment-service',
        imageTag: '1.4.1',
        imageManifest: manifest('pay'),
      }),
    );

    const err = await resolveImages(ecr, [
      { service: 'payment-service', repository: 'payment-service', tag: '1.4.2' },
      { service: 'notification-service', repository: 'notification-service', tag: '1.4.2' },
    ]).then(
      () => undefined,
      (e: unknown) => e,
    );

    expect(err).toBeInstanceOf(DeployError);
    expect((err as DeployError).exitCode).toBe(2);
    expect((err as DeployError).details).toEqual([
      'payment-service: image payment-service:1.4.2 not found (ImageNotFound: Requested image not found)',
      'notification-service: ECR repository notification-service does not exist (wanted notification-service:1.4.2)',
    ]);
  });

  it('logs in to the registry with the masked password', async () => {
    const { ecr } = awsClients(REGION);
    const out = new MemoryOutput();

    const login = await ecrLogin(ecr, out);

    expect(login.host).toBe(`${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com`);
    expect(login.username).toBe('AWS');
    expect(out.secrets).toContain(login.password);
  });

  it('describes an ACTIVE cluster and writes a kubeconfig for it', async () => {
    const { eks } = awsClients(REGION);
    await eks.send(
      new CreateClusterCommand({
        name: 'shop-prod',
        roleArn: `arn:aws:iam::${ACCOUNT}:role/eks-cluster`,
        resourcesVpcConfig: { subnetIds: ['subnet-0a1b2c3d', 'subnet-4e5f6a7b'] },
        version: '1.30',
      }),
    );

    const cluster = await describeActiveCluster(eks, 'shop-prod', REGION);

    expect(cluster.arn).toBe(`arn:aws:eks:${REGION}:${ACCOUNT}:cluster/shop-prod`);
    expect(cluster.endpoint).toMatch(/^https:\/\/[^/]+\.us-east-1\.eks\.amazonaws\.com\/?$/);
    expect(cluster.certificateAuthority.length).toBeGreaterThan(0);
    expect(cluster.version).toBe('1.30');

    const dir = await mkdtemp(join(tmpdir(), 'moto-kube-'));
    try {
      const kube = await writeKubeconfig(cluster, { command: 'ecommerce-deploy', args: ['token'] }, { dir });
      const doc = load(await readFile(kube.path, 'utf8')) as { clusters: { cluster: { server: string } }[] };
      expect(doc.clusters[0]!.cluster.server).toBe(cluster.endpoint);
      await kube.dispose();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('says a cluster that is not there was not found', async () => {
    const { eks } = awsClients(REGION);

    await expect(describeActiveCluster(eks, 'shop-nope', REGION)).rejects.toMatchObject({
      kind: 'preflight',
      message: `EKS cluster shop-nope not found in ${REGION}`,
    });
  });
});
