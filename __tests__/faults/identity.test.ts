/**
 * Scenarios h–i: who the tool is to the cluster. h: the API server's token webhook
 * refuses EKS tokens older than 20 s during a deploy that lasts longer. i: a
 * namespace-scoped identity (rbac/role.yaml, no nodes ClusterRole) deploys all six.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kubectl, repoRoot, SERVICES, type StandInEnv } from '../../scripts/stand-in.mjs';
import { credentialEnv, harness, testCredential } from '../e2e/faults.js';
import {
  checkEndState,
  deploy,
  freshTag,
  knownSecrets,
  record,
  scenarioNamespace,
  seconds,
  slowDeployFile,
  standIn,
  type Secrets,
} from './scenario.js';

const SVCS = ['user-service', 'order-service'] as const;
const MAX_AGE = 20;

let env: StandInEnv;
let secrets: Secrets;

beforeAll(async () => {
  ({ env } = standIn());
  const nsCred = testCredential('namespace-deployer');
  secrets = await knownSecrets(env, [nsCred.secretAccessKey, nsCred.sessionToken!]);
});

describe('h: EKS tokens expire mid-run', () => {
  afterAll(() => harness.resetTokenMaxAge(env));

  it(`deploys when the webhook refuses tokens older than ${MAX_AGE} s during a longer deploy`, async () => {
    const ns = scenarioNamespace(env, 'faults-token');
    const slow = slowDeployFile(mkdtempSync(join(tmpdir(), 'faults-token-')), '30s');
    await harness.setTokenMaxAge(env, MAX_AGE);
    const tag = await freshTag(env, SVCS, 'h');
    const res = await deploy(env, { namespace: ns, tag, services: SVCS, label: 'h', config: slow });
    const refused = res.lines.filter((l) => /\b401\b/.test(l.text));
    const fresh = res.lines.filter((l) => /with a fresh token/.test(l.text));
    const end = await checkEndState(env, {
      namespace: ns,
      expected: { 'user-service': 1, 'order-service': 1 },
      runs: [res],
      secrets,
      label: 'h',
    });
    record({
      id: 'h',
      title: 'EKS token expiring mid-run',
      injected: `harness token-max-age ${MAX_AGE} s (EKS: 15 min) for a deploy whose pods take 30 s to be Ready`,
      behaviour: `exit ${res.code}; ${res.report?.services.map((s) => `${s.service} ${s.status}${s.reason ? ` (${s.reason})` : ''}`).join(', ')}; ${refused.length} 401(s) logged, ${fresh.length} "retrying with a fresh token"`,
      figures: `run ${seconds(res.exitedAt - res.startedAt)} (${((res.exitedAt - res.startedAt) / 1000 / MAX_AGE).toFixed(1)}× the token max age)`,
      endState: end.summary,
      passed: end.problems.length === 0 && res.code === 0,
    });

    expect({ code: res.code, output: res.code === 0 ? '' : res.output }).toEqual({ code: 0, output: '' });
    // Long enough that tokens minted at its start were refused before its end.
    expect(res.exitedAt - res.startedAt).toBeGreaterThan(MAX_AGE * 1000 + 10_000);
    expect(end.problems).toEqual([]);
  });
});

describe('i: a namespace-scoped identity', () => {
  it('deploys the six services; zone spread is "not checked" for want of nodes access, a warning', async () => {
    const cred = testCredential('namespace-deployer');
    // What an admin does once (rbac/README.md): the namespace, the Role and its binding.
    const ns = scenarioNamespace(env, 'faults-rbac');
    kubectl(env, [
      'apply',
      '-n',
      ns,
      '-f',
      join(repoRoot, 'rbac/role.yaml'),
      '-f',
      join(repoRoot, 'rbac/rolebinding.yaml'),
    ]);
    const canListNodes = kubectl(
      env,
      ['auth', 'can-i', 'list', 'nodes', '--as', cred.arn, '--as-group', cred.groups[0]!],
      { allowFailure: true },
    ).trim();
    const tag = await freshTag(env, SERVICES, 'i');
    const res = await deploy(env, {
      namespace: ns,
      tag,
      services: SERVICES,
      label: 'i',
      extraEnv: credentialEnv(cred),
    });
    const spread = res.report?.services.map((s) => s.verification?.spread);
    const spreadWarnings = res.report?.warnings.filter((w) => /not checked \(no permission/.test(w)) ?? [];
    const end = await checkEndState(env, {
      namespace: ns,
      expected: Object.fromEntries(SERVICES.map((s) => [s, 1])),
      runs: [res],
      secrets,
      label: 'i',
      extraEnv: credentialEnv(cred),
    });
    record({
      id: 'i',
      title: 'Namespace-scoped identity (rbac/role.yaml only)',
      injected: `credential namespace-deployer (group ${cred.groups.join(', ')}), bound by rbac/rolebinding.yaml to rbac/role.yaml in a namespace an admin created; can it list nodes: ${canListNodes}`,
      behaviour: `exit ${res.code}; ${res.report?.services.filter((s) => s.status === 'deployed').length}/6 deployed; spread ${[...new Set(spread?.map((c) => c?.verdict))].join('/')}: "${spread?.[0]?.message}"`,
      figures: `run ${seconds(res.exitedAt - res.startedAt)}; ${spreadWarnings.length} warning(s) "not checked (no permission…)"`,
      endState: end.summary,
      passed: end.problems.length === 0 && res.code === 0,
    });

    expect(canListNodes).toBe('no');
    expect({ code: res.code, output: res.code === 0 ? '' : res.output }).toEqual({ code: 0, output: '' });
    expect(res.report!.services.map((s) => s.status)).toEqual(SERVICES.map(() => 'deployed'));
    for (const check of spread!) {
      expect(check).toMatchObject({
        verdict: 'warning',
        message: expect.stringMatching(/not checked \(no permission/),
      });
    }
    expect(spreadWarnings.length).toBeGreaterThan(0);
    expect(end.problems).toEqual([]);
  });
});
