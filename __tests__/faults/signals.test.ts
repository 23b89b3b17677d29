/**
 * Scenarios a–c: the deploy process stopped mid-run. SIGINT and SIGTERM (a user's
 * Ctrl-C, a CI runner cancelling the job) cancel it cleanly; SIGKILL of its whole process
 * group (helm included) mid `helm upgrade` leaves releases pending, which the next run
 * recovers by itself once the dead run's lease has expired.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kubectl, type StandInEnv } from '../../scripts/stand-in.mjs';
import { harness, startApiProxy, type ApiProxy } from '../e2e/faults.js';
import {
  checkEndState,
  deploy,
  filesUnder,
  freshTag,
  knownSecrets,
  latestReleases,
  record,
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
  slow = slowDeployFile(mkdtempSync(join(tmpdir(), 'faults-signals-')), '20s');
});

describe.each([
  { id: 'a', signal: 'SIGINT' as const, code: 130 },
  { id: 'b', signal: 'SIGTERM' as const, code: 143 },
])('$id: $signal mid-rollout', ({ id, signal, code }) => {
  it(`exits ${code}, reports the run cancelled and where each service was left, cleans up`, async () => {
    const ns = scenarioNamespace(env, `faults-${signal.toLowerCase()}`);
    const tag = await freshTag(env, SVCS, id);
    const run = startDeploy(env, { namespace: ns, tag, services: SVCS, label: id, config: slow });
    // Every upgrade has returned and its rollout is being watched (pods take 20 s to be ready).
    await waitForRollouts(run, SVCS, 120_000);
    const signalAt = Date.now();
    run.child.kill(signal);
    const res = await run.done;
    const states = res.report?.services.map((s) => `${s.service} ${s.status}`).join(', ');

    const end = await checkEndState(env, {
      namespace: ns,
      expected: { 'user-service': 1, 'order-service': 1 },
      runs: [res],
      secrets,
      label: id,
    });
    record({
      id,
      title: `${signal} mid-rollout`,
      injected: `${signal} to the CLI once both services' rollouts showed progress (pods Ready after 20 s)`,
      behaviour: `exit ${res.code ?? res.signal}; report result ${res.report?.result} by ${res.report?.cancelledBy}; ${states}; no rollback`,
      figures: `signal to exit ${seconds(res.exitedAt - signalAt)}`,
      endState: end.summary,
      passed: end.problems.length === 0 && res.code === code,
    });

    expect({ code: res.code, output: res.code === code ? '' : res.output }).toEqual({ code, output: '' });
    expect(res.report).toMatchObject({ result: 'cancelled', cancelledBy: signal });
    // Released, rollout not watched to the end: never "deployed", never rolled back.
    expect(res.report!.services.map((s) => [s.service, s.status]).sort()).toEqual([
      ['order-service', 'cancelled'],
      ['user-service', 'cancelled'],
    ]);
    expect(res.stdout).toMatch(/cancel/i);
    expect(end.problems).toEqual([]);
  });
});

describe('c: SIGKILL of the whole process group mid helm upgrade', () => {
  let proxy: ApiProxy;

  beforeAll(async () => {
    proxy = await startApiProxy(runDir);
    await harness.setClusterEndpoint(env, proxy.url);
  });
  afterAll(async () => {
    await harness.resetClusterEndpoint(env);
    await proxy?.stop();
  });

  it('leaves releases pending; the next run waits out the dead lease, recovers them and deploys', async () => {
    const ns = scenarioNamespace(env, 'faults-sigkill');
    // user-service has a deployed revision to go back to; order-service is a first install.
    const base = await deploy(env, {
      namespace: ns,
      tag: await freshTag(env, SVCS, 'c0'),
      services: ['user-service'],
      label: 'c-base',
    });
    expect({ code: base.code, output: base.code === 0 ? '' : base.output }).toEqual({ code: 0, output: '' });

    // Helm's writes crawl through the proxy, so a release sits pending-* while helm works.
    await proxy.setRules([
      {
        id: 'slow-helm-writes',
        method: ['POST', 'PUT', 'PATCH', 'DELETE'],
        userAgent: '^Helm',
        action: 'delay',
        delayMs: 3000,
      },
    ]);
    const tag = await freshTag(env, SVCS, 'c1');
    const run = startDeploy(env, { namespace: ns, tag, services: SVCS, label: 'c-killed', detached: true });
    let pending: Record<string, { revision: number; status: string }> = {};
    const deadline = Date.now() + 90_000;
    let firstPendingAt: number | undefined;
    while (Date.now() < deadline && run.child.exitCode === null) {
      pending = latestReleases(env, ns);
      const stuck = SVCS.filter((s) => pending[s]?.status.startsWith('pending-'));
      if (stuck.length) firstPendingAt ??= Date.now();
      if (stuck.length === SVCS.length || (firstPendingAt && Date.now() - firstPendingAt > 8000)) break;
      await sleep(250);
    }
    const killedAt = Date.now();
    process.kill(-run.child.pid!, 'SIGKILL');
    const killed = await run.done;
    // The whole group is gone, helm included: nothing still writes to the releases.
    let groupGone = false;
    for (let i = 0; i < 40 && !groupGone; i++) {
      try {
        process.kill(-run.child.pid!, 0);
        await sleep(100);
      } catch {
        groupGone = true;
      }
    }
    await proxy.clearRules();
    const atKill = latestReleases(env, ns);
    const pendingAtKill = SVCS.filter((s) => atKill[s]?.status.startsWith('pending-'));
    const leaseHolder = JSON.parse(kubectl(env, ['get', 'lease', 'ecommerce-deploy', '-n', ns, '-o', 'json']))
      .spec.holderIdentity as string;

    // What SIGKILL left in its TMPDIR (the work dir with the registry login, the kubeconfig):
    // the recovery run, in the same TMPDIR, sweeps it.
    const leftAtKill = filesUnder(killed.tmp).map((f) => f.replace(killed.tmp, '$TMPDIR'));

    const recoveryStart = Date.now();
    const recovery = await deploy(env, {
      namespace: ns,
      tag: await freshTag(env, SVCS, 'c2'),
      services: SVCS,
      label: 'c-recovery',
      extraArgs: ['--wait-for-lock', '60'],
      tmp: killed.tmp,
    });
    const sweptLine = recovery.lines.find((l) => /temp dir\(s\) a killed run left/.test(l.text));
    const tookOver = recovery.lines.find((l) => /took over the deploy lease/.test(l.text));
    const recoveredLine = recovery.lines.find((l) => /recovered/.test(l.text));

    // What each service should be at: a pending upgrade is rolled back (a revision) and
    // then upgraded (another); a pending first install is removed and installed afresh.
    const expected: Record<string, number> = {};
    for (const s of SVCS) {
      const r = atKill[s];
      if (!r) expected[s] = 1;
      else if (r.status === 'pending-install') expected[s] = 1;
      else if (r.status.startsWith('pending-')) expected[s] = r.revision + 2;
      else expected[s] = r.revision + 1;
    }
    const end = await checkEndState(env, {
      namespace: ns,
      expected,
      runs: [base, recovery],
      killed: [killed],
      secrets,
      label: 'c',
    });
    const recovered = recovery.report?.recovered ?? [];
    record({
      id: 'c',
      title: 'SIGKILL of the process group mid `helm upgrade`',
      injected:
        "helm's writes delayed 3 s each (proxy rule, User-Agent ^Helm); kill -9 of the CLI's process group (helm children included) once releases were pending",
      behaviour:
        `at the kill: ${SVCS.map((s) => `${s} ${atKill[s] ? `${atKill[s]!.status} r${atKill[s]!.revision}` : 'absent'}`).join(', ')}; lease left held by ${leaseHolder}; left in TMPDIR: ${leftAtKill.join(', ') || 'nothing'}. ` +
        `Next run (--wait-for-lock 60, same TMPDIR): exit ${recovery.code}; ${sweptLine ? "swept the killed run's temp dirs" : "did not sweep the killed run's temp dirs"}; ${tookOver ? 'took over the expired lease' : 'did not report a take-over'}; recovered ${recovered.map((r) => `${r.service}: ${r.action}`).join('; ') || 'nothing'}`,
      figures:
        `first pending to kill ${firstPendingAt ? seconds(killedAt - firstPendingAt) : 'n/a'}; ` +
        `kill to lease taken over ${tookOver ? seconds(tookOver.at - killedAt) : 'n/a'}; ` +
        `kill to recovery run's exit ${seconds(recovery.exitedAt - killedAt)} (run itself ${seconds(recovery.exitedAt - recoveryStart)})`,
      endState: end.summary,
      passed: end.problems.length === 0 && recovery.code === 0 && pendingAtKill.length > 0,
    });

    expect(killed.signal).toBe('SIGKILL');
    expect(groupGone).toBe(true);
    expect(pendingAtKill.length).toBeGreaterThan(0);
    expect({ code: recovery.code, output: recovery.code === 0 ? '' : recovery.output }).toEqual({
      code: 0,
      output: '',
    });
    expect(tookOver?.text).toContain(leaseHolder);
    expect(recovered.map((r) => r.service).sort()).toEqual([...pendingAtKill].sort());
    expect(recoveredLine).toBeDefined();
    expect(leftAtKill.length).toBeGreaterThan(0);
    expect(sweptLine).toBeDefined();
    expect(end.problems).toEqual([]);
  });
});
