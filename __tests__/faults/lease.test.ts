/**
 * Scenario g: two deploys to one namespace started at the same moment. The namespace's
 * Lease lets one through; the other stops before changing anything (exit 2, naming the
 * holder), and nothing is rolled back on its account.
 */
import { hostname } from 'node:os';
import { helmReleases, type StandInEnv } from '../../scripts/stand-in.mjs';
import {
  checkEndState,
  freshTag,
  knownSecrets,
  latestReleases,
  record,
  scenarioNamespace,
  seconds,
  standIn,
  startDeploy,
  type Secrets,
} from './scenario.js';

const SVCS = ['user-service', 'order-service'] as const;

let env: StandInEnv;
let secrets: Secrets;

beforeAll(async () => {
  ({ env } = standIn());
  secrets = await knownSecrets(env);
});

it('g: two runs at once: one deploys, the other exits 2 naming the holder', async () => {
  const ns = scenarioNamespace(env, 'faults-lease');
  const tag = await freshTag(env, SVCS, 'g');
  const first = startDeploy(env, { namespace: ns, tag, services: SVCS, label: 'g1' });
  const second = startDeploy(env, { namespace: ns, tag, services: SVCS, label: 'g2' });
  const runs = await Promise.all([first.done, second.done]);
  const winner = runs.find((r) => r.code === 0);
  const loser = runs.find((r) => r.code !== 0);
  const refusal = loser?.lines.find((l) => /another deploy to/.test(l.text))?.text ?? '';
  const history = helmReleases(env, ns) as { name: string; revision: number; description: string }[];
  const rollbacks = history.filter((r) => /rollback/i.test(r.description));
  const latest = latestReleases(env, ns);
  const end = await checkEndState(env, {
    namespace: ns,
    expected: { 'user-service': 1, 'order-service': 1 },
    runs,
    secrets,
    label: 'g',
  });
  record({
    id: 'g',
    title: 'Two runs on one namespace at once',
    injected: 'two `ecommerce-deploy deploy` of the same services and tag started together',
    behaviour: `exits ${runs.map((r) => r.code).join(' and ')}; the refused run: "${refusal.replace(/^\[\s*[\d.]+s\]\s*/, '')}"; ${rollbacks.length} rollback(s) in the release history`,
    figures: `refused run exited ${loser ? seconds(loser.exitedAt - loser.startedAt) : 'n/a'} after its start; the other deployed in ${winner ? seconds(winner.exitedAt - winner.startedAt) : 'n/a'}`,
    endState: end.summary,
    passed: end.problems.length === 0 && !!winner && loser?.code === 2 && rollbacks.length === 0,
  });

  expect(runs.map((r) => r.code).sort()).toEqual([0, 2]);
  // The refusal names the run that holds the lease (user@host and its run id) and since when;
  // that run id is the one the winner wrote into its releases' descriptions.
  const named = new RegExp(
    `another deploy to ${ns} is running: .+@${hostname()} \\(run-id (\\S+)\\) since \\d{4}-`,
  ).exec(refusal);
  expect(named).not.toBeNull();
  expect(history.map((r) => r.description)).toEqual([
    expect.stringContaining(`run-id ${named![1]}`),
    expect.stringContaining(`run-id ${named![1]}`),
  ]);
  expect(loser!.report?.error).toMatchObject({ exitCode: 2 });
  expect(loser!.report?.services.every((s) => s.status !== 'rolled-back')).toBe(true);
  expect(rollbacks).toEqual([]);
  expect(Object.values(latest).map((r) => [r.status, r.revision])).toEqual([
    ['deployed', 1],
    ['deployed', 1],
  ]);
  expect(end.problems).toEqual([]);
});
