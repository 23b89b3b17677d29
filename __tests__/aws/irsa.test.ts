import {
  evaluateTrust,
  oidcProviderArn,
  parsePolicyDocument,
  parseRoleArn,
  trustPolicyFor,
  wildcardMatch,
  type IrsaSubject,
} from '../../src/aws/irsa.js';

const ISSUER = 'https://oidc.eks.eu-west-1.amazonaws.com/id/B7E1D2C3A4F5';
const HP = 'oidc.eks.eu-west-1.amazonaws.com/id/B7E1D2C3A4F5';
const PROVIDER = `arn:aws:iam::111122223333:oidc-provider/${HP}`;
const subject: IrsaSubject = {
  issuer: ISSUER,
  providerArn: PROVIDER,
  namespace: 'production',
  serviceAccount: 'order-service',
};

const statement = (over: object = {}) => ({
  Effect: 'Allow',
  Principal: { Federated: PROVIDER },
  Action: 'sts:AssumeRoleWithWebIdentity',
  Condition: {
    StringEquals: {
      [`${HP}:sub`]: 'system:serviceaccount:production:order-service',
      [`${HP}:aud`]: 'sts.amazonaws.com',
    },
  },
  ...over,
});
const judge = (doc: object) => evaluateTrust(parsePolicyDocument(JSON.stringify(doc)), subject);

describe('policy documents as IAM returns them', () => {
  it('decodes URL-encoded JSON, and takes plain JSON as it is', () => {
    const doc = { Version: '2012-10-17', Statement: [statement()] };
    expect(parsePolicyDocument(encodeURIComponent(JSON.stringify(doc)))).toEqual(doc);
    expect(parsePolicyDocument(JSON.stringify(doc))).toEqual(doc);
    expect(() => parsePolicyDocument('%5B%5D')).toThrow(/not a JSON object/);
  });

  it('role ARNs with and without a path; anything else is not one', () => {
    expect(parseRoleArn('arn:aws:iam::123456789012:role/order-service-role')).toEqual({
      partition: 'aws',
      account: '123456789012',
      name: 'order-service-role',
    });
    expect(parseRoleArn('arn:aws-cn:iam::123456789012:role/team/irsa/order')?.name).toBe('order');
    expect(parseRoleArn('arn:aws:iam::123456789012:user/bob')).toBeUndefined();
    expect(parseRoleArn('order-service-role')).toBeUndefined();
  });

  it("names the provider by the issuer's host and path", () => {
    expect(oidcProviderArn('111122223333', `${ISSUER}/`)).toBe(PROVIDER);
  });
});

describe('wildcards are evaluated, not searched for', () => {
  it.each([
    ['system:serviceaccount:production:*', 'system:serviceaccount:production:order-service', true],
    ['system:serviceaccount:*:order-service', 'system:serviceaccount:production:order-service', true],
    [
      'system:serviceaccount:production:order-?ervice',
      'system:serviceaccount:production:order-service',
      true,
    ],
    ['system:serviceaccount:production:order', 'system:serviceaccount:production:order-service', false],
    ['serviceaccount:production:order-service', 'system:serviceaccount:production:order-service', false],
    [
      'system:serviceaccount:production:order-service?',
      'system:serviceaccount:production:order-service',
      false,
    ],
    ['system:serviceaccount:prod.ction:*', 'system:serviceaccount:production:x', false],
  ])('%s ~ %s: %s', (pattern, value, expected) => expect(wildcardMatch(pattern, value)).toBe(expected));
});

describe('trust policies', () => {
  it('the usual one passes: Statement as an array, StringEquals on sub and aud', () => {
    expect(judge({ Version: '2012-10-17', Statement: [statement()] })).toEqual({ ok: true, notes: [] });
  });

  it('Statement as one object, Action and Federated as lists, condition values as lists', () => {
    const doc = {
      Statement: statement({
        Action: ['sts:TagSession', 'sts:AssumeRoleWithWebIdentity'],
        Principal: { Federated: ['arn:aws:iam::111122223333:oidc-provider/other', PROVIDER] },
        Condition: {
          StringEquals: {
            [`${HP}:sub`]: [
              'system:serviceaccount:staging:order-service',
              'system:serviceaccount:production:order-service',
            ],
            [`${HP}:aud`]: ['sts.amazonaws.com'],
          },
        },
      }),
    };
    expect(judge(doc).ok).toBe(true);
  });

  it('an action wildcard (sts:AssumeRole*) covers the web-identity call; sts:AssumeRole alone does not', () => {
    expect(judge({ Statement: [statement({ Action: 'sts:AssumeRole*' })] }).ok).toBe(true);
    expect(judge({ Statement: [statement({ Action: 'sts:AssumeRole' })] }).ok).toBe(false);
  });

  it('StringLike with a wildcard that covers the service account passes; one that does not fails', () => {
    const like = (sub: string) =>
      judge({
        Statement: [
          statement({
            Condition: { StringLike: { [`${HP}:sub`]: sub, [`${HP}:aud`]: 'sts.amazonaws.com' } },
          }),
        ],
      });
    expect(like('system:serviceaccount:production:*').ok).toBe(true);
    expect(like('system:serviceaccount:production:order').ok).toBe(false);
  });

  it('condition keys are case-insensitive', () => {
    const doc = {
      Statement: [
        statement({
          Condition: {
            StringEquals: {
              [`${HP.toUpperCase()}:SUB`]: 'system:serviceaccount:production:order-service',
              [`${HP}:aud`]: 'sts.amazonaws.com',
            },
          },
        }),
      ],
    };
    expect(judge(doc).ok).toBe(true);
  });

  it('the wrong service account: says what it allows and what it must', () => {
    const v = judge({
      Statement: [
        statement({
          Condition: { StringEquals: { [`${HP}:sub`]: 'system:serviceaccount:production:payment-service' } },
        }),
      ],
    });
    expect(v.ok).toBe(false);
    if (v.ok) return;
    expect(v.allows).toBe(
      `statement 1: Allow sts:AssumeRoleWithWebIdentity for Federated ${PROVIDER} when ${HP}:sub StringEquals "system:serviceaccount:production:payment-service"`,
    );
    expect(v.needs).toBe(
      `Allow sts:AssumeRoleWithWebIdentity for Federated ${PROVIDER} when ${HP}:sub StringEquals "system:serviceaccount:production:order-service" and ${HP}:aud StringEquals "sts.amazonaws.com"`,
    );
  });

  it("another cluster's provider fails", () => {
    const other = 'oidc.eks.eu-west-1.amazonaws.com/id/0THER';
    const v = judge({
      Statement: [
        statement({
          Principal: { Federated: `arn:aws:iam::111122223333:oidc-provider/${other}` },
          Condition: { StringEquals: { [`${other}:sub`]: 'system:serviceaccount:production:order-service' } },
        }),
      ],
    });
    expect(v).toMatchObject({ ok: false, allows: expect.stringContaining('0THER') });
  });

  it('the wrong audience fails', () => {
    const v = judge({
      Statement: [
        statement({
          Condition: {
            StringEquals: {
              [`${HP}:sub`]: 'system:serviceaccount:production:order-service',
              [`${HP}:aud`]: 'my-app',
            },
          },
        }),
      ],
    });
    expect(v.ok).toBe(false);
  });

  it('no condition on sub at all fails: every service account could assume the role', () => {
    const v = judge({ Statement: [statement({ Condition: undefined })] });
    expect(v).toMatchObject({
      ok: false,
      why: expect.stringContaining(`no condition on ${HP.toLowerCase()}:sub`),
    });
  });

  it('no condition on aud passes, with a note', () => {
    const v = judge({
      Statement: [
        statement({
          Condition: { StringEquals: { [`${HP}:sub`]: 'system:serviceaccount:production:order-service' } },
        }),
      ],
    });
    expect(v).toEqual({ ok: true, notes: [expect.stringContaining(':aud (should be sts.amazonaws.com)')] });
  });

  it('an explicit Deny wins over the Allow', () => {
    const v = judge({
      Statement: [
        statement(),
        statement({
          Effect: 'Deny',
          Sid: 'NoProd',
          Condition: { StringLike: { [`${HP}:sub`]: 'system:serviceaccount:production:*' } },
        }),
      ],
    });
    expect(v).toMatchObject({ ok: false, why: expect.stringContaining('statement "NoProd": Deny') });
  });

  it('StringNotEquals excluding another account passes; excluding this one fails', () => {
    const not = (sub: string) =>
      judge({
        Statement: [
          statement({
            Condition: {
              StringLike: { [`${HP}:sub`]: 'system:serviceaccount:production:*' },
              StringNotEquals: { [`${HP}:sub`]: sub },
            },
          }),
        ],
      });
    expect(not('system:serviceaccount:production:debug').ok).toBe(true);
    expect(not('system:serviceaccount:production:order-service').ok).toBe(false);
  });

  it('an operator it cannot evaluate is said, not guessed', () => {
    const v = judge({
      Statement: [statement({ Condition: { ArnLike: { 'aws:SourceArn': 'arn:aws:*' } } })],
    });
    expect(v).toMatchObject({ ok: false, why: expect.stringContaining('ArnLike is not evaluated') });
  });

  it('a role trusting only the EKS service (no web identity) fails', () => {
    const v = judge({
      Statement: { Effect: 'Allow', Principal: { Service: 'eks.amazonaws.com' }, Action: 'sts:AssumeRole' },
    });
    expect(v).toMatchObject({
      ok: false,
      allows: 'statement 1: Allow sts:AssumeRole for Service eks.amazonaws.com',
    });
  });

  it('the suggested trust policy passes its own check', () => {
    expect(evaluateTrust(parsePolicyDocument(trustPolicyFor(subject)), subject)).toEqual({
      ok: true,
      notes: [],
    });
  });
});
