/**
 * Scenarios d–e: the API server itself goes away mid-rollout. Paused (SIGSTOP: the port
 * stays open, nothing answers) for 15 s, then resumed; or restarted (a new process, every
 * connection and watch dropped). Either way the deploy carries on and finishes.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot, type StandInEnv } from '../../scripts/stand-in.mjs';
import { apiserver } from '../e2e/faults.js';
import {
  checkEndState,
  freshTag,
  knownSecrets,
  record,
  retryLines,
  watchBreaks,
  scenarioNamespace,
  seconds,
  sleep,
  slowDeployFile,
  standIn,
  startDeploy,
  waitForRollouts,
  type Secrets,
} from './scenario.js';

const SVCS = ['user-service', 'order-service'] as const;

let env: StandInEnv;
let runDir: string;
let secrets: Secrets;
let slow: string;

beforeAll(async () => {
  ({ env, runDir } = standIn());
  secrets = await knownSecrets(env);
  slow = slowDeployFile(mkdtempSync(join(tmpdir(), 'faults-apiserver-')), '15s');
});

/** apiserver.sh restart without blocking this process (the deploy's output keeps arriving). */
function restartApiserver(): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [join(repoRoot, 'local-cluster', 'faults', 'apiserver.sh'), 'restart'], {
      env: { ...process.env, ECOMMERCE_DEPLOY_RUN: runDir },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`apiserver.sh restart: ${code} ${stderr}`)),
    );
  });
}

describe('d: API server paused for 15 s mid-rollout', () => {
  afterAll(() => {
    if (apiserver(runDir, 'status').startsWith('paused')) apiserver(runDir, 'resume');
  });

  it('waits it out and deploys every service', async () => {
    const ns = scenarioNamespace(env, 'faults-pause');
    const tag = await freshTag(env, SVCS, 'd');
    const run = startDeploy(env, { namespace: ns, tag, services: SVCS, label: 'd', config: slow });
    await waitForRollouts(run, SVCS, 120_000);
    const pausedAt = Date.now();
    apiserver(runDir, 'pause');
    await sleep(15_000);
    apiserver(runDir, 'resume');
    const resumedAt = Date.now();
    const res = await run.done;
    const statuses = res.report?.services.map((s) => `${s.service} ${s.status} r${s.revision}`).join(', ');
    const retries = retryLines(res);
    const end = await checkEndState(env, {
      namespace: ns,
      expected: { 'user-service': 1, 'order-service': 1 },
      runs: [res],
      secrets,
      label: 'd',
    });
    record({
      id: 'd',
      title: 'API server paused 15 s mid-rollout',
      injected:
        'SIGSTOP to kube-apiserver once both rollouts showed progress (pods Ready after 15 s), SIGCONT 15 s later',
      behaviour: `exit ${res.code}; ${statuses}; ${retries.length} retry line(s), ${watchBreaks(res)} logged`,
      figures: `resume to exit ${seconds(res.exitedAt - resumedAt)}; pause to exit ${seconds(res.exitedAt - pausedAt)}; whole run ${seconds(res.exitedAt - res.startedAt)}`,
      endState: end.summary,
      passed: end.problems.length === 0 && res.code === 0,
    });

    expect({ code: res.code, output: res.code === 0 ? '' : res.output }).toEqual({ code: 0, output: '' });
    expect(res.report!.services.map((s) => s.status)).toEqual(['deployed', 'deployed']);
    expect(end.problems).toEqual([]);
  });
});

describe('e: API server restarted mid-rollout', () => {
  it('resumes its watches and deploys every service', async () => {
    const ns = scenarioNamespace(env, 'faults-restart');
    const tag = await freshTag(env, SVCS, 'e');
    const run = startDeploy(env, { namespace: ns, tag, services: SVCS, label: 'e', config: slow });
    await waitForRollouts(run, SVCS, 120_000);
    const restartAt = Date.now();
    await restartApiserver();
    const readyAt = Date.now();
    const res = await run.done;
    const statuses = res.report?.services.map((s) => `${s.service} ${s.status} r${s.revision}`).join(', ');
    const retries = retryLines(res);
    const end = await checkEndState(env, {
      namespace: ns,
      expected: { 'user-service': 1, 'order-service': 1 },
      runs: [res],
      secrets,
      label: 'e',
    });
    record({
      id: 'e',
      title: 'API server restarted mid-rollout',
      injected:
        'local-cluster/faults/apiserver.sh restart (SIGTERM, SIGKILL after 5 s, same command line) once both rollouts showed progress',
      behaviour: `exit ${res.code}; ${statuses}; ${retries.length} retry line(s), ${watchBreaks(res)} logged`,
      figures: `API server back (readyz) ${seconds(readyAt - restartAt)} after the restart began; back to deploy's exit ${seconds(res.exitedAt - readyAt)}; whole run ${seconds(res.exitedAt - res.startedAt)}`,
      endState: end.summary,
      passed: end.problems.length === 0 && res.code === 0,
    });

    expect({ code: res.code, output: res.code === 0 ? '' : res.output }).toEqual({ code: 0, output: '' });
    expect(res.report!.services.map((s) => s.status)).toEqual(['deployed', 'deployed']);
    expect(end.problems).toEqual([]);
  });
});
