import { createHash, createHmac } from 'node:crypto';
import { fromEnv } from '@aws-sdk/credential-providers';
import { DeployError } from '../../src/errors.js';
import { createEksToken, eksTokenSource, execCredential } from '../../src/aws/token.js';

const credentials = {
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
  sessionToken: 'IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJH+session/token=',
};
const now = new Date('2024-05-01T12:00:07.123Z');

/** The URL inside the token, as EKS decodes it. */
function presignedUrl(token: string): URL {
  expect(token.startsWith('k8s-aws-v1.')).toBe(true);
  const body = token.slice('k8s-aws-v1.'.length);
  // base64url without padding: only [A-Za-z0-9_-].
  expect(body).toMatch(/^[A-Za-z0-9_-]+$/);
  return new URL(Buffer.from(body, 'base64url').toString('utf8'));
}

/** SigV4 per the spec, written out with node:crypto, independent of the signer under test. */
function expectedSignature(url: URL, clusterName: string, secret: string, region: string): string {
  const enc = (s: string) =>
    encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  const query = [...url.searchParams.entries()]
    .filter(([k]) => k !== 'X-Amz-Signature')
    .map(([k, v]) => [enc(k), enc(v)] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const canonicalRequest = [
    'GET',
    '/',
    query,
    `host:${url.host}\nx-k8s-aws-id:${clusterName}\n`,
    'host;x-k8s-aws-id',
    createHash('sha256').update('').digest('hex'),
  ].join('\n');
  const amzDate = url.searchParams.get('X-Amz-Date')!;
  const day = amzDate.slice(0, 8);
  const scope = `${day}/${region}/sts/aws4_request`;
  const stringToSign = [
    'AWS4-HMAC-SHA256',
    amzDate,
    scope,
    createHash('sha256').update(canonicalRequest).digest('hex'),
  ].join('\n');
  const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data).digest();
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, day), region), 'sts'), 'aws4_request');
  return createHmac('sha256', key).update(stringToSign).digest('hex');
}

describe('createEksToken', () => {
  it('presigns exactly the STS request EKS replays', async () => {
    const { token } = await createEksToken({
      clusterName: 'shop-prod',
      region: 'eu-west-1',
      credentials,
      now,
    });
    const url = presignedUrl(token);
    const q = url.searchParams;

    expect(url.protocol).toBe('https:');
    expect(url.host).toBe('sts.eu-west-1.amazonaws.com');
    expect(url.pathname).toBe('/');
    expect(q.get('Action')).toBe('GetCallerIdentity');
    expect(q.get('Version')).toBe('2011-06-15');
    expect(q.get('X-Amz-Algorithm')).toBe('AWS4-HMAC-SHA256');
    expect(q.get('X-Amz-Expires')).toBe('60');
    expect(q.get('X-Amz-Date')).toBe('20240501T120007Z');
    expect(q.get('X-Amz-Credential')).toBe('AKIDEXAMPLE/20240501/eu-west-1/sts/aws4_request');
    expect(q.get('X-Amz-SignedHeaders')!.split(';')).toEqual(['host', 'x-k8s-aws-id']);
    expect(q.get('X-Amz-Security-Token')).toBe(credentials.sessionToken);
    // The cluster name travels only as a signed header, never in the URL.
    expect(q.has('x-k8s-aws-id')).toBe(false);
  });

  it('carries a signature that verifies under SigV4 (known answer)', async () => {
    const { token } = await createEksToken({
      clusterName: 'shop-prod',
      region: 'eu-west-1',
      credentials,
      now,
    });
    const url = presignedUrl(token);

    const signature = url.searchParams.get('X-Amz-Signature');
    expect(signature).toMatch(/^[0-9a-f]{64}$/);
    expect(signature).toBe(expectedSignature(url, 'shop-prod', credentials.secretAccessKey, 'eu-west-1'));
    // The same inputs for another cluster must give another signature: the name is signed.
    expect(signature).not.toBe(
      expectedSignature(url, 'shop-stage', credentials.secretAccessKey, 'eu-west-1'),
    );
  });

  it('is deterministic for fixed credentials and time, and differs per cluster', async () => {
    const a = await createEksToken({ clusterName: 'shop-prod', region: 'us-east-1', credentials, now });
    const b = await createEksToken({ clusterName: 'shop-prod', region: 'us-east-1', credentials, now });
    const c = await createEksToken({ clusterName: 'shop-stage', region: 'us-east-1', credentials, now });

    expect(a.token).toBe(b.token);
    expect(a.token).not.toBe(c.token);
    expect(presignedUrl(a.token).host).toBe('sts.us-east-1.amazonaws.com');
  });

  it('reports the expiry the aws CLI reports: 14 minutes, no milliseconds', async () => {
    const { expirationTimestamp } = await createEksToken({
      clusterName: 'shop-prod',
      region: 'eu-west-1',
      credentials,
      now,
    });
    expect(expirationTimestamp).toBe('2024-05-01T12:14:07Z');
  });

  it('takes credentials from a provider and uses the STS host only when told to', async () => {
    const provider = async () => ({ accessKeyId: 'AKIDPROVIDER', secretAccessKey: 'secret' });
    const { token } = await createEksToken({
      clusterName: 'local',
      region: 'us-east-1',
      credentials: provider,
      now,
      stsHost: '127.0.0.1:4566',
    });
    const url = presignedUrl(token);

    expect(url.host).toBe('127.0.0.1:4566');
    expect(url.searchParams.get('X-Amz-Credential')).toBe('AKIDPROVIDER/20240501/us-east-1/sts/aws4_request');
    expect(url.searchParams.has('X-Amz-Security-Token')).toBe(false);
    expect(url.searchParams.get('X-Amz-Signature')).toBe(
      expectedSignature(url, 'local', 'secret', 'us-east-1'),
    );
  });

  it('ignores AWS_ENDPOINT_URL_STS: a real cluster verifies the regional host', async () => {
    const saved = process.env.AWS_ENDPOINT_URL_STS;
    process.env.AWS_ENDPOINT_URL_STS = 'http://127.0.0.1:5000';
    try {
      const { token } = await createEksToken({
        clusterName: 'shop-prod',
        region: 'eu-west-1',
        credentials,
        now,
      });
      expect(presignedUrl(token).host).toBe('sts.eu-west-1.amazonaws.com');
    } finally {
      if (saved === undefined) delete process.env.AWS_ENDPOINT_URL_STS;
      else process.env.AWS_ENDPOINT_URL_STS = saved;
    }
  });

  it('fails with exit 2 and a hint when there are no credentials', async () => {
    const saved = { ...process.env };
    for (const k of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN'])
      delete process.env[k];
    try {
      const err = await createEksToken({
        clusterName: 'shop-prod',
        region: 'eu-west-1',
        credentials: fromEnv(),
      }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(DeployError);
      expect((err as DeployError).exitCode).toBe(2);
      expect((err as DeployError).message).toBe(
        'creating the EKS token for shop-prod: no AWS credentials found',
      );
    } finally {
      process.env = saved;
    }
  });
});

describe('execCredential', () => {
  it('is the ExecCredential client-go reads from an exec plugin', async () => {
    const token = await createEksToken({ clusterName: 'shop-prod', region: 'eu-west-1', credentials, now });

    expect(execCredential(token)).toEqual({
      apiVersion: 'client.authentication.k8s.io/v1beta1',
      kind: 'ExecCredential',
      spec: {},
      status: { token: token.token, expirationTimestamp: '2024-05-01T12:14:07Z' },
    });
  });
});

describe('eksTokenSource', () => {
  function source(start: Date) {
    let t = start.getTime();
    let resolved = 0;
    const minted: string[] = [];
    const next = eksTokenSource({
      clusterName: 'shop',
      region: 'us-east-1',
      credentials: async () => {
        resolved++;
        return credentials;
      },
      clock: () => new Date(t),
      onToken: (token) => minted.push(token),
    });
    return { next, minted, resolved: () => resolved, advance: (ms: number) => (t += ms) };
  }

  it('mints once for commands started together, and reuses the token while it lasts long enough', async () => {
    const s = source(now);

    const together = await Promise.all([s.next(360), s.next(360), s.next(360)]);
    s.advance(5 * 60_000);
    const later = await s.next(360); // 14 min lifetime - 5 min used = 9 min left >= 6 min

    expect(new Set(together).size).toBe(1);
    expect(later).toBe(together[0]);
    expect(s.minted).toEqual([together[0]]);
    expect(s.resolved()).toBe(1);
    expect(presignedUrl(later!).searchParams.get('X-Amz-Date')).toBe('20240501T120007Z');
  });

  it('mints a fresh token when the last one would expire during the command', async () => {
    const s = source(now);
    const first = await s.next(360);
    s.advance(9 * 60_000); // 5 min left, the command may take 6

    const second = await s.next(360);

    expect(second).not.toBe(first);
    expect(presignedUrl(second!).searchParams.get('X-Amz-Date')).toBe('20240501T120907Z');
    expect(s.minted).toEqual([first, second]);
  });

  it('gives none for a wait longer than a token lives (the exec plugin refreshes instead)', async () => {
    const s = source(now);

    expect(await s.next(14 * 60 + 1)).toBeUndefined();
    expect(await s.next(14 * 60)).toMatch(/^k8s-aws-v1\./);
    expect(s.minted).toHaveLength(1);
  });

  it('fails the way createEksToken fails when there are no credentials', async () => {
    const next = eksTokenSource({
      clusterName: 'shop',
      region: 'us-east-1',
      credentials: async () => {
        throw Object.assign(new Error('Could not load credentials from any providers'), {
          name: 'CredentialsProviderError',
        });
      },
    });

    const err = await next(60).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(DeployError);
    expect((err as DeployError).message).toMatch(/credentials/i);
  });
});
