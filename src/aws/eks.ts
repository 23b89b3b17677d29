import { rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeClusterCommand, type EKSClient } from '@aws-sdk/client-eks';
import { dump } from 'js-yaml';
import { preflightError } from '../errors.js';
import { makePrivateDir } from '../workdir.js';
import { awsError, awsErrorName } from './errors.js';

export interface EksCluster {
  name: string;
  region: string;
  arn: string;
  /** API server URL, https://…eks.amazonaws.com */
  endpoint: string;
  /** Cluster CA bundle, base64 PEM, as EKS returns it. */
  certificateAuthority: string;
  /** Kubernetes version, e.g. 1.30. */
  version?: string;
  /** The cluster's OIDC issuer URL (identity.oidc.issuer): what IRSA web-identity tokens are issued by. */
  oidcIssuer?: string;
}

const STATUS_HINTS: Record<string, string> = {
  CREATING:
    'the cluster is still being created; wait until `aws eks describe-cluster` shows ACTIVE and retry',
  UPDATING: 'the cluster is being updated; wait until it is ACTIVE again and retry',
  DELETING: 'the cluster is being deleted; deploy to another cluster (check cluster-name)',
  FAILED: 'the cluster is in a failed state; look at it in the EKS console before deploying',
  PENDING: 'the cluster is not ready yet; wait until it is ACTIVE and retry',
};

/** DescribeCluster, and insist it is ACTIVE: nothing else can take a deploy. */
export async function describeActiveCluster(
  eks: EKSClient,
  name: string,
  region: string,
): Promise<EksCluster> {
  let cluster;
  try {
    cluster = (await eks.send(new DescribeClusterCommand({ name }))).cluster;
  } catch (err) {
    if (awsErrorName(err) === 'ResourceNotFoundException') throw clusterNotFound(name, region, err);
    throw awsError(err, `EKS DescribeCluster ${name} in ${region}`);
  }
  if (!cluster) throw clusterNotFound(name, region);
  const status = cluster.status ?? 'UNKNOWN';
  if (status !== 'ACTIVE') {
    throw preflightError(`EKS cluster ${name} in ${region} is ${status}, not ACTIVE`, {
      hint: STATUS_HINTS[status] ?? 'wait until the cluster is ACTIVE and retry',
    });
  }
  const endpoint = cluster.endpoint;
  const certificateAuthority = cluster.certificateAuthority?.data;
  if (!endpoint || !certificateAuthority || !cluster.arn) {
    throw preflightError(`EKS cluster ${name} in ${region} has no API endpoint or CA data`, {
      hint: 'check the cluster in the EKS console; its endpoint must be reachable from this runner',
    });
  }
  return {
    name,
    region,
    arn: cluster.arn,
    endpoint,
    certificateAuthority,
    version: cluster.version,
    oidcIssuer: cluster.identity?.oidc?.issuer,
  };
}

function clusterNotFound(name: string, region: string, cause?: unknown) {
  return preflightError(`EKS cluster ${name} not found in ${region}`, {
    hint: `check cluster-name and aws-region; \`aws eks list-clusters --region ${region}\` lists the clusters this identity can see`,
    cause,
  });
}

export interface KubeconfigExec {
  command: string;
  args: string[];
  env?: Record<string, string>;
}

export interface Kubeconfig {
  path: string;
  dispose(): Promise<void>;
}

/**
 * A kubeconfig for one EKS cluster whose user is an exec plugin: the token is minted
 * on demand by `exec.command exec.args` and never stored in the file. The file sits
 * in a fresh private directory (0700, file 0600) so other users on a shared runner
 * cannot read it; dispose removes the directory.
 */
export async function writeKubeconfig(
  cluster: EksCluster,
  exec: KubeconfigExec,
  opts: { dir?: string } = {},
): Promise<Kubeconfig> {
  const dir = await makePrivateDir(opts.dir ?? tmpdir(), 'kube');
  const path = join(dir, 'kubeconfig');
  const dispose = () => rm(dir, { recursive: true, force: true });
  try {
    await writeFile(path, dump(kubeconfigDocument(cluster, exec), { noRefs: true }), {
      mode: 0o600,
      flag: 'wx',
    });
  } catch (err) {
    await dispose();
    throw err;
  }
  return { path, dispose };
}

function kubeconfigDocument(cluster: EksCluster, exec: KubeconfigExec) {
  const id = cluster.arn;
  return {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: id,
        cluster: { server: cluster.endpoint, 'certificate-authority-data': cluster.certificateAuthority },
      },
    ],
    users: [
      {
        name: id,
        user: {
          exec: {
            apiVersion: 'client.authentication.k8s.io/v1beta1',
            command: exec.command,
            args: exec.args,
            env: Object.entries(exec.env ?? {}).map(([name, value]) => ({ name, value })),
            // Never prompt: the deploy runs unattended and a prompt would hang it.
            interactiveMode: 'Never',
            provideClusterInfo: false,
          },
        },
      },
    ],
    contexts: [{ name: id, context: { cluster: id, user: id } }],
    'current-context': id,
  };
}
