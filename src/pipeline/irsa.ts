/**
 * IRSA preflight: before anything changes, every service whose rendered ServiceAccount
 * names an IAM role (`eks.amazonaws.com/role-arn`) must be able to assume it: the role
 * exists, the cluster's OIDC provider is registered in IAM (for sts.amazonaws.com), and
 * the role's trust policy lets that provider assume it for
 * system:serviceaccount:<namespace>:<service account>. Otherwise the pods would start
 * and fail at their first AWS call. Only for an EKS cluster (a plain kubeconfig gives
 * no issuer). The judging is src/aws/irsa.ts; this file makes the (read-only) IAM calls.
 */
import {
  GetOpenIDConnectProviderCommand,
  GetRoleCommand,
  ListOpenIDConnectProvidersCommand,
  type IAMClient,
} from '@aws-sdk/client-iam';
import type { EksCluster } from '../aws/eks.js';
import { awsError, awsErrorName, isAccessDenied } from '../aws/errors.js';
import {
  evaluateTrust,
  oidcProviderArn,
  parsePolicyDocument,
  parseRoleArn,
  STS_AUDIENCE,
  trustPolicyFor,
  type IrsaSubject,
} from '../aws/irsa.js';
import { preflightError } from '../errors.js';
import { ROLE_ARN_ANNOTATION } from '../helm/manifest.js';
import { userValues } from '../helm/values.js';
import type { Plan, PlannedService } from '../model.js';
import type { ClusterAccess, RenderedService, RunContext } from './context.js';

export interface IrsaCheck {
  service: string;
  /** The role ARN the ServiceAccount is annotated with. */
  role?: string;
  /** `skipped`: no role to check, or no permission to read IAM. */
  verdict: 'ok' | 'failed' | 'skipped';
  message: string;
  /** What to do about a failure. */
  hint?: string;
  /** Passed, with something worth saying (e.g. the trust does not check `aud`). */
  notes?: string[];
}

/** A run's IRSA check, started while the services render. */
export interface IrsaRun {
  /** Starts one service's check, as soon as it is rendered. */
  add(service: RenderedService): void;
  /** Waits for every check; stops the run with exit 2 when a service could not assume its role. */
  verdict(): Promise<void>;
}

/**
 * The IRSA check (EKS clusters only; undefined otherwise). Each service is checked as soon as
 * it renders (the IAM lookups the services share are made once), so the IAM round trips
 * (a global endpoint, often far from the cluster's region) overlap the rendering instead of
 * following it. Only reads; the verdict is given after every service has rendered.
 */
export function startIrsa(ctx: RunContext, plan: Plan, cluster: ClusterAccess): IrsaRun | undefined {
  if (!cluster.eks) return undefined;
  const check = irsaChecker(ctx, plan, cluster.eks);
  // The role each service's values name: its IAM lookups start now, while it renders, instead of
  // after (the rendered ServiceAccount is still what is judged; another role there is looked up then).
  for (const svc of plan.services) void roleInValues(plan, svc).then((arn) => arn && check.warm(arn));
  const pending = new Map<string, Promise<IrsaCheck>>();
  return {
    add(service) {
      const p = check(service.svc, service);
      p.catch(() => {}); // judged by verdict(); a run stopped earlier (a render error) never asks
      pending.set(service.svc.name, p);
    },
    verdict: () =>
      irsaVerdict(ctx, () =>
        Promise.all(plan.services.map((svc) => pending.get(svc.name) ?? check(svc, undefined))),
      ),
  };
}

async function irsaVerdict(ctx: RunContext, run: () => Promise<IrsaCheck[]>): Promise<void> {
  const checks = await ctx.out.group('Checking IRSA: IAM roles of the service accounts', run);
  const skipped = checks.filter((c) => c.verdict === 'skipped' && c.role);
  if (skipped.length)
    ctx.results.warnGrouped(skipped.map((c) => ({ service: c.service, message: c.message })));
  for (const c of checks) {
    for (const note of c.notes ?? []) ctx.results.warn(`${c.service}: IRSA role ${c.role}: ${note}`);
    if (c.verdict === 'ok') ctx.out.info(`${c.service}: ${c.message}`);
  }
  const failed = checks.filter((c) => c.verdict === 'failed');
  if (!failed.length) return;
  const first = failed[0]!;
  throw preflightError(
    failed.length === 1
      ? `${first.service}: ${first.message}`
      : `${failed.length} services could not assume their IAM role (IRSA): ${failed.map((c) => c.service).join(', ')}`,
    {
      where: failed.length === 1 ? { service: first.service } : undefined,
      details: failed.length === 1 ? [] : failed.map((c) => `${c.service}: ${c.message}`),
      hint: failed.length === 1 ? first.hint : [...new Set(failed.map((c) => c.hint))].join('; '),
    },
  );
}

/** One result per planned service; throws only for IAM failures other than access denied. */
export async function checkIrsa(
  ctx: RunContext,
  plan: Plan,
  rendered: Map<string, RenderedService>,
  cluster: EksCluster,
): Promise<IrsaCheck[]> {
  const check = irsaChecker(ctx, plan, cluster);
  return Promise.all(plan.services.map((svc) => check(svc, rendered.get(svc.name))));
}

/**
 * The IAM role ARN the service's values give its ServiceAccount (environment values, its
 * overrides, then the deploy file's own), or undefined: none, or a file that cannot be read
 * (the render reports that).
 */
async function roleInValues(plan: Plan, svc: PlannedService): Promise<string | undefined> {
  try {
    const values = await userValues([...plan.environmentValues, ...svc.valuesFiles], {});
    const annotations = (v: unknown) =>
      ((v as { serviceAccount?: { annotations?: Record<string, unknown> } } | undefined)?.serviceAccount
        ?.annotations ?? {})[ROLE_ARN_ANNOTATION];
    const arn = annotations(svc.values) ?? annotations(values);
    return typeof arn === 'string' ? arn : undefined;
  } catch {
    return undefined;
  }
}

type Checker = ((svc: PlannedService, rendered: RenderedService | undefined) => Promise<IrsaCheck>) & {
  /** Starts the IAM lookups a check of this role will make (errors are left to the check). */
  warm(roleArn: string): void;
};

/** Checks one service at a time; the IAM lookups are shared (each made once, by the first check or warm-up that needs it). */
function irsaChecker(ctx: RunContext, plan: Plan, cluster: EksCluster): Checker {
  const iam = ctx.deps.awsClients(cluster.region).iam;
  const providers = memo(() => listProviders(iam));
  const providerInfo = memoBy((arn: string) => getProvider(iam, arn));
  const trust = memoBy((name: string) => trustDocument(iam, name));
  const lookups: Lookups = { providers, providerInfo, trust };
  const warm = (roleArn: string) => {
    const role = parseRoleArn(roleArn);
    if (!role || !cluster.oidcIssuer) return;
    const providerArn = oidcProviderArn(role.account, cluster.oidcIssuer, role.partition);
    const provider = providers().then((list) =>
      list.includes(providerArn) ? providerInfo(providerArn) : undefined,
    );
    for (const p of [provider, trust(role.name)]) p.catch(() => {});
  };
  const check = async (svc: PlannedService, rendered: RenderedService | undefined): Promise<IrsaCheck> => {
    const sa = rendered?.expected.serviceAccount;
    if (!sa?.roleArn) {
      return {
        service: svc.name,
        verdict: 'skipped',
        message: `no IAM role: its ServiceAccount has no ${ROLE_ARN_ANNOTATION} annotation`,
      };
    }
    const base = { service: svc.name, role: sa.roleArn };
    try {
      return { ...base, ...(await checkRole(lookups, cluster, plan.namespace, sa)) };
    } catch (err) {
      if (!isAccessDenied(err)) throw awsError(err, `IAM (IRSA check of ${svc.name}, role ${sa.roleArn})`);
      return {
        ...base,
        verdict: 'skipped',
        message:
          `IRSA check skipped: no permission to read IAM (${awsErrorName(err)}); whether the pods can assume ` +
          `${sa.roleArn} is not known. Grant iam:GetRole, iam:ListOpenIDConnectProviders and ` +
          'iam:GetOpenIDConnectProvider to the deploy identity to have it checked',
      };
    }
  };
  return Object.assign(check, { warm });
}

type Verdict = Omit<IrsaCheck, 'service' | 'role'>;

/** The run's IAM reads, each made once. */
interface Lookups {
  providers: () => Promise<string[]>;
  providerInfo: (arn: string) => Promise<string[] | undefined>;
  /** A role's trust policy document; undefined when the role does not exist. */
  trust: (roleName: string) => Promise<string | undefined>;
}

async function checkRole(
  { providers, providerInfo, trust }: Lookups,
  cluster: EksCluster,
  namespace: string,
  sa: { name: string; roleArn?: string },
): Promise<Verdict> {
  const roleArn = sa.roleArn!;
  const role = parseRoleArn(roleArn);
  if (!role) {
    return {
      verdict: 'failed',
      message: `ServiceAccount ${sa.name}: ${ROLE_ARN_ANNOTATION} "${roleArn}" is not an IAM role ARN`,
      hint: 'set serviceAccount.annotations."eks.amazonaws.com/role-arn" to arn:aws:iam::<account>:role/<name>',
    };
  }
  const issuer = cluster.oidcIssuer;
  if (!issuer) {
    return {
      verdict: 'failed',
      message: `EKS cluster ${cluster.name} shows no OIDC issuer (identity.oidc.issuer), so no service account can assume ${roleArn}`,
      hint: `look at the cluster with \`aws eks describe-cluster --name ${cluster.name}\``,
    };
  }
  const providerArn = oidcProviderArn(role.account, issuer, role.partition);
  const subject: IrsaSubject = { issuer, providerArn, namespace, serviceAccount: sa.name };
  const registered = (await providers()).includes(providerArn);
  const audiences = registered ? await providerInfo(providerArn) : undefined;
  if (!audiences) {
    return {
      verdict: 'failed',
      message: `role ${roleArn}: the cluster's OIDC provider ${providerArn} is not registered in IAM, so no service account can assume the role`,
      hint: `register it: \`eksctl utils associate-iam-oidc-provider --cluster ${cluster.name} --region ${cluster.region} --approve\` (or aws iam create-open-id-connect-provider --url ${issuer} --client-id-list ${STS_AUDIENCE})`,
    };
  }
  if (!audiences.includes(STS_AUDIENCE)) {
    return {
      verdict: 'failed',
      message: `role ${roleArn}: the OIDC provider ${providerArn} accepts the audiences ${audiences.join(', ') || '(none)'}, not ${STS_AUDIENCE}`,
      hint: `aws iam add-client-id-to-open-id-connect-provider --open-id-connect-provider-arn ${providerArn} --client-id ${STS_AUDIENCE}`,
    };
  }
  const document = await trust(role.name);
  const fix = `aws iam update-assume-role-policy --role-name ${role.name} --policy-document '${trustPolicyFor(subject)}'`;
  if (document === undefined) {
    return {
      verdict: 'failed',
      message: `role ${roleArn} (for ServiceAccount ${namespace}/${sa.name}) does not exist`,
      hint: `create the role with this trust policy, or correct ${ROLE_ARN_ANNOTATION} in the service's values: ${trustPolicyFor(subject)}`,
    };
  }
  let verdict;
  try {
    verdict = evaluateTrust(parsePolicyDocument(document), subject);
  } catch (err) {
    return {
      verdict: 'failed',
      message: `role ${roleArn}: its trust policy cannot be read: ${(err as Error).message}`,
      hint: fix,
    };
  }
  if (verdict.ok) {
    return {
      verdict: 'ok',
      message: `IRSA: ServiceAccount ${sa.name} can assume ${roleArn} (provider ${providerArn})`,
      notes: verdict.notes,
    };
  }
  return {
    verdict: 'failed',
    message:
      `role ${roleArn}: its trust policy does not let ServiceAccount ${namespace}/${sa.name} assume it` +
      `${verdict.why ? ` (${verdict.why})` : ''}. It allows: ${verdict.allows}. It must allow: ${verdict.needs}`,
    hint: `fix the role's trust policy: ${fix}`,
  };
}

async function trustDocument(iam: IAMClient, roleName: string): Promise<string | undefined> {
  try {
    return (await iam.send(new GetRoleCommand({ RoleName: roleName }))).Role?.AssumeRolePolicyDocument;
  } catch (err) {
    if (awsErrorName(err) === 'NoSuchEntityException' || awsErrorName(err) === 'NoSuchEntity')
      return undefined;
    throw err;
  }
}

async function listProviders(iam: IAMClient): Promise<string[]> {
  const list = await iam.send(new ListOpenIDConnectProvidersCommand({}));
  return (list.OpenIDConnectProviderList ?? []).flatMap((p) => (p.Arn ? [p.Arn] : []));
}

/** The provider's client IDs (audiences), or undefined when it is gone. */
async function getProvider(iam: IAMClient, arn: string): Promise<string[] | undefined> {
  try {
    const p = await iam.send(new GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: arn }));
    return p.ClientIDList ?? [];
  } catch (err) {
    if (awsErrorName(err) === 'NoSuchEntityException' || awsErrorName(err) === 'NoSuchEntity')
      return undefined;
    throw err;
  }
}

/** One call for every service that needs it (they run in parallel). */
function memo<T>(fn: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => (p ??= fn());
}

function memoBy<T>(fn: (key: string) => Promise<T>): (key: string) => Promise<T> {
  const cache = new Map<string, Promise<T>>();
  return (key) => cache.get(key) ?? cache.set(key, fn(key)).get(key)!;
}
