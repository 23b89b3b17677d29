import {
  BatchGetImageCommand,
  DescribeRepositoriesCommand,
  GetAuthorizationTokenCommand,
  type ECRClient,
} from '@aws-sdk/client-ecr';
import { preflightError } from '../errors.js';
import type { Output } from '../report/output.js';
import { awsError, awsErrorName } from './errors.js';

export interface ImageRequest {
  service: string;
  /** ECR repository name (not URI). */
  repository: string;
  tag: string;
}

interface ResolvedImage {
  repository: string;
  tag: string;
  /** `<registry host>/<repository>`, without tag or digest. */
  uri: string;
  /** `sha256:…` the tag points at now; deploys pin this so a re-pushed tag cannot sneak in. */
  digest: string;
}

export interface ResolvedImages {
  /** Keyed by service name. */
  images: Map<string, ResolvedImage>;
  /** How many ECR API calls the check made (benchmarks and tests watch this stay per-repository). */
  calls: number;
}

/** API limits: DescribeRepositories takes at most 100 names, BatchGetImage at most 100 image ids. */
const MAX_NAMES_PER_CALL = 100;
const MISSING_IMAGE_CODES = new Set(['ImageNotFound', 'ImageTagDoesNotMatchDigest']);
/**
 * Accept every manifest kind so ECR returns the manifest as stored; otherwise it may
 * convert (e.g. to schema 1) and report a digest that is not the one nodes pull.
 */
const ACCEPTED_MEDIA_TYPES = [
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v1+json',
];

interface Counter {
  calls: number;
}

/**
 * Preflight for every selected service at once: each tag must exist in ECR, and is
 * resolved to its digest. One DescribeRepositories for all repositories, then one
 * BatchGetImage per repository with all of its tags. Everything missing is reported
 * together, so one run tells the user all there is to fix.
 */
export async function resolveImages(ecr: ECRClient, images: ImageRequest[]): Promise<ResolvedImages> {
  const counter: Counter = { calls: 0 };
  const repositories = unique(images.map((i) => i.repository));
  const uris = await describeRepositories(ecr, repositories, counter);

  const tagsByRepo = new Map<string, TagResults | 'repository-missing'>();
  await Promise.all(
    [...uris.keys()].map(async (repo) => {
      const tags = unique(images.filter((i) => i.repository === repo).map((i) => i.tag));
      tagsByRepo.set(repo, await batchGetTags(ecr, repo, tags, counter));
    }),
  );

  const resolved = new Map<string, ResolvedImage>();
  const problems: { service: string; problem: Problem; line: string }[] = [];
  for (const { service, repository, tag } of images) {
    const uri = uris.get(repository);
    const tags = tagsByRepo.get(repository);
    const digest = tags && tags !== 'repository-missing' ? tags.digests.get(tag) : undefined;
    if (uri && digest) {
      resolved.set(service, { repository, tag, uri, digest });
      continue;
    }
    const problem: Problem =
      !uri || tags === 'repository-missing'
        ? { kind: 'no-repository' }
        : (tags?.failures.get(tag) ?? { kind: 'missing', reason: 'ECR returned no result for it' });
    problems.push({ service, problem, line: describeProblem(service, repository, tag, problem) });
  }
  if (problems.length) throw imagesError(images.length, problems);
  return { images: resolved, calls: counter.calls };
}

type Problem = { kind: 'no-repository' } | { kind: 'missing' | 'unresolvable'; reason: string };

interface TagResults {
  digests: Map<string, string>;
  failures: Map<string, Problem>;
}

function describeProblem(service: string, repository: string, tag: string, problem: Problem): string {
  const image = `${repository}:${tag}`;
  switch (problem.kind) {
    case 'no-repository':
      return `${service}: ECR repository ${repository} does not exist (wanted ${image})`;
    case 'missing':
      return `${service}: image ${image} not found (${problem.reason})`;
    case 'unresolvable':
      return `${service}: image ${image} could not be resolved (${problem.reason})`;
  }
}

function imagesError(total: number, problems: { service: string; problem: Problem; line: string }[]) {
  const kinds = new Set(problems.map((p) => p.problem.kind));
  const hints = ['push the missing image(s) to ECR, or check the tag you deploy (--tag / image-tag)'];
  if (kinds.has('no-repository')) {
    hints.push(
      'for a missing repository check the service’s `repository` in the deploy file and the AWS region',
    );
  }
  if (kinds.has('unresolvable')) hints.push('for other ECR failures see the reason given and retry');
  const what =
    kinds.size === 1 && kinds.has('unresolvable') ? 'could not be resolved in ECR' : 'are not in ECR';
  return preflightError(`${problems.length} of ${total} service image(s) ${what}`, {
    where: problems.length === 1 ? { service: problems[0]!.service } : undefined,
    details: problems.map((p) => p.line),
    hint: hints.join('; '),
  });
}

/** Repository name -> repositoryUri; names that do not exist are absent from the map. */
async function describeRepositories(ecr: ECRClient, names: string[], counter: Counter) {
  const uris = new Map<string, string>();
  for (const chunk of chunks(names, MAX_NAMES_PER_CALL)) {
    try {
      counter.calls++;
      const res = await ecr.send(new DescribeRepositoriesCommand({ repositoryNames: chunk }));
      for (const r of res.repositories ?? []) {
        if (r.repositoryName && r.repositoryUri) uris.set(r.repositoryName, r.repositoryUri);
      }
    } catch (err) {
      if (awsErrorName(err) !== 'RepositoryNotFoundException')
        throw awsError(err, 'ECR DescribeRepositories');
      // One missing name fails the whole call and the message names only one of them
      // (in prose), so ask per repository to find every missing one. This costs extra
      // calls only on the failure path; listing all repositories instead would need
      // account-wide permission and pages through unrelated repositories.
      await Promise.all(chunk.map((name) => describeOne(ecr, name, uris, counter)));
    }
  }
  return uris;
}

async function describeOne(ecr: ECRClient, name: string, uris: Map<string, string>, counter: Counter) {
  try {
    counter.calls++;
    const res = await ecr.send(new DescribeRepositoriesCommand({ repositoryNames: [name] }));
    const uri = res.repositories?.[0]?.repositoryUri;
    if (uri) uris.set(name, uri);
  } catch (err) {
    if (awsErrorName(err) !== 'RepositoryNotFoundException') throw awsError(err, 'ECR DescribeRepositories');
  }
}

async function batchGetTags(
  ecr: ECRClient,
  repositoryName: string,
  tags: string[],
  counter: Counter,
): Promise<TagResults | 'repository-missing'> {
  const digests = new Map<string, string>();
  const failures = new Map<string, Problem>();
  for (const chunk of chunks(tags, MAX_NAMES_PER_CALL)) {
    let res;
    try {
      counter.calls++;
      res = await ecr.send(
        new BatchGetImageCommand({
          repositoryName,
          imageIds: chunk.map((imageTag) => ({ imageTag })),
          acceptedMediaTypes: ACCEPTED_MEDIA_TYPES,
        }),
      );
    } catch (err) {
      // Deleted between the two calls: report it like any other missing repository.
      if (awsErrorName(err) === 'RepositoryNotFoundException') return 'repository-missing';
      throw awsError(err, `ECR BatchGetImage for ${repositoryName}`);
    }
    for (const image of res.images ?? []) {
      const { imageTag, imageDigest } = image.imageId ?? {};
      if (imageTag && imageDigest) digests.set(imageTag, imageDigest);
    }
    for (const f of res.failures ?? []) {
      const tag = f.imageId?.imageTag;
      if (!tag || digests.has(tag)) continue;
      const code = f.failureCode ?? 'unknown failure';
      const reason = f.failureReason ? `${code}: ${f.failureReason}` : code;
      failures.set(tag, { kind: MISSING_IMAGE_CODES.has(code) ? 'missing' : 'unresolvable', reason });
    }
  }
  return { digests, failures };
}

export interface EcrLogin {
  /** Registry host, e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com. */
  host: string;
  username: string;
  password: string;
}

/**
 * Credentials for `helm registry login` when the chart is an OCI artifact in ECR.
 * The token and the password are masked before anything else touches them.
 */
export async function ecrLogin(ecr: ECRClient, out: Output): Promise<EcrLogin> {
  let res;
  try {
    res = await ecr.send(new GetAuthorizationTokenCommand({}));
  } catch (err) {
    throw awsError(err, 'ECR GetAuthorizationToken');
  }
  const data = res.authorizationData?.[0];
  const token = data?.authorizationToken;
  if (token) out.setSecret(token);
  if (!token || !data?.proxyEndpoint) {
    throw preflightError('ECR GetAuthorizationToken returned no token or registry endpoint', {
      hint: 'retry; if it persists check the ECR service health for this region',
    });
  }
  const decoded = Buffer.from(token, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const password = colon > 0 ? decoded.slice(colon + 1) : '';
  if (password) out.setSecret(password);
  if (!password) {
    // Never echo the token itself: it is a credential even when malformed.
    throw preflightError('ECR returned an authorization token that is not `user:password`', {
      hint: 'retry; if it persists check the ECR service health for this region',
    });
  }
  return { host: registryHost(data.proxyEndpoint), username: decoded.slice(0, colon), password };
}

/**
 * The region of an ECR registry host, or undefined for any other host:
 * `<account>.dkr.ecr[-fips].<region>.amazonaws.com[.cn]` and the dual-stack
 * `<account>.dkr-ecr[-fips].<region>.on.aws`.
 */
export function ecrRegistryRegion(host: string): string | undefined {
  const m =
    /^\d{12}\.dkr\.ecr(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$/.exec(host) ??
    /^\d{12}\.dkr-ecr(?:-fips)?\.([a-z0-9-]+)\.on\.aws$/.exec(host);
  return m?.[1];
}

/** proxyEndpoint is `https://<host>`; helm wants the bare host. */
function registryHost(proxyEndpoint: string): string {
  return proxyEndpoint.includes('://') ? new URL(proxyEndpoint).host : proxyEndpoint.replace(/\/+$/, '');
}

function unique<T>(values: T[]): T[] {
  return [...new Set(values)];
}

function chunks<T>(values: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < values.length; i += size) out.push(values.slice(i, i + size));
  return out;
}
