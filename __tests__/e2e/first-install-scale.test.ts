/**
 * Replicas under an HPA, with helm 3 (three-way merge) and helm 4 (server-side apply).
 * The chart leaves `replicas` to the HPA, so a first install would sit at 1 replica until
 * the HPA controller's next sync; the tool raises it to the HPA's minimum at once. And
 * since `replicas` is in no release manifest, an upgrade never resets or drops what the
 * HPA scaled to: here the HPA scales the Deployment above 3 under load (kwok
 * ResourceUsage at 100% of the CPU request, as in hpa.test.ts), then a new image is
 * deployed while the replica count is watched.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import {
  kubectl,
  pushImages,
  readStandInEnv,
  restrictedNamespace,
  type StandInEnv,
} from '../../scripts/stand-in.mjs';
import { deployCli, writeDeployFile } from './run.js';

const SVC = 'order-service';
let env: StandInEnv;
let tmp: string;

const note = (text: string) => process.stderr.write(`e2e first-install-scale: ${text}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const replicasOf = (ns: string) =>
  (JSON.parse(kubectl(env, ['get', 'deployment', SVC, '-n', ns, '-o', 'json'])) as V1Deployment).spec!
    .replicas!;

beforeAll(() => {
  const found = readStandInEnv(process.env.E2E_RUN_DIR);
  if (!found) throw new Error('the e2e stand-in is not running: run the e2e tests with `npm run test:e2e`');
  env = found;
  tmp = mkdtempSync(join(tmpdir(), 'e2e-scale-'));
});

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe.each([
  ['helm 3', resolve('.cache/tools/helm3/helm'), 'e2e-scale-h3'],
  ['helm 4', resolve('.cache/tools/helm4/helm'), 'e2e-scale-h4'],
])('replicas under the HPA with %s', (_name, helm, ns) => {
  const deploy = (tag: string) =>
    deployCli(env, {
      namespace: ns,
      tag,
      config: writeDeployFile(tmp, 'deploy.yaml', {}),
      report: join(tmp, `report-${ns}-${tag}.json`),
      extraArgs: ['--services', SVC],
      extraEnv: { HELM_BIN: helm },
    });

  beforeAll(() => restrictedNamespace(env, ns));
  afterAll(() => kubectl(env, ['delete', 'namespace', ns, '--wait=false'], { allowFailure: true }));

  it("a first install is raised to the HPA's minimum at once, not at the HPA's next sync", async () => {
    await pushImages(env, [SVC], `${ns}-1`);
    const run = await deploy(`${ns}-1`);
    expect({ code: run.code, output: run.code ? run.output : '' }).toEqual({ code: 0, output: '' });
    expect(run.output).toContain(`${SVC}: scaled from 1 to the HPA's minimum of 3 replicas at once`);
    const ready = run.report!.services[0]!.timeToReadyMs!;
    note(`first install ready (3/3) in ${(ready / 1000).toFixed(1)} s`);
    expect(replicasOf(ns)).toBe(3);
  });

  it('an upgrade keeps the replicas the HPA scaled to, throughout', async () => {
    const pods = JSON.parse(kubectl(env, ['get', 'pods', '-n', ns, '-l', `app=${SVC}`, '-o', 'json']))
      .items as V1Pod[];
    kubectl(env, ['apply', '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'v1',
        kind: 'List',
        items: pods.map((p) => ({
          apiVersion: 'kwok.x-k8s.io/v1alpha1',
          kind: 'ResourceUsage',
          metadata: { name: p.metadata!.name, namespace: ns },
          spec: { usages: [{ usage: { cpu: { value: '250m' }, memory: { value: '77Mi' } } }] },
        })),
      }),
    });
    let scaled = replicasOf(ns);
    for (const deadline = Date.now() + 120_000; scaled <= 3 && Date.now() < deadline; scaled = replicasOf(ns))
      await sleep(2000);
    note(`the HPA scaled ${SVC} to ${scaled}`);
    expect(scaled).toBeGreaterThan(3);

    await pushImages(env, [SVC], `${ns}-2`);
    let lowest = scaled;
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        lowest = Math.min(lowest, replicasOf(ns));
        await sleep(200);
      }
    })();
    const run = await deploy(`${ns}-2`);
    watching = false;
    await watcher;
    expect({ code: run.code, output: run.code ? run.output : '' }).toEqual({ code: 0, output: '' });
    expect(run.output).not.toContain('scaled from');
    note(`during and after the upgrade: lowest ${lowest}, now ${replicasOf(ns)} (the HPA had ${scaled})`);
    expect(lowest).toBeGreaterThanOrEqual(scaled);
    expect(replicasOf(ns)).toBeGreaterThanOrEqual(scaled);
  });
});
