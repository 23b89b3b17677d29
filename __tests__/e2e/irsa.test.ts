/**
 * The IRSA preflight on the stand-in: moto holds the cluster's OIDC provider and each
 * service's role (local-cluster/aws/harness.py). A role whose trust does not fit, a
 * missing provider or role, stops the real CLI deploy with exit 2 before any release.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateOpenIDConnectProviderCommand,
  CreateRoleCommand,
  DeleteOpenIDConnectProviderCommand,
  DeleteRoleCommand,
  GetOpenIDConnectProviderCommand,
  GetRoleCommand,
  IAMClient,
  ListOpenIDConnectProvidersCommand,
  UpdateAssumeRolePolicyCommand,
} from '@aws-sdk/client-iam';
import { DescribeClusterCommand, EKSClient } from '@aws-sdk/client-eks';
import {
  helmReleases,
  pushImages,
  readStandInEnv,
  restrictedNamespace,
  type StandInEnv,
} from '../../scripts/stand-in.mjs';
import { deployCli } from './run.js';

const NS = 'e2e-irsa';
const TAG = 'irsa-1';
const SERVICES = ['order-service', 'notification-service'];
let env: StandInEnv;
let iam: IAMClient;
let issuer: string;
let tmp: string;

beforeAll(async () => {
  const found = readStandInEnv(process.env.E2E_RUN_DIR);
  if (!found) throw new Error('the e2e stand-in is not running: run the e2e tests with `npm run test:e2e`');
  env = found;
  const config = {
    region: env.AWS_REGION,
    endpoint: env.AWS_ENDPOINT_URL,
    credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY },
  };
  iam = new IAMClient(config);
  const eks = new EKSClient(config);
  issuer = (await eks.send(new DescribeClusterCommand({ name: env.EKS_CLUSTER_NAME }))).cluster!.identity!
    .oidc!.issuer!;
  restrictedNamespace(env, NS);
  await pushImages(env, SERVICES, TAG);
  tmp = mkdtempSync(join(tmpdir(), 'e2e-irsa-'));
});

const deploy = (name: string) =>
  deployCli(env, {
    namespace: NS,
    tag: TAG,
    report: join(tmp, `${name}.json`),
    extraArgs: ['--services', SERVICES.join(','), '--timeout', '120'],
  });

const trustOf = async (role: string) =>
  decodeURIComponent(
    (await iam.send(new GetRoleCommand({ RoleName: role }))).Role!.AssumeRolePolicyDocument!,
  );

/** Runs `change`, then the deploy, then puts IAM back as it was. */
async function refusedWith(change: () => Promise<() => Promise<void>>, message: RegExp) {
  const restore = await change();
  try {
    const run = await deploy(String(Date.now()));
    expect({ code: run.code, message: run.report?.error?.message }).toEqual({
      code: 2,
      message: expect.stringMatching(message),
    });
    expect(run.stderr).toMatch(message);
    expect(helmReleases(env, NS)).toEqual([]);
    return run;
  } finally {
    await restore();
  }
}

async function withTrust(role: string, edit: (trust: string) => string) {
  const original = await trustOf(role);
  await iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: role, PolicyDocument: edit(original) }));
  return async () =>
    void (await iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: role, PolicyDocument: original })));
}

describe('IRSA preflight on the stand-in', () => {
  it('the seeded cluster has an issuer and its provider is registered', async () => {
    expect(issuer).toMatch(/^https:\/\/oidc\.eks\.[a-z0-9-]+\.amazonaws\.com\/id\/[0-9A-F]{32}$/);
    const arns = (await iam.send(new ListOpenIDConnectProvidersCommand({}))).OpenIDConnectProviderList!.map(
      (p) => p.Arn,
    );
    expect(arns).toContain(`arn:aws:iam::123456789012:oidc-provider/${issuer.slice(8)}`);
  });

  it('refuses a role that trusts another service account (exit 2, no release)', async () => {
    const run = await refusedWith(
      () => withTrust('order-service-role', (t) => t.replaceAll(':order-service', ':payment-service')),
      /order-service: role arn:aws:iam::123456789012:role\/order-service-role: its trust policy does not let ServiceAccount e2e-irsa\/order-service assume it/,
    );
    expect(run.report!.error!.message).toContain('system:serviceaccount:e2e-*:payment-service');
    expect(run.report!.error!.message).toContain('It must allow: Allow sts:AssumeRoleWithWebIdentity');
  });

  it("refuses a role that trusts another cluster's issuer", () =>
    refusedWith(
      () =>
        withTrust('notification-service-role', (t) =>
          t.replaceAll(issuer.slice(8), 'oidc.eks.us-east-1.amazonaws.com/id/0THERCLUSTER'),
        ),
      /notification-service: role .*notification-service-role: its trust policy does not let .*0THERCLUSTER/s,
    ));

  it("refuses when the cluster's OIDC provider is not registered in IAM", () =>
    refusedWith(async () => {
      const arn = `arn:aws:iam::123456789012:oidc-provider/${issuer.slice(8)}`;
      const p = await iam.send(new GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: arn }));
      await iam.send(new DeleteOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: arn }));
      return async () =>
        void (await iam.send(
          new CreateOpenIDConnectProviderCommand({
            Url: issuer,
            ClientIDList: p.ClientIDList,
            ThumbprintList: p.ThumbprintList,
          }),
        ));
    }, /2 services could not assume their IAM role \(IRSA\): order-service, notification-service/));

  it('refuses a role that does not exist', () =>
    refusedWith(async () => {
      const trust = await trustOf('order-service-role');
      await iam.send(new DeleteRoleCommand({ RoleName: 'order-service-role' }));
      return async () =>
        void (await iam.send(
          new CreateRoleCommand({ RoleName: 'order-service-role', AssumeRolePolicyDocument: trust }),
        ));
    }, /order-service: role arn:aws:iam::123456789012:role\/order-service-role \(for ServiceAccount e2e-irsa\/order-service\) does not exist/));

  it('deploys with the seeded roles, saying each ServiceAccount can assume its role', async () => {
    const run = await deploy('good');
    expect({ code: run.code, out: run.code === 0 ? '' : run.output }).toEqual({ code: 0, out: '' });
    expect(run.stderr).toContain(
      'order-service: IRSA: ServiceAccount order-service can assume arn:aws:iam::123456789012:role/order-service-role',
    );
    expect(helmReleases(env, NS).map((r: { name: string }) => r.name)).toEqual(
      expect.arrayContaining(SERVICES),
    );
  });
});
