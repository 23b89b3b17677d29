import { preflightError, type DeployError } from '../errors.js';

/**
 * Turns what the AWS SDK throws into an error a person can act on. Everything the
 * aws/ boundary does happens before the cluster changes, so these are preflight
 * errors (exit 2).
 */

const CREDENTIALS_HINT =
  'no AWS credentials found: in GitHub Actions run aws-actions/configure-aws-credentials (OIDC role) ' +
  'before this step; locally set AWS_PROFILE (and `aws sso login`) or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY';

const ACCESS_DENIED = new Set([
  'AccessDenied',
  'AccessDeniedException',
  'UnauthorizedOperation',
  'UnauthorizedException',
  'NotAuthorizedException',
]);

const BAD_CREDENTIALS = new Set([
  'UnrecognizedClientException',
  'InvalidClientTokenId',
  'InvalidSignatureException',
  'SignatureDoesNotMatch',
  'IncompleteSignature',
  'AuthFailure',
]);

const EXPIRED = new Set(['ExpiredToken', 'ExpiredTokenException', 'RequestExpired', 'TokenRefreshRequired']);

/** The identity lacks permission for the call (as opposed to a missing or broken credential). */
export function isAccessDenied(err: unknown): boolean {
  const name = awsErrorName(err);
  return !!name && ACCESS_DENIED.has(name);
}

export function awsErrorName(err: unknown): string | undefined {
  return err instanceof Error ? err.name : undefined;
}

/**
 * Maps credential and permission failures to preflight errors; returns undefined for
 * anything else so the caller can handle service-specific errors first.
 */
export function credentialError(err: unknown, action: string): DeployError | undefined {
  const name = awsErrorName(err);
  const message = err instanceof Error ? err.message : String(err);
  if (name === 'CredentialsProviderError') {
    return preflightError(`${action}: no AWS credentials found`, {
      hint: CREDENTIALS_HINT,
      details: [message],
      cause: err,
    });
  }
  if (name && ACCESS_DENIED.has(name)) {
    return preflightError(`${action}: access denied`, {
      hint:
        'the AWS identity in use lacks permission for this call; grant it (for example ecr:DescribeRepositories, ' +
        'ecr:BatchGetImage, ecr:GetAuthorizationToken, eks:DescribeCluster) or assume a role that has it',
      details: [message],
      cause: err,
    });
  }
  if (name && EXPIRED.has(name)) {
    return preflightError(`${action}: the AWS credentials have expired`, {
      hint: 'refresh them (`aws sso login`, or re-run configure-aws-credentials) and try again',
      details: [message],
      cause: err,
    });
  }
  if (name && BAD_CREDENTIALS.has(name)) {
    return preflightError(`${action}: AWS rejected the credentials`, {
      hint: `check that the access key / session token belong together and the clock is right. ${CREDENTIALS_HINT}`,
      details: [message],
      cause: err,
    });
  }
  return undefined;
}

/** Last resort: any other AWS failure, still with the action named and the cause kept. */
export function awsError(err: unknown, action: string, hint?: string): DeployError {
  const known = credentialError(err, action);
  if (known) return known;
  const name = awsErrorName(err);
  const message = err instanceof Error ? err.message : String(err);
  return preflightError(`${action} failed${name && name !== 'Error' ? ` (${name})` : ''}: ${message}`, {
    hint: hint ?? 'check the region, network access to AWS and the AWS_ENDPOINT_URL* variables, then retry',
    cause: err,
  });
}
