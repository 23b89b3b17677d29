import { ECRClient } from '@aws-sdk/client-ecr';
import { EKSClient } from '@aws-sdk/client-eks';
import { IAMClient } from '@aws-sdk/client-iam';
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import { inputError } from '../errors.js';

/** Attempts per AWS call, first one included (SDK standard retry mode: backoff with jitter, throttling aware). */
export const AWS_MAX_ATTEMPTS = 5;

/**
 * The one place that builds AWS SDK clients. Credentials come from the SDK's own chain
 * (env, OIDC web identity, SSO/profile, container/instance role); endpoints from the
 * SDK's own AWS_ENDPOINT_URL* handling, which is how tests point at moto. Throttling,
 * 5xx and dropped connections are retried by the SDK's standard mode; `onRetry` hears
 * of each retry once, with the error that caused it.
 */
export function awsClients(region: string, onRetry?: (message: string) => void) {
  if (!region) {
    throw inputError('no AWS region given', {
      hint: 'set aws-region (Action) or --region / AWS_REGION (CLI)',
    });
  }
  // One provider for every client, so the chain (maybe an STS role assumption) resolves once.
  const credentials = fromNodeProviderChain();
  const config = { region, credentials, retryMode: 'standard', maxAttempts: AWS_MAX_ATTEMPTS };
  const ecr = new ECRClient(config);
  const eks = new EKSClient(config);
  // IAM is global; the region only picks the partition's endpoint.
  const iam = new IAMClient(config);
  if (onRetry) {
    logRetries(ecr, 'ECR', onRetry);
    logRetries(eks, 'EKS', onRetry);
    logRetries(iam, 'IAM', onRetry);
  }
  return { ecr, eks, iam, credentials };
}

/** A middleware inside the SDK's retry loop: it runs once per attempt, so attempt 2+ is a retry. */
function logRetries(
  client: ECRClient | EKSClient | IAMClient,
  service: string,
  onRetry: (message: string) => void,
) {
  (client as ECRClient).middlewareStack.add(
    (next, context) => {
      let attempt = 0;
      let lastError: unknown;
      return async (args) => {
        attempt += 1;
        if (attempt > 1) {
          const cause =
            lastError instanceof Error ? `${lastError.name}: ${lastError.message}` : String(lastError);
          onRetry(
            `${service} ${context.commandName ?? 'call'}: retry ${attempt - 1} of ${AWS_MAX_ATTEMPTS - 1} after ${cause}`,
          );
        }
        try {
          return await next(args);
        } catch (err) {
          lastError = err;
          throw err;
        }
      };
    },
    { step: 'finalizeRequest', priority: 'low', name: 'ecommerceDeployRetryLog' },
  );
}
