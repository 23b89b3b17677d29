#!/usr/bin/env node
// `npm run bench`: fleet deploy time on the local EKS stand-in, against the usual
// script (`helm upgrade --install --wait` per service, one after another) and the
// same helm commands all at once; fail-fast against helm's timeout; overhead before
// the first helm upgrade; ECR/EKS calls per run. Writes BENCHMARKS.md.
//
// Settings (env): BENCH_RUNS (3), BENCH_READY_DELAY (pods Ready after, 2s),
// BENCH_SIZES ("6 30"), BENCH_HELM_TIMEOUT (helm's --timeout for the fail-fast
// baseline, 5m), BENCH_OUT (BENCHMARKS.md), BENCH_SECTIONS ("fleet" or "overhead":
// that section alone, printed, BENCHMARKS.md untouched).
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { CreateRepositoryCommand, ECRClient } from '@aws-sdk/client-ecr';
import { KubeConfig, Watch } from '@kubernetes/client-node';
import { ensureStandIn, pushImages, repoRoot, stopStandIn, SERVICES } from '../scripts/stand-in.mjs';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const READY_DELAY = process.env.BENCH_READY_DELAY ?? '2s';
const SIZES = (process.env.BENCH_SIZES ?? '6 30').split(/\s+/).map(Number);
const HELM_TIMEOUT = process.env.BENCH_HELM_TIMEOUT ?? '5m';
const OUT = process.env.BENCH_OUT ?? join(repoRoot, 'BENCHMARKS.md');
const HELM = process.env.HELM_BIN ?? join(repoRoot, '.cache', 'tools', 'helm3', 'helm');
const CLI = join(repoRoot, 'dist', 'cli.js');
const CHART = join(repoRoot, 'charts', 'ecommerce-service');
const PRODUCTION = join(CHART, 'values', 'production.yaml');
const REGISTRY = '123456789012.dkr.ecr.us-east-1.amazonaws.com';
/** In deploy order: the gateway routes to the others, so its wave comes last. */
const SIX = [...SERVICES.filter((s) => s !== 'api-gateway'), 'api-gateway'];
const BAD_REPO = 'bench-imagepullbackoff';
const work = join(repoRoot, '.cache', 'bench');
const runDir = join(repoRoot, '.cache', 'lc-bench');

const log = (m) => process.stderr.write(`bench: ${m}\n`);
const fleet = (n) =>
  [
    ...SIX,
    ...Array.from({ length: Math.max(0, n - 6) }, (_, i) => `bench-${String(i + 7).padStart(2, '0')}`),
  ].slice(0, n);

// ---------------------------------------------------------------------------
// Statistics

function stats(values) {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  const median = s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
  return { median, min: s[0], max: s.at(-1), n: s.length };
}
const fmt = (st, unit = 's', scale = 1000) =>
  `${(st.median / scale).toFixed(unit === 's' ? 1 : 0)} ${unit} (${(st.min / scale).toFixed(unit === 's' ? 1 : 0)}–${(st.max / scale).toFixed(unit === 's' ? 1 : 0)})`;

// ---------------------------------------------------------------------------
// Processes

function run(cmd, args, env = {}) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('close', (code) => resolve({ code, ms: Date.now() - started, started, ended: Date.now(), out }));
  });
}

function helmArgs(ns, service, tag, extra = []) {
  return [
    'upgrade',
    '--install',
    service,
    CHART,
    '--namespace',
    ns,
    '--create-namespace',
    '-f',
    PRODUCTION,
    '-f',
    valuesFile(service),
    '--set',
    `image.repository=${REGISTRY}/${repositoryOf(service)}`,
    '--set-string',
    `image.tag=${tag}`,
    '--wait',
    '--timeout',
    HELM_TIMEOUT,
    ...extra,
  ];
}

// ---------------------------------------------------------------------------
// The fleet: per-service override files and deploy files, like the shipped ones

const badService = new Set();
const repositoryOf = (s) => (badService.has(s) ? BAD_REPO : s);

function valuesFile(service) {
  if (SIX.includes(service)) return join(CHART, 'values', 'services', `${service}.yaml`);
  const file = join(work, 'values', `${service}.yaml`);
  writeFileSync(
    file,
    [
      `image:\n  repository: ${REGISTRY}/${service}`,
      `serviceAccount:\n  annotations:\n    eks.amazonaws.com/role-arn: arn:aws:iam::123456789012:role/${service}-role`,
      `ingress:\n  path: /api/${service}`,
      '',
    ].join('\n'),
  );
  return file;
}

function deployFile(services, name) {
  const file = join(work, `${name}.yaml`);
  const lines = [
    `chart: ${CHART}`,
    `registry: ${REGISTRY}`,
    'environments:',
    `  production:\n    valuesFiles: [${PRODUCTION}]`,
    'services:',
    ...services.map(
      (s) => `  ${s}:\n    repository: ${repositoryOf(s)}\n    valuesFiles: [${valuesFile(s)}]`,
    ),
    '',
  ];
  writeFileSync(file, lines.join('\n'));
  return file;
}

// ---------------------------------------------------------------------------
// Stand-in

let env;
let tagCounter = 0;
const newTag = () => `bench-${Date.now().toString(36)}-${tagCounter++}`;

async function harnessCalls(reset = false) {
  const res = await fetch(`${env.LOCAL_HARNESS_URL}/_harness/calls${reset ? '/reset' : ''}`, {
    method: reset ? 'POST' : 'GET',
  });
  return reset ? undefined : res.json();
}

function cliEnv(extra = {}) {
  const { KUBECONFIG: _admin, ...aws } = env;
  return { ...aws, ...extra };
}

function ecommerceDeploy(configFile, ns, tag, extraEnv = {}, extraArgs = []) {
  return run(
    process.execPath,
    [
      CLI,
      'deploy',
      '--config',
      configFile,
      '--cluster',
      env.EKS_CLUSTER_NAME,
      '--region',
      env.AWS_REGION,
      '--namespace',
      ns,
      '--tag',
      tag,
      '--concurrency',
      '50',
      '--timeout',
      '300',
      ...extraArgs,
    ],
    cliEnv({ HELM_BIN: HELM, ...extraEnv }),
  );
}

function expectOk(what, res) {
  if (res.code !== 0) throw new Error(`${what} failed (exit ${res.code}):\n${res.out.slice(-3000)}`);
  return res;
}

// ---------------------------------------------------------------------------
// 1. Fleet deploys

async function fleetDeploys(n) {
  const services = fleet(n);
  const file = deployFile(services, `fleet-${n}`);
  const ns = { seq: `bench-${n}-seq`, par: `bench-${n}-par`, ed: `bench-${n}-ed` };
  log(`${n} services: installing the fleet in three namespaces (not counted)`);
  const first = newTag();
  await pushImages(env, services, first);
  await Promise.all([
    ...services.map((s) =>
      run(HELM, helmArgs(ns.seq, s, first), { KUBECONFIG: env.KUBECONFIG }).then((r) =>
        expectOk(`helm install ${s}`, r),
      ),
    ),
    ...services.map((s) =>
      run(HELM, helmArgs(ns.par, s, first), { KUBECONFIG: env.KUBECONFIG }).then((r) =>
        expectOk(`helm install ${s}`, r),
      ),
    ),
  ]);
  expectOk('ecommerce-deploy install', await ecommerceDeploy(file, ns.ed, first));

  const result = { n, seq: [], par: [], ed: [], slowest: [], edSlowestService: [], edSlowestReady: [] };
  for (let i = 0; i < RUNS; i++) {
    const tag = newTag();
    await pushImages(env, services, tag);
    log(`${n} services, run ${i + 1}/${RUNS}: (a) sequential helm --wait`);
    const started = Date.now();
    const perService = [];
    for (const s of services) {
      perService.push(
        expectOk(
          `helm upgrade ${s}`,
          await run(HELM, helmArgs(ns.seq, s, tag), { KUBECONFIG: env.KUBECONFIG }),
        ).ms,
      );
    }
    result.seq.push(Date.now() - started);
    // Each service of the sequential loop ran alone: its time is "that service alone".
    result.slowest.push(Math.max(...perService));

    log(`${n} services, run ${i + 1}/${RUNS}: (b) the same helm commands in parallel`);
    const parStart = Date.now();
    const par = await Promise.all(
      services.map((s) => run(HELM, helmArgs(ns.par, s, tag), { KUBECONFIG: env.KUBECONFIG })),
    );
    par.forEach((r, j) => expectOk(`parallel helm upgrade ${services[j]}`, r));
    result.par.push(Date.now() - parStart);

    log(`${n} services, run ${i + 1}/${RUNS}: (c) ecommerce-deploy deploy`);
    const report = join(work, `report-${n}-${i}.json`);
    result.ed.push(
      expectOk('ecommerce-deploy', await ecommerceDeploy(file, ns.ed, tag, {}, ['--report', report])).ms,
    );
    // Where (c)'s time goes: its slowest service from the start of its upgrade (helm, rollout, checks) and to ready.
    const reported = JSON.parse(readFileSync(report, 'utf8')).services;
    result.edSlowestService.push(Math.max(...reported.map((s) => s.durationMs ?? 0)));
    result.edSlowestReady.push(Math.max(...reported.map((s) => s.timeToReadyMs ?? 0)));
  }
  for (const k of ['seq', 'par', 'ed', 'slowest']) log(`${n} services ${k}: ${fmt(stats(result[k]))}`);
  return result;
}

// ---------------------------------------------------------------------------
// 2. Fail-fast

/** Resolves with the first time a pod of `ns` shows ImagePullBackOff. */
async function firstBackOff(ns) {
  const kc = new KubeConfig();
  kc.loadFromFile(env.KUBECONFIG);
  let resolve;
  const seen = new Promise((r) => (resolve = r));
  const req = await new Watch(kc).watch(
    `/api/v1/namespaces/${ns}/pods`,
    {},
    (_t, pod) => {
      const waiting = (pod.status?.containerStatuses ?? []).some(
        (c) => c.state?.waiting?.reason === 'ImagePullBackOff',
      );
      if (waiting) resolve(Date.now());
    },
    () => {},
  );
  return { seen, stop: () => req.abort() };
}

async function failFast() {
  const service = 'order-service';
  const ecr = new ECRClient({
    region: env.AWS_REGION,
    endpoint: env.AWS_ENDPOINT_URL,
    credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY },
  });
  await ecr.send(new CreateRepositoryCommand({ repositoryName: BAD_REPO })).catch((e) => {
    if (e.name !== 'RepositoryAlreadyExistsException') throw e;
  });
  const result = { ed: [], edTotal: [], helm: [], helmTotal: [] };

  log('fail-fast: (c) ecommerce-deploy with one bad image');
  for (let i = 0; i < RUNS; i++) {
    const ns = `bench-ff-ed-${i}`;
    const good = newTag();
    await pushImages(env, [service], good);
    badService.clear();
    expectOk('install', await ecommerceDeploy(deployFile([service], 'ff-good'), ns, good));
    badService.add(service);
    const bad = newTag();
    await pushImages(env, [BAD_REPO], bad);
    const watch = await firstBackOff(ns);
    const res = await ecommerceDeploy(deployFile([service], 'ff-bad'), ns, bad);
    watch.stop();
    if (res.code !== 1)
      throw new Error(
        `expected the bad deploy to fail with exit 1, got ${res.code}\n${res.out.slice(-2000)}`,
      );
    const backOff = await Promise.race([
      watch.seen,
      new Promise((r) => setTimeout(() => r(undefined), 1000)),
    ]);
    if (!backOff) throw new Error('no pod showed ImagePullBackOff during the failing deploy');
    result.ed.push(res.ended - backOff);
    result.edTotal.push(res.ms);
  }

  log(
    `fail-fast: helm upgrade --install --wait --timeout ${HELM_TIMEOUT} on the same change (${RUNS} at once, in separate namespaces)`,
  );
  badService.clear();
  const good = newTag();
  await pushImages(env, [service], good);
  const nss = Array.from({ length: RUNS }, (_, i) => `bench-ff-helm-${i}`);
  await Promise.all(
    nss.map((ns) =>
      run(HELM, helmArgs(ns, service, good), { KUBECONFIG: env.KUBECONFIG }).then((r) =>
        expectOk('install', r),
      ),
    ),
  );
  badService.add(service);
  const bad = newTag();
  await pushImages(env, [BAD_REPO], bad);
  const runs = await Promise.all(
    nss.map(async (ns) => {
      const watch = await firstBackOff(ns);
      const res = await run(HELM, helmArgs(ns, service, bad), { KUBECONFIG: env.KUBECONFIG });
      watch.stop();
      const backOff = await watch.seen;
      return { res, backOff };
    }),
  );
  for (const { res, backOff } of runs) {
    if (res.code === 0) throw new Error('helm --wait unexpectedly succeeded with a bad image');
    result.helm.push(res.ended - backOff);
    result.helmTotal.push(res.ms);
  }
  badService.clear();
  log(
    `fail-fast: ecommerce-deploy ${fmt(stats(result.ed))} after ImagePullBackOff; helm ${fmt(stats(result.helm))}`,
  );
  return result;
}

// ---------------------------------------------------------------------------
// 3. Overhead before the first helm upgrade, and start time

/** A helm that notes when the first `upgrade` starts, then runs the real one. */
function timestampingHelm() {
  const file = join(work, 'helm-timestamp.sh');
  writeFileSync(
    file,
    `#!/bin/sh\nif [ "$1" = upgrade ] && [ ! -s "$BENCH_STAMP" ]; then date +%s%3N > "$BENCH_STAMP"; fi\nexec "${HELM}" "$@"\n`,
  );
  chmodSync(file, 0o755);
  return file;
}

async function overhead(sizes) {
  const helm = timestampingHelm();
  const result = {};
  for (const n of sizes) {
    const services = fleet(n);
    const file = deployFile(services, `fleet-${n}`);
    const ns = `bench-${n}-ed`;
    result[n] = { overhead: [], calls: [] };
    for (let i = 0; i < RUNS; i++) {
      const tag = newTag();
      await pushImages(env, services, tag);
      const stamp = join(work, `stamp-${n}-${i}`);
      writeFileSync(stamp, '');
      await harnessCalls(true);
      const res = expectOk(
        'ecommerce-deploy',
        await ecommerceDeploy(file, ns, tag, { HELM_BIN: helm, BENCH_STAMP: stamp }),
      );
      const calls = await harnessCalls();
      result[n].overhead.push(Number(readFileSync(stamp, 'utf8').trim()) - res.started);
      result[n].calls.push(calls);
    }
    log(`overhead ${n}: ${fmt(stats(result[n].overhead), 'ms', 1)}`);
  }
  const start = { cli: [], action: [] };
  for (let i = 0; i < 5; i++) {
    start.cli.push((await run(process.execPath, [CLI, '--help'])).ms);
    // No inputs: the action reads them, finds image-tag missing and exits 2.
    start.action.push(
      (
        await run(process.execPath, [join(repoRoot, 'dist', 'index.js')], {
          GITHUB_OUTPUT: '',
          GITHUB_STEP_SUMMARY: '',
        })
      ).ms,
    );
  }
  return { result, start };
}

// ---------------------------------------------------------------------------
// Report

function callCounts(calls) {
  const by = calls.services ?? {};
  const pick = (svc) => Object.values(by[svc] ?? {}).reduce((a, b) => a + b, 0);
  return { ecr: pick('ecr'), eks: pick('eks'), detail: { ecr: by.ecr ?? {}, eks: by.eks ?? {} } };
}

function machine() {
  const helmVersion = spawnSync(HELM, ['version', '--short'], { encoding: 'utf8' }).stdout.trim();
  return [
    `- CPU: ${cpus().length} × ${cpus()[0]?.model ?? 'unknown'}; memory ${(totalmem() / 2 ** 30).toFixed(0)} GiB`,
    `- Node ${process.version}; helm ${helmVersion} (baselines and ecommerce-deploy alike)`,
    `- Cluster: the local stand-in (kube-apiserver v1.35.4, kwok nodes in 3 zones; pods Ready ${READY_DELAY} after start), moto for ECR/EKS`,
    `- ${RUNS} counted runs per figure after an uncounted install; a new image tag every run; figures are median (min–max)`,
  ].join('\n');
}

/** What the fleet figures say about where (c)'s time goes, from the figures themselves. */
function readingTheFleet(fleets, oh) {
  const med = (xs) => stats(xs).median;
  const lines = ['Reading these figures:', ''];
  for (const f of fleets) {
    const overhead = oh.result[f.n] ? med(oh.result[f.n].overhead) : undefined;
    lines.push(
      `- ${f.n} services: the same helm commands all at once (b) already take ${(med(f.par) / med(f.slowest)).toFixed(2)}× the slowest service alone, ` +
        `and (c) takes ${((med(f.ed) - med(f.par)) / 1000).toFixed(1)} s more than (b)` +
        (overhead !== undefined
          ? `, of which ${(overhead / 1000).toFixed(1)} s pass before its first helm upgrade (section 3)`
          : '') +
        '.',
    );
  }
  lines.push(
    '- Why (b) is above 1×: the stand-in runs the API server, controller-manager, scheduler, etcd and kwok on the same ' +
      `${cpus().length} cores as the deploy, so many rollouts at once queue for CPU; against EKS the control plane and nodes are elsewhere.`,
    '- Why (c) is above (b): before changing anything it renders every service with helm (one process each) and checks ECR; ' +
      'EKS tokens are minted in process (no exec plugin runs during a deploy); ' +
      "the rollouts are judged by one shared watch, and each service's HPA/PDB/spread checks run as soon as it is ready.",
    '- Fixed while measuring: (1) the Kubernetes client ran the token plugin once per concurrent request (up to 36 at once ' +
      'after a 6-service rollout, 4.6 s); it now fetches the token once per run. (2) Every helm process started the exec plugin ' +
      'to mint its own token (about 0.3 s of CPU each, all at the moment the upgrades start); helm now gets a token minted in ' +
      'process (HELM_KUBETOKEN), and so does the Kubernetes client. Before (2), on the same machine: 6 services 12.7 s (1.46×), 30 services 51.9 s (5.97×).',
    '',
  );
  return lines;
}

function overheadSections(oh) {
  return [
    '## 3. Overhead before the first `helm upgrade`, and start time',
    '',
    'From the start of `node dist/cli.js deploy` to the first `helm upgrade` process: config, ECR preflight, rendering every service, EKS DescribeCluster and kubeconfig, pending-release check.',
    '',
    '| services | overhead | goal |',
    '| ---: | ---: | --- |',
    ...Object.entries(oh.result).map(([n, r]) => {
      const s = stats(r.overhead);
      return `| ${n} | ${fmt(s, 'ms', 1)} | ${Number(n) === 6 ? (s.median < 2000 ? 'under 2 s: met' : 'under 2 s: missed') : ''} |`;
    }),
    '',
    `Start time (5 runs): \`node dist/cli.js --help\` ${fmt(stats(oh.start.cli), 'ms', 1)}; \`node dist/index.js\` with no inputs (reads them, exits 2) ${fmt(stats(oh.start.action), 'ms', 1)}.`,
    '',
    '## 4. AWS calls per deploy (counted at moto)',
    '',
    '| services | ECR repositories | ECR calls | EKS calls | detail |',
    '| ---: | ---: | ---: | ---: | --- |',
    ...Object.entries(oh.result).map(([n, r]) => {
      const c = callCounts(r.calls[0]);
      const same = r.calls.every((x) => JSON.stringify(callCounts(x)) === JSON.stringify(c));
      return `| ${n} | ${n} | ${c.ecr} | ${c.eks} | ${JSON.stringify(c.detail)}${same ? '' : ' (varied between runs)'} |`;
    }),
    '',
    'Goal: ECR calls grow with the number of repositories (one DescribeRepositories per 100 names, one BatchGetImage per repository), not with services × tags.',
    '',
  ];
}

function write({ fleets, ff, oh }) {
  const ratio = (a, b) => (stats(a).median / stats(b).median).toFixed(2);
  const lines = [
    '# Benchmarks',
    '',
    `Written by \`npm run bench\` (bench/fleet.mjs) on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC.`,
    '',
    machine(),
    '',
    '## 1. Fleet deploy',
    '',
    'Each service: 3 replicas, rolling update maxSurge 1 / maxUnavailable 0, so a rollout is three pod starts in a row.',
    '(a) `helm upgrade --install --wait` per service, one after another; (b) the same commands all at once;',
    '(c) `ecommerce-deploy deploy` (ECR check, render, EKS token, releases in parallel, tracked rollouts, HPA/PDB/spread checks).',
    '"Slowest alone" is the slowest single service of the sequential loop, where each service ran alone.',
    '',
    '| services | (a) sequential | (b) parallel helm | (c) ecommerce-deploy | slowest alone | (a)/slowest | (b)/slowest | (c)/slowest | goal (c) ≤ 1.3× |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
    ...fleets.map((f) => {
      const r = Number(ratio(f.ed, f.slowest));
      return `| ${f.n} | ${fmt(stats(f.seq))} | ${fmt(stats(f.par))} | ${fmt(stats(f.ed))} | ${fmt(stats(f.slowest))} | ${ratio(f.seq, f.slowest)} | ${ratio(f.par, f.slowest)} | ${r.toFixed(2)} | ${r <= 1.3 ? 'met' : 'missed'} |`;
    }),
    '',
    "Where (c)'s time goes (medians): the rest of each run is the overhead before the first upgrade (section 3) and the summary.",
    '',
    '| services | (c) total | slowest service: upgrade + rollout + checks | slowest service: upgrade start to all replicas ready |',
    '| ---: | ---: | ---: | ---: |',
    ...fleets.map(
      (f) =>
        `| ${f.n} | ${fmt(stats(f.ed))} | ${fmt(stats(f.edSlowestService))} | ${fmt(stats(f.edSlowestReady))} |`,
    ),
    '',
    ...readingTheFleet(fleets, oh),
    '## 2. Fail-fast: one service with a bad image',
    '',
    'Time from the pod first showing ImagePullBackOff (seen by a watch) to the exit of the deploy.',
    '',
    '| | after ImagePullBackOff | whole command |',
    '| --- | ---: | ---: |',
    `| (c) ecommerce-deploy (then rolls back) | ${fmt(stats(ff.ed))} | ${fmt(stats(ff.edTotal))} |`,
    `| helm upgrade --install --wait --timeout ${HELM_TIMEOUT} | ${fmt(stats(ff.helm))} | ${fmt(stats(ff.helmTotal))} |`,
    '',
    `Ratio: ecommerce-deploy reports ${(stats(ff.helm).median / stats(ff.ed).median).toFixed(0)}× sooner (goal: ≥ 10×: ${stats(ff.helm).median / stats(ff.ed).median >= 10 ? 'met' : 'missed'}).`,
    '',
    ...overheadSections(oh),
  ];
  writeFileSync(OUT, lines.join('\n'));
  log(`wrote ${OUT}`);
}

// ---------------------------------------------------------------------------

mkdirSync(join(work, 'values'), { recursive: true });
if (process.env.BENCH_SECTIONS === 'overhead') {
  // Sections 3 and 4 alone (a few minutes), printed rather than written.
  env = ensureStandIn({ runDir, quiet: true });
  try {
    process.stdout.write(overheadSections(await overhead(SIZES)).join('\n'));
  } finally {
    stopStandIn({ runDir });
  }
  process.exit(0);
}
if (process.env.BENCH_FROM) {
  write(JSON.parse(readFileSync(process.env.BENCH_FROM, 'utf8')));
  process.exit(0);
}
const extra = fleet(Math.max(...SIZES)).filter((s) => !SIX.includes(s));
log(`starting a stand-in for the benchmarks (${runDir}, pods Ready after ${READY_DELAY})`);
stopStandIn({ runDir });
process.env.POD_READY_DELAY = READY_DELAY;
process.env.LOCAL_CLUSTER_ECR_REPOSITORIES = extra.join(' ');
env = ensureStandIn({ runDir, quiet: true });
try {
  const fleets = [];
  for (const n of SIZES) fleets.push(await fleetDeploys(n));
  if (process.env.BENCH_SECTIONS === 'fleet') {
    // Section 1 alone, printed rather than written (e.g. BENCH_SIZES=6 to try a change).
    const med = (xs) => stats(xs).median;
    for (const f of fleets) {
      const r = (x) => (med(x) / med(f.slowest)).toFixed(2);
      process.stdout.write(
        `${f.n} services: (a) ${fmt(stats(f.seq))} ${r(f.seq)}×, (b) ${fmt(stats(f.par))} ${r(f.par)}×, ` +
          `(c) ${fmt(stats(f.ed))} ${r(f.ed)}×, slowest alone ${fmt(stats(f.slowest))}\n`,
      );
    }
  } else {
    const ff = await failFast();
    const oh = await overhead(SIZES);
    // The raw figures, so the report can be rewritten without re-running (BENCH_FROM=<file>).
    writeFileSync(join(work, 'results.json'), JSON.stringify({ fleets, ff, oh }, null, 2));
    write({ fleets, ff, oh });
  }
} finally {
  if (!process.env.BENCH_KEEP_CLUSTER) stopStandIn({ runDir });
}
