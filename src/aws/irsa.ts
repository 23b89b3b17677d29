/**
 * IRSA (IAM roles for service accounts), judged on paper: does a role's trust policy
 * let the cluster's OIDC provider assume it for one Kubernetes service account?
 * Pure functions over the policy document as IAM returns it (URL-encoded JSON); the
 * calls that fetch it are in src/pipeline/irsa.ts.
 *
 * What is evaluated, the way IAM does: Allow and Deny statements; Action / NotAction
 * with * and ? wildcards (case-insensitive); Principal "*" or Federated (string or
 * list); conditions StringEquals, StringNotEquals, StringEqualsIgnoreCase,
 * StringNotEqualsIgnoreCase, StringLike, StringNotLike (with IfExists and
 * ForAnyValue:/ForAllValues: prefixes), keys case-insensitive, values string or list
 * (any of them matches). A statement with any other condition operator cannot be
 * judged here and counts as not allowing.
 */

const WEB_IDENTITY_ACTION = 'sts:AssumeRoleWithWebIdentity';
export const STS_AUDIENCE = 'sts.amazonaws.com';

/** What must be allowed: this provider, for this service account. */
export interface IrsaSubject {
  /** The cluster's OIDC issuer URL, https://oidc.eks.<region>.amazonaws.com/id/<id>. */
  issuer: string;
  /** arn:aws:iam::<account>:oidc-provider/<issuer host+path> */
  providerArn: string;
  namespace: string;
  serviceAccount: string;
}

export type TrustVerdict =
  | { ok: true; notes: string[] }
  | {
      ok: false;
      /** What the policy allows, statement by statement. */
      allows: string;
      /** What it must allow. */
      needs: string;
      /** Why no statement matched, when one came close. */
      why?: string;
    };

interface Statement {
  Sid?: string;
  Effect?: string;
  Action?: string | string[];
  NotAction?: string | string[];
  Principal?: string | Record<string, string | string[]>;
  Condition?: Record<string, Record<string, string | string[] | boolean | number>>;
}

interface PolicyDocument {
  Version?: string;
  Statement?: Statement | Statement[];
}

/** `https://oidc.eks.us-east-1.amazonaws.com/id/ABC` -> `oidc.eks.us-east-1.amazonaws.com/id/ABC`. */
function issuerHostPath(issuer: string): string {
  return issuer.replace(/^https:\/\//i, '').replace(/\/+$/, '');
}

export function oidcProviderArn(account: string, issuer: string, partition = 'aws'): string {
  return `arn:${partition}:iam::${account}:oidc-provider/${issuerHostPath(issuer)}`;
}

/** `arn:aws:iam::123456789012:role/some/path/name` -> its account, partition and name (GetRole takes the name). */
export function parseRoleArn(arn: string): { partition: string; account: string; name: string } | undefined {
  const m = /^arn:(aws[\w-]*):iam::(\d{12}):role\/(?:[\w+=,.@/-]*\/)?([\w+=,.@-]+)$/.exec(arn.trim());
  return m ? { partition: m[1]!, account: m[2]!, name: m[3]! } : undefined;
}

/** IAM returns policy documents URL-encoded (RFC 3986); some tools hand them over decoded. */
export function parsePolicyDocument(raw: string): PolicyDocument {
  const text = raw.trim().startsWith('{') ? raw : decodeURIComponent(raw);
  const doc = JSON.parse(text) as unknown;
  if (!doc || typeof doc !== 'object' || Array.isArray(doc))
    throw new Error('the policy is not a JSON object');
  return doc as PolicyDocument;
}

const list = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** IAM's `*` (any run of characters, also none) and `?` (exactly one), anchored at both ends. */
export function wildcardMatch(pattern: string, value: string, ignoreCase = false): boolean {
  const source = pattern
    .split('')
    .map((c) => (c === '*' ? '[\\s\\S]*' : c === '?' ? '[\\s\\S]' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${source}$`, ignoreCase ? 'i' : '').test(value);
}

function coversAction(st: Statement): boolean {
  const matches = (p: string) => wildcardMatch(p, WEB_IDENTITY_ACTION, true);
  if (st.NotAction !== undefined) return !list(st.NotAction).some(matches);
  return list(st.Action).some(matches);
}

function coversPrincipal(st: Statement, providerArn: string): boolean {
  const p = st.Principal;
  if (p === '*') return true;
  if (!p || typeof p !== 'object') return false;
  return list(p.Federated).includes(providerArn) || list(p.AWS).includes('*');
}

type ConditionResult = { result: boolean } | { unsupported: string };

const OPERATORS: Record<string, { test: (pattern: string, value: string) => boolean; negated: boolean }> = {
  stringequals: { test: (p, v) => p === v, negated: false },
  stringnotequals: { test: (p, v) => p === v, negated: true },
  stringequalsignorecase: { test: (p, v) => p.toLowerCase() === v.toLowerCase(), negated: false },
  stringnotequalsignorecase: { test: (p, v) => p.toLowerCase() === v.toLowerCase(), negated: true },
  stringlike: { test: (p, v) => wildcardMatch(p, v), negated: false },
  stringnotlike: { test: (p, v) => wildcardMatch(p, v), negated: true },
};

function parseOperator(name: string) {
  const base = name.replace(/^For(AnyValue|AllValues):/i, '');
  const ifExists = /IfExists$/i.test(base);
  const op = OPERATORS[base.replace(/IfExists$/i, '').toLowerCase()];
  return op ? { ...op, ifExists } : undefined;
}

/** Every operator block, every key in it, must hold; a key holds when any of its values matches. */
function evaluateConditions(st: Statement, context: Map<string, string>): ConditionResult {
  for (const [name, block] of Object.entries(st.Condition ?? {})) {
    const op = parseOperator(name);
    if (!op) return { unsupported: name };
    for (const [key, values] of Object.entries(block ?? {})) {
      const actual = context.get(key.toLowerCase());
      if (actual === undefined) {
        if (op.ifExists || op.negated) continue;
        return { result: false };
      }
      const any = list(values).some((v) => op.test(String(v), actual));
      if (op.negated ? any : !any) return { result: false };
    }
  }
  return { result: true };
}

/** Does the statement restrict `key` with a positive (Equals/Like) condition? */
function constrains(st: Statement, key: string): boolean {
  return Object.entries(st.Condition ?? {}).some(([name, block]) => {
    const op = parseOperator(name);
    return (
      op &&
      !op.negated &&
      !op.ifExists &&
      Object.keys(block ?? {}).some((k) => k.toLowerCase() === key.toLowerCase())
    );
  });
}

const quoted = (v: unknown) => JSON.stringify(String(v));

function describeStatement(st: Statement, index: number): string {
  const effect = st.Effect ?? '(no Effect)';
  const actions =
    st.NotAction !== undefined
      ? `any action but ${list(st.NotAction).join(', ')}`
      : list(st.Action).join(', ');
  const principal =
    st.Principal === undefined
      ? 'no principal'
      : typeof st.Principal === 'string'
        ? st.Principal
        : Object.entries(st.Principal)
            .map(([k, v]) => `${k} ${list(v).join(', ')}`)
            .join('; ');
  const conditions = Object.entries(st.Condition ?? {}).flatMap(([op, block]) =>
    Object.entries(block ?? {}).map(([key, v]) => `${key} ${op} ${list(v).map(quoted).join(' or ')}`),
  );
  const when = conditions.length ? ` when ${conditions.join(' and ')}` : '';
  return `statement ${st.Sid ? `"${st.Sid}"` : index + 1}: ${effect} ${actions || '(no action)'} for ${principal}${when}`;
}

function describeNeed(subject: IrsaSubject): string {
  const hp = issuerHostPath(subject.issuer);
  return (
    `Allow ${WEB_IDENTITY_ACTION} for Federated ${subject.providerArn} when ` +
    `${hp}:sub StringEquals ${quoted(serviceAccountSubject(subject))} and ${hp}:aud StringEquals ${quoted(STS_AUDIENCE)}`
  );
}

const serviceAccountSubject = (s: { namespace: string; serviceAccount: string }) =>
  `system:serviceaccount:${s.namespace}:${s.serviceAccount}`;

/** The trust policy a role needs for this subject: what the error suggests. */
export function trustPolicyFor(subject: IrsaSubject): string {
  const hp = issuerHostPath(subject.issuer);
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { Federated: subject.providerArn },
        Action: WEB_IDENTITY_ACTION,
        Condition: {
          StringEquals: { [`${hp}:sub`]: serviceAccountSubject(subject), [`${hp}:aud`]: STS_AUDIENCE },
        },
      },
    ],
  });
}

/**
 * Would IAM let a web-identity token for `subject` (sub system:serviceaccount:<ns>:<sa>,
 * aud sts.amazonaws.com, from the subject's provider) assume the role with this trust policy?
 * Also refused: a matching Allow that does not restrict `sub` at all (every service
 * account in the cluster could assume the role). A matching Allow that does not check
 * `aud` passes with a note.
 */
export function evaluateTrust(doc: PolicyDocument, subject: IrsaSubject): TrustVerdict {
  const hp = issuerHostPath(subject.issuer).toLowerCase();
  const subKey = `${hp}:sub`;
  const audKey = `${hp}:aud`;
  const context = new Map([
    [subKey, serviceAccountSubject(subject)],
    [audKey, STS_AUDIENCE],
  ]);
  const statements = list(doc.Statement);
  const allows = statements.map(describeStatement).join('; ') || 'no statements';
  const refuse = (why?: string): TrustVerdict => ({ ok: false, allows, needs: describeNeed(subject), why });
  const applies = (st: Statement) => coversAction(st) && coversPrincipal(st, subject.providerArn);

  const unsupported: string[] = [];
  const holds = (st: Statement) => {
    const r = evaluateConditions(st, context);
    if ('unsupported' in r) unsupported.push(r.unsupported);
    return 'result' in r && r.result;
  };
  const denied = statements.find((st) => st.Effect === 'Deny' && applies(st) && holds(st));
  if (denied) return refuse(`${describeStatement(denied, statements.indexOf(denied))} denies it`);
  const allowing = statements.filter((st) => st.Effect === 'Allow' && applies(st) && holds(st));
  const scoped = allowing.find((st) => constrains(st, subKey));
  if (!scoped) {
    if (allowing.length)
      return refuse(`no condition on ${subKey}: every service account in the cluster could assume the role`);
    if (unsupported.length)
      return refuse(
        `condition operator ${[...new Set(unsupported)].join(', ')} is not evaluated by this check`,
      );
    return refuse();
  }
  const notes = constrains(scoped, audKey)
    ? []
    : [`the trust does not check ${audKey} (should be ${STS_AUDIENCE})`];
  return { ok: true, notes };
}
