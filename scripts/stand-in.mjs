// The local EKS stand-in as the demo, the e2e tests and the benchmarks use it:
// start it when it is not running, read its environment, and push images to its
// ECR (moto) the way a CI job would before deploying.
import { Buffer } from 'node:buffer';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { CreateRepositoryCommand, ECRClient, PutImageCommand } from '@aws-sdk/client-ecr';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The six services of deploy.yaml (local-cluster/services.json), each with an override file in charts/ecommerce-service/values/services/. */
export const SERVICES = Object.freeze(
  JSON.parse(readFileSync(join(repoRoot, 'local-cluster', 'services.json'), 'utf8')).services,
);

/** Run dir of a stand-in: ECOMMERCE_DEPLOY_RUN, else the repo's default. */
export function runDirOf(runDir) {
  return runDir ?? process.env.ECOMMERCE_DEPLOY_RUN ?? join(repoRoot, '.cache', 'local-cluster');
}

/** The `export K=V` lines up.sh writes, as an object. */
export function readStandInEnv(runDir) {
  const file = join(runDirOf(runDir), 'env');
  if (!existsSync(file)) return undefined;
  const env = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^export ([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m) env[m[1]] = m[2].replace(/^["']|["']$/g, '');
  }
  return env;
}

/** Starts the stand-in unless it is up (up.sh is idempotent); returns its environment. */
export function ensureStandIn({ runDir, quiet = false } = {}) {
  const dir = runDirOf(runDir);
  const res = spawnSync('bash', [join(repoRoot, 'local-cluster', 'up.sh')], {
    env: { ...process.env, ECOMMERCE_DEPLOY_RUN: dir },
    stdio: ['ignore', quiet ? 'pipe' : 'inherit', quiet ? 'pipe' : 'inherit'],
    encoding: 'utf8',
  });
  if (res.status !== 0) {
    throw new Error(`local-cluster/up.sh failed (exit ${res.status})\n${res.stderr ?? ''}`);
  }
  const env = readStandInEnv(dir);
  if (!env) throw new Error(`local-cluster/up.sh left no env file in ${dir}`);
  return env;
}

export function stopStandIn({ runDir } = {}) {
  const dir = runDirOf(runDir);
  spawnSync('bash', [join(repoRoot, 'local-cluster', 'down.sh')], {
    env: { ...process.env, ECOMMERCE_DEPLOY_RUN: dir },
    stdio: 'ignore',
  });
}

/**
 * Pushes an image manifest for `tag` to each repository in the stand-in's ECR,
 * as `docker push` would; each repository and tag gets its own digest.
 * Returns repository -> digest.
 */
export async function pushImages(env, repositories, tag) {
  const ecr = ecrClient(env);
  const digests = {};
  for (const repository of repositories) {
    const layer = 'sha256:' + createHash('sha256').update(`${repository}:${tag}`).digest('hex');
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      config: { mediaType: 'application/vnd.docker.container.image.v1+json', size: 7023, digest: layer },
      layers: [
        { mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: 32654, digest: layer },
      ],
    });
    try {
      const res = await ecr.send(
        new PutImageCommand({ repositoryName: repository, imageTag: tag, imageManifest: manifest }),
      );
      digests[repository] = res.image?.imageId?.imageDigest;
    } catch (err) {
      if (err.name !== 'ImageAlreadyExistsException') throw err;
    }
  }
  return digests;
}

/** Creates ECR repositories in the stand-in (moto) that the seed does not have; existing ones are kept. */
export async function createRepositories(env, repositories) {
  const ecr = ecrClient(env);
  for (const repositoryName of repositories) {
    try {
      await ecr.send(new CreateRepositoryCommand({ repositoryName }));
    } catch (err) {
      if (err.name !== 'RepositoryAlreadyExistsException') throw err;
    }
  }
}

function ecrClient(env) {
  return new ECRClient({
    region: env.AWS_REGION,
    endpoint: env.AWS_ENDPOINT_URL,
    credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY },
  });
}

/**
 * Every stored revision of the helm releases in a namespace, decoded from helm's
 * release Secrets (`sh.helm.release.v1.<name>.v<revision>`: base64 of gzipped JSON),
 * as helm itself reads them. Sorted by release, then revision.
 */
export function helmReleases(env, namespace) {
  const secrets = JSON.parse(
    kubectl(env, ['get', 'secrets', '-n', namespace, '-l', 'owner=helm', '-o', 'json']),
  );
  return secrets.items
    .map((s) => {
      let data = Buffer.from(Buffer.from(s.data.release, 'base64').toString('utf8'), 'base64');
      if (data[0] === 0x1f && data[1] === 0x8b) data = gunzipSync(data);
      const r = JSON.parse(data.toString('utf8'));
      return {
        name: r.name,
        revision: r.version,
        status: r.info.status,
        description: r.info.description,
        chart: r.chart,
        config: r.config ?? {},
      };
    })
    .sort((a, b) => a.name.localeCompare(b.name) || a.revision - b.revision);
}

/** kubectl against the stand-in's admin kubeconfig. */
export function kubectl(env, args, opts = {}) {
  const bin = process.env.KUBECTL_BIN ?? join(repoRoot, '.cache', 'tools', 'helm4', 'kubectl');
  const res = spawnSync(bin, ['--kubeconfig', env.KUBECONFIG, ...args], { encoding: 'utf8', ...opts });
  if (res.status !== 0 && !opts.allowFailure) {
    throw new Error(`kubectl ${args.join(' ')} failed: ${res.stderr}`);
  }
  return res.stdout;
}

/** A namespace whose pods the API server admits only at Pod Security "restricted". */
export function restrictedNamespace(env, name) {
  kubectl(env, ['create', 'namespace', name], { allowFailure: true });
  kubectl(env, ['label', '--overwrite', 'namespace', name, 'pod-security.kubernetes.io/enforce=restricted']);
}
