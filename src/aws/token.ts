import { Sha256 } from '@aws-crypto/sha256-js';
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { credentialError } from './errors.js';

/**
 * The EKS bearer token, made the way `aws eks get-token` and aws-iam-authenticator make
 * it: a presigned STS GetCallerIdentity URL that names the cluster in a signed header.
 * EKS replays the URL against STS to learn who is calling, so the signature, the
 * regional STS host and the signed `x-k8s-aws-id` header all have to be exact.
 */

const TOKEN_PREFIX = 'k8s-aws-v1.';
const CLUSTER_ID_HEADER = 'x-k8s-aws-id';
/** EKS rejects presigned URLs valid for longer than this. */
const PRESIGN_SECONDS = 60;
/** What the aws CLI reports as the token's lifetime (EKS caches it for 15 minutes). */
const TOKEN_LIFETIME_MS = 14 * 60 * 1000;

export interface EksTokenOptions {
  clusterName: string;
  region: string;
  /** Defaults to the SDK's node provider chain. */
  credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  now?: Date;
  /**
   * Only for local stand-ins: EKS verifies the token against the regional STS host,
   * so a real cluster accepts nothing else. Deliberately not read from AWS_ENDPOINT_URL*.
   */
  stsHost?: string;
}

export interface EksToken {
  token: string;
  /** ISO 8601 without milliseconds, e.g. 2024-05-01T12:14:00Z. */
  expirationTimestamp: string;
}

export async function createEksToken(opts: EksTokenOptions): Promise<EksToken> {
  const now = opts.now ?? new Date();
  const host = opts.stsHost ?? regionalStsHost(opts.region);
  const signer = new SignatureV4({
    credentials: opts.credentials ?? fromNodeProviderChain(),
    region: opts.region,
    service: 'sts',
    sha256: Sha256,
  });
  const request = new HttpRequest({
    method: 'GET',
    protocol: 'https:',
    hostname: host,
    path: '/',
    query: { Action: 'GetCallerIdentity', Version: '2011-06-15' },
    // Lower-case and not x-amz-*: the signer keeps it a header, signed, not a query parameter.
    headers: { host, [CLUSTER_ID_HEADER]: opts.clusterName },
  });
  let signed;
  try {
    signed = await signer.presign(request, { expiresIn: PRESIGN_SECONDS, signingDate: now });
  } catch (err) {
    throw credentialError(err, `creating the EKS token for ${opts.clusterName}`) ?? err;
  }
  const url = `https://${host}/?${queryString(signed.query ?? {})}`;
  return {
    token: TOKEN_PREFIX + Buffer.from(url, 'utf8').toString('base64url'),
    expirationTimestamp: isoSeconds(new Date(now.getTime() + TOKEN_LIFETIME_MS)),
  };
}

/** What a kubeconfig exec plugin prints on stdout for client-go. */
export function execCredential(token: EksToken) {
  return {
    apiVersion: 'client.authentication.k8s.io/v1beta1',
    kind: 'ExecCredential',
    spec: {},
    status: { token: token.token, expirationTimestamp: token.expirationTimestamp },
  };
}

/** China regions live under amazonaws.com.cn; everything else under amazonaws.com. */
function regionalStsHost(region: string): string {
  return `sts.${region}.amazonaws.com${region.startsWith('cn-') ? '.cn' : ''}`;
}

/** RFC 3986 encoding (what SigV4 canonicalises to), so the URL is unambiguous to STS. */
function queryString(query: Record<string, string | string[] | null>): string {
  const encode = (s: string) =>
    encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return Object.keys(query)
    .sort()
    .flatMap((key) => {
      const value = query[key];
      const values = value === null || value === undefined ? [] : Array.isArray(value) ? value : [value];
      return values.map((v) => `${encode(key)}=${encode(v)}`);
    })
    .join('&');
}

function isoSeconds(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * EKS tokens for one run's helm commands and API requests, minted in this process (a
 * SigV4 presign, no network) instead of by the kubeconfig's exec plugin, which starts
 * a Node process each time. `source(seconds)` gives a token that stays valid for that
 * long: the last one while it does, else a fresh one; undefined when even a fresh
 * token would expire first (a wait longer than a token lives), in which case the
 * caller leaves authentication to the exec plugin, which refreshes.
 */
export type EksTokenSource = ((validForSeconds: number) => Promise<string | undefined>) & {
  /** The API server refused the last token (401: expired by its clock, or revoked): mint anew next time. */
  refused(): void;
};

export function eksTokenSource(
  opts: Omit<EksTokenOptions, 'now'> & { clock?: () => Date; onToken?: (token: string) => void },
): EksTokenSource {
  const clock = opts.clock ?? (() => new Date());
  let last: { token: string; validUntil: number } | undefined;
  let pending: Promise<{ token: string; validUntil: number }> | undefined;
  const source = async (validForSeconds: number) => {
    const now = clock().getTime();
    const wanted = now + validForSeconds * 1000;
    if (last && last.validUntil >= wanted) return last.token;
    if (validForSeconds * 1000 > TOKEN_LIFETIME_MS) return undefined;
    // Helm commands started together share one mint.
    pending ??= createEksToken({ ...opts, now: new Date(now) })
      .then((t) => {
        opts.onToken?.(t.token);
        return { token: t.token, validUntil: now + TOKEN_LIFETIME_MS };
      })
      .finally(() => {
        pending = undefined;
      });
    last = await pending;
    return last.token;
  };
  return Object.assign(source, {
    refused: () => {
      last = undefined;
    },
  });
}
