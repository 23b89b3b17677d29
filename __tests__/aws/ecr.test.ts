import {
  BatchGetImageCommand,
  DescribeRepositoriesCommand,
  ECRClient,
  GetAuthorizationTokenCommand,
  RepositoryNotFoundException,
  type BatchGetImageCommandInput,
} from '@aws-sdk/client-ecr';
import { fromEnv } from '@aws-sdk/credential-providers';
import { mockClient } from 'aws-sdk-client-mock';
import { DeployError } from '../../src/errors.js';
import { MemoryOutput } from '../memory-output.js';
import { ecrLogin, ecrRegistryRegion, resolveImages, type ImageRequest } from '../../src/aws/ecr.js';
import { SERVICES } from '../../scripts/stand-in.mjs';

const REGISTRY = '123456789012.dkr.ecr.eu-west-1.amazonaws.com';

const digestOf = (repo: string, tag: string) =>
  `sha256:${Buffer.from(`${repo}@${tag}`).toString('hex').padEnd(64, '0').slice(0, 64)}`;

/**
 * A fake ECR that behaves like the real API: DescribeRepositories fails as a whole when
 * one name is missing; BatchGetImage reports missing tags as failures.
 */
function fakeEcr(registry: Record<string, string[]>) {
  const client = new ECRClient({ region: 'eu-west-1' });
  const mock = mockClient(client);
  mock.on(DescribeRepositoriesCommand).callsFake((input: { repositoryNames?: string[] }) => {
    const names = input.repositoryNames ?? [];
    const missing = names.find((n) => !(n in registry));
    if (missing) {
      throw new RepositoryNotFoundException({
        message: `The repository with name '${missing}' does not exist in the registry with id '123456789012'`,
        $metadata: {},
      });
    }
    return {
      repositories: names.map((n) => ({ repositoryName: n, repositoryUri: `${REGISTRY}/${n}` })),
    };
  });
  mock.on(BatchGetImageCommand).callsFake((input: BatchGetImageCommandInput) => {
    const tags = registry[input.repositoryName!] ?? [];
    const ids = input.imageIds ?? [];
    return {
      images: ids
        .filter((id) => tags.includes(id.imageTag!))
        .map((id) => ({
          imageId: { imageTag: id.imageTag, imageDigest: digestOf(input.repositoryName!, id.imageTag!) },
        })),
      failures: ids
        .filter((id) => !tags.includes(id.imageTag!))
        .map((id) => ({
          imageId: id,
          failureCode: 'ImageNotFound',
          failureReason: 'Requested image not found',
        })),
    };
  });
  return { client, mock };
}

async function rejection(p: Promise<unknown>): Promise<DeployError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(DeployError);
    return err as DeployError;
  }
  throw new Error('expected the promise to reject');
}

const request = (tag: string, names: readonly string[] = SERVICES): ImageRequest[] =>
  names.map((service) => ({ service, repository: service, tag }));

describe('resolveImages', () => {
  it('resolves six services with one DescribeRepositories and one BatchGetImage per repository', async () => {
    const { client, mock } = fakeEcr(Object.fromEntries(SERVICES.map((s) => [s, ['1.4.2', 'latest']])));

    const { images, calls } = await resolveImages(client, request('1.4.2'));

    expect(mock.commandCalls(DescribeRepositoriesCommand)).toHaveLength(1);
    expect(mock.commandCalls(DescribeRepositoriesCommand)[0]!.args[0].input.repositoryNames).toEqual(
      SERVICES,
    );
    expect(mock.commandCalls(BatchGetImageCommand)).toHaveLength(6);
    expect(calls).toBe(7);
    expect(images.get('payment-service')).toEqual({
      repository: 'payment-service',
      tag: '1.4.2',
      uri: `${REGISTRY}/payment-service`,
      digest: digestOf('payment-service', '1.4.2'),
    });
    expect([...images.keys()].sort()).toEqual([...SERVICES].sort());
  });

  it('asks once per repository with all its tags when services share a repository', async () => {
    const { client, mock } = fakeEcr({ shop: ['api-1', 'user-1'] });

    const { images, calls } = await resolveImages(client, [
      { service: 'api-gateway', repository: 'shop', tag: 'api-1' },
      { service: 'user-service', repository: 'shop', tag: 'user-1' },
    ]);

    const batch = mock.commandCalls(BatchGetImageCommand);
    expect(batch).toHaveLength(1);
    expect(batch[0]!.args[0].input.imageIds).toEqual([{ imageTag: 'api-1' }, { imageTag: 'user-1' }]);
    expect(calls).toBe(2);
    expect(images.get('api-gateway')?.digest).toBe(digestOf('shop', 'api-1'));
    expect(images.get('user-service')?.digest).toBe(digestOf('shop', 'user-1'));
  });

  it('splits more than 100 tags of one repository into chunks of 100', async () => {
    const tags = Array.from({ length: 150 }, (_, i) => `t${i}`);
    const { client, mock } = fakeEcr({ shop: tags });

    const { images } = await resolveImages(
      client,
      tags.map((tag, i) => ({ service: `svc-${i}`, repository: 'shop', tag })),
    );

    expect(mock.commandCalls(BatchGetImageCommand).map((c) => c.args[0].input.imageIds?.length)).toEqual([
      100, 50,
    ]);
    expect(images.size).toBe(150);
  });

  it('lists every missing image, naming the service, in one preflight error', async () => {
    const registry = Object.fromEntries(SERVICES.map((s) => [s, ['1.4.1']]));
    registry['api-gateway'] = ['1.4.1', '1.4.2'];
    registry['user-service'] = ['1.4.2'];
    const { client } = fakeEcr(registry);

    const err = await rejection(resolveImages(client, request('1.4.2')));

    expect(err.kind).toBe('preflight');
    expect(err.exitCode).toBe(2);
    expect(err.message).toBe('4 of 6 service image(s) are not in ECR');
    expect(err.details).toEqual([
      'product-service: image product-service:1.4.2 not found (ImageNotFound: Requested image not found)',
      'order-service: image order-service:1.4.2 not found (ImageNotFound: Requested image not found)',
      'payment-service: image payment-service:1.4.2 not found (ImageNotFound: Requested image not found)',
      'notification-service: image notification-service:1.4.2 not found (ImageNotFound: Requested image not found)',
    ]);
    expect(err.hint).toMatch(/push the missing image.*--tag/);
  });

  it('finds every missing repository although DescribeRepositories fails as a whole', async () => {
    const { client, mock } = fakeEcr({ 'api-gateway': ['1.0.0'], 'user-service': ['1.0.0'] });

    const err = await rejection(
      resolveImages(
        client,
        request('1.0.0', ['api-gateway', 'user-service', 'order-service', 'payment-service']),
      ),
    );

    expect(err.details).toEqual([
      'order-service: ECR repository order-service does not exist (wanted order-service:1.0.0)',
      'payment-service: ECR repository payment-service does not exist (wanted payment-service:1.0.0)',
    ]);
    expect(err.hint).toMatch(/repository.*deploy file/);
    // The batched call, then one per repository to tell which names are missing.
    expect(mock.commandCalls(DescribeRepositoriesCommand)).toHaveLength(5);
    // Only the repositories that exist are asked for images.
    expect(
      mock
        .commandCalls(BatchGetImageCommand)
        .map((c) => c.args[0].input.repositoryName)
        .sort(),
    ).toEqual(['api-gateway', 'user-service']);
  });

  it('names the service in `where` when only one image is missing', async () => {
    const { client } = fakeEcr({ 'api-gateway': ['2.0.0'], 'user-service': [] });

    const err = await rejection(resolveImages(client, request('2.0.0', ['api-gateway', 'user-service'])));

    expect(err.where.service).toBe('user-service');
    expect(err.describe()).toContain('user-service: image user-service:2.0.0 not found');
  });

  it('reports other BatchGetImage failure codes with their reason', async () => {
    const client = new ECRClient({ region: 'eu-west-1' });
    mockClient(client)
      .on(DescribeRepositoriesCommand)
      .resolves({ repositories: [{ repositoryName: 'shop', repositoryUri: `${REGISTRY}/shop` }] })
      .on(BatchGetImageCommand)
      .resolves({
        failures: [{ imageId: { imageTag: 'v1' }, failureCode: 'KmsError', failureReason: 'key disabled' }],
      });

    const err = await rejection(
      resolveImages(client, [{ service: 'api-gateway', repository: 'shop', tag: 'v1' }]),
    );

    expect(err.message).toBe('1 of 1 service image(s) could not be resolved in ECR');
    expect(err.details).toEqual([
      'api-gateway: image shop:v1 could not be resolved (KmsError: key disabled)',
    ]);
  });

  it('turns AccessDenied into a preflight error that says which permission is needed', async () => {
    const client = new ECRClient({ region: 'eu-west-1' });
    const denied = Object.assign(
      new Error('User: arn:aws:iam::1:role/ci is not authorized to perform: ecr:DescribeRepositories'),
      {
        name: 'AccessDeniedException',
      },
    );
    mockClient(client).on(DescribeRepositoriesCommand).rejects(denied);

    const err = await rejection(resolveImages(client, request('1.0.0', ['api-gateway'])));

    expect(err.kind).toBe('preflight');
    expect(err.message).toBe('ECR DescribeRepositories: access denied');
    expect(err.details[0]).toContain('ecr:DescribeRepositories');
    expect(err.hint).toContain('ecr:BatchGetImage');
  });

  describe('without credentials', () => {
    const saved = { ...process.env };
    beforeEach(() => {
      for (const k of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN'])
        delete process.env[k];
    });
    afterEach(() => {
      process.env = { ...saved };
    });

    it('exits 2 and says how to provide credentials', async () => {
      // A real, unmocked client: the SDK's own provider fails before any request is made.
      const client = new ECRClient({
        region: 'eu-west-1',
        credentials: fromEnv(),
        endpoint: 'http://127.0.0.1:9',
      });

      const err = await rejection(resolveImages(client, request('1.0.0', ['api-gateway'])));

      expect(err.exitCode).toBe(2);
      expect(err.message).toBe('ECR DescribeRepositories: no AWS credentials found');
      expect(err.hint).toMatch(/configure-aws-credentials.*AWS_PROFILE.*AWS_ACCESS_KEY_ID/);
    });
  });
});

describe('ecrLogin', () => {
  const password = 'eyJwYXlsb2FkIjoic2VjcmV0In0=';
  const token = Buffer.from(`AWS:${password}`).toString('base64');

  /** Remembers the order in which secrets were masked and lines were written. */
  class OrderedOutput extends MemoryOutput {
    readonly events: string[] = [];
    override setSecret(value: string) {
      this.events.push(`secret:${value}`);
      super.setSecret(value);
    }
    override info(message: string) {
      this.events.push(`info:${message}`);
      super.info(message);
    }
  }

  it('masks the token and the password before handing them out', async () => {
    const client = new ECRClient({ region: 'eu-west-1' });
    mockClient(client)
      .on(GetAuthorizationTokenCommand)
      .resolves({ authorizationData: [{ authorizationToken: token, proxyEndpoint: `https://${REGISTRY}` }] });
    const out = new OrderedOutput();

    const login = await ecrLogin(client, out);

    expect(login).toEqual({ host: REGISTRY, username: 'AWS', password });
    expect(out.events).toEqual([`secret:${token}`, `secret:${password}`]);
    expect(out.text()).not.toContain(password);
  });

  it('masks a malformed token and does not echo it in the error', async () => {
    const bad = Buffer.from('no-colon-here').toString('base64');
    const client = new ECRClient({ region: 'eu-west-1' });
    mockClient(client)
      .on(GetAuthorizationTokenCommand)
      .resolves({ authorizationData: [{ authorizationToken: bad, proxyEndpoint: `https://${REGISTRY}` }] });
    const out = new MemoryOutput();

    const err = await rejection(ecrLogin(client, out));

    expect(out.secrets).toEqual([bad]);
    expect(err.describe()).not.toContain(bad);
    expect(err.describe()).not.toContain('no-colon-here');
  });

  it('maps AccessDenied on GetAuthorizationToken', async () => {
    const client = new ECRClient({ region: 'eu-west-1' });
    mockClient(client)
      .on(GetAuthorizationTokenCommand)
      .rejects(
        Object.assign(new Error('not authorized: ecr:GetAuthorizationToken'), {
          name: 'AccessDeniedException',
        }),
      );

    const err = await rejection(ecrLogin(client, new MemoryOutput()));

    expect(err.message).toBe('ECR GetAuthorizationToken: access denied');
  });
});

describe('ecrRegistryRegion', () => {
  it.each([
    ['123456789012.dkr.ecr.us-east-1.amazonaws.com', 'us-east-1'],
    ['123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com', 'us-gov-west-1'],
    ['123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn', 'cn-north-1'],
    ['123456789012.dkr-ecr.eu-west-1.on.aws', 'eu-west-1'],
  ])('%s is ECR in %s', (host, region) => {
    expect(ecrRegistryRegion(host)).toBe(region);
  });

  it.each([
    'ghcr.io',
    'public.ecr.aws',
    '123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.example',
    'x123456789012.dkr.ecr.us-east-1.amazonaws.com',
    '127.0.0.1:5000',
  ])('%s is not an ECR private registry', (host) => {
    expect(ecrRegistryRegion(host)).toBeUndefined();
  });
});
