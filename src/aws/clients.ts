import { ECRClient } from '@aws-sdk/client-ecr';
import { EKSClient } from '@aws-sdk/client-eks';
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import { inputError } from '../errors.js';

/**
 * The one place that builds AWS SDK clients. Credentials come from the SDK's own chain
 * (env, OIDC web identity, SSO/profile, container/instance role); endpoints from the
 * SDK's own AWS_ENDPOINT_URL* handling, which is how tests point at moto.
 */
export function awsClients(region: string) {
  if (!region) {
    throw inputError('no AWS region given', {
      hint: 'set aws-region (Action) or --region / AWS_REGION (CLI)',
    });
  }
  // One provider for both clients, so the chain (maybe an STS role assumption) resolves once.
  const credentials = fromNodeProviderChain();
  return {
    ecr: new ECRClient({ region, credentials }),
    eks: new EKSClient({ region, credentials }),
    credentials,
  };
}
