import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  DescribeClusterCommand,
  EKSClient,
  ResourceNotFoundException,
  type ClusterStatus,
} from '@aws-sdk/client-eks';
import { mockClient } from 'aws-sdk-client-mock';
import { load } from 'js-yaml';
import { DeployError } from '../../src/errors.js';
import { describeActiveCluster, writeKubeconfig, type EksCluster } from '../../src/aws/eks.js';

interface KubeconfigDoc {
  'current-context': string;
  clusters: unknown[];
  contexts: unknown[];
  users: { user: { exec: unknown } }[];
}

const ARN = 'arn:aws:eks:eu-west-1:123456789012:cluster/shop-prod';

async function rejection(p: Promise<unknown>): Promise<DeployError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(DeployError);
    return err as DeployError;
  }
  throw new Error('expected the promise to reject');
}

function eksReturning(status: ClusterStatus) {
  const client = new EKSClient({ region: 'eu-west-1' });
  mockClient(client)
    .on(DescribeClusterCommand, { name: 'shop-prod' })
    .resolves({
      cluster: {
        name: 'shop-prod',
        arn: ARN,
        status,
        endpoint: 'https://ABC.gr7.eu-west-1.eks.amazonaws.com',
        certificateAuthority: { data: 'LS0tLS1CRUdJTg==' },
        version: '1.30',
      },
    });
  return client;
}

describe('describeActiveCluster', () => {
  it('returns what a kubeconfig needs for an ACTIVE cluster', async () => {
    await expect(describeActiveCluster(eksReturning('ACTIVE'), 'shop-prod', 'eu-west-1')).resolves.toEqual({
      name: 'shop-prod',
      region: 'eu-west-1',
      arn: ARN,
      endpoint: 'https://ABC.gr7.eu-west-1.eks.amazonaws.com',
      certificateAuthority: 'LS0tLS1CRUdJTg==',
      version: '1.30',
    });
  });

  it.each([
    ['CREATING', /still being created/],
    ['UPDATING', /being updated/],
    ['DELETING', /being deleted/],
    ['FAILED', /failed state/],
  ] as const)('refuses a %s cluster, naming the status', async (status, hint) => {
    const err = await rejection(describeActiveCluster(eksReturning(status), 'shop-prod', 'eu-west-1'));

    expect(err.kind).toBe('preflight');
    expect(err.message).toBe(`EKS cluster shop-prod in eu-west-1 is ${status}, not ACTIVE`);
    expect(err.hint).toMatch(hint);
  });

  it('says which cluster and region were not found and how to list clusters', async () => {
    const client = new EKSClient({ region: 'eu-west-1' });
    mockClient(client)
      .on(DescribeClusterCommand)
      .rejects(
        new ResourceNotFoundException({ message: 'No cluster found for name: shop-prd.', $metadata: {} }),
      );

    const err = await rejection(describeActiveCluster(client, 'shop-prd', 'eu-west-1'));

    expect(err.exitCode).toBe(2);
    expect(err.message).toBe('EKS cluster shop-prd not found in eu-west-1');
    expect(err.hint).toContain('aws eks list-clusters --region eu-west-1');
    expect(err.hint).toMatch(/cluster-name.*aws-region/);
  });

  it('maps AccessDenied to a preflight error', async () => {
    const client = new EKSClient({ region: 'eu-west-1' });
    mockClient(client)
      .on(DescribeClusterCommand)
      .rejects(
        Object.assign(new Error('not authorized to perform: eks:DescribeCluster'), {
          name: 'AccessDeniedException',
        }),
      );

    const err = await rejection(describeActiveCluster(client, 'shop-prod', 'eu-west-1'));

    expect(err.message).toBe('EKS DescribeCluster shop-prod in eu-west-1: access denied');
    expect(err.hint).toContain('eks:DescribeCluster');
  });
});

describe('writeKubeconfig', () => {
  const cluster: EksCluster = {
    name: 'shop-prod',
    region: 'eu-west-1',
    arn: ARN,
    endpoint: 'https://ABC.gr7.eu-west-1.eks.amazonaws.com',
    certificateAuthority: 'LS0tLS1CRUdJTg==',
  };
  let base: string;
  beforeEach(async () => {
    base = await mkdtemp(join(tmpdir(), 'kubeconfig-test-'));
  });
  afterEach(async () => {
    await rm(base, { recursive: true, force: true });
  });

  it('writes a private kubeconfig whose user runs the exec plugin, and dispose removes it', async () => {
    const exec = {
      command: '/usr/bin/node',
      args: ['/action/dist/index.js', 'token', '--cluster-name', 'shop-prod', '--region', 'eu-west-1'],
      env: { AWS_REGION: 'eu-west-1' },
    };

    const kube = await writeKubeconfig(cluster, exec, { dir: base });

    expect(dirname(dirname(kube.path))).toBe(base);
    expect((await stat(kube.path)).mode & 0o777).toBe(0o600);
    expect((await stat(dirname(kube.path))).mode & 0o777).toBe(0o700);
    const doc = load(await readFile(kube.path, 'utf8')) as KubeconfigDoc;
    expect(doc['current-context']).toBe(ARN);
    expect(doc.clusters).toEqual([
      {
        name: ARN,
        cluster: { server: cluster.endpoint, 'certificate-authority-data': cluster.certificateAuthority },
      },
    ]);
    expect(doc.contexts).toEqual([{ name: ARN, context: { cluster: ARN, user: ARN } }]);
    expect(doc.users[0]?.user.exec).toEqual({
      apiVersion: 'client.authentication.k8s.io/v1beta1',
      command: exec.command,
      args: exec.args,
      env: [{ name: 'AWS_REGION', value: 'eu-west-1' }],
      interactiveMode: 'Never',
      provideClusterInfo: false,
    });

    await kube.dispose();
    await expect(stat(dirname(kube.path))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('gives every kubeconfig its own directory', async () => {
    const exec = { command: 'ecommerce-deploy', args: ['token'] };
    const a = await writeKubeconfig(cluster, exec, { dir: base });
    const b = await writeKubeconfig(cluster, exec, { dir: base });

    expect(dirname(a.path)).not.toBe(dirname(b.path));
    await a.dispose();
    await expect(stat(b.path)).resolves.toBeTruthy();
    await b.dispose();
  });
});
