#!/usr/bin/env node
// `npm run bench`: fleet deploy time on the local EKS stand-in, against the usual
// script (`helm upgrade --install --wait` per service, one after another) and the
// same helm commands all at once; the shipped deploy.yaml with default options (and
// at other concurrencies, and as a first install); where CPU and API requests go
// (helm against the tool itself); fail-fast against helm's timeout; overhead before
// the first helm upgrade; ECR/EKS calls per run. Writes BENCHMARKS.md.
//
// Settings (env): BENCH_RUNS (3), BENCH_READY_DELAY (pods Ready after, 2s),
// BENCH_SIZES ("6 30"), BENCH_SEQ_MAX (the sequential loop (a) in full up to this
// many services, 6; above it "slowest alone" comes from BENCH_ALONE_SAMPLE services,
// 8, each run alone), BENCH_CONCURRENCY (concurrencies tried on the shipped config,
// "3 5 10"), BENCH_HELM_TIMEOUT (helm's --timeout for the fail-fast baseline, 5m),
// BENCH_OUT (BENCHMARKS.md), BENCH_SECTIONS (some of "fleet shipped cost failfast
// overhead": those sections alone, printed to stdout, BENCHMARKS.md untouched),
// BENCH_FROM (results files in .cache/bench, space-separated: the report from them,
// merged, without running; results.json of a full run, results-<sections>.json else).
import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { request } from 'node:https';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CreateRepositoryCommand, ECRClient } from '@aws-sdk/client-ecr';
import { KubeConfig, Watch } from '@kubernetes/client-node';
import { ensureStandIn, kubectl, pushImages, repoRoot, stopStandIn, SERVICES } from '../scripts/stand-in.mjs';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const READY_DELAY = process.env.BENCH_READY_DELAY ?? '2s';
const SIZES = (process.env.BENCH_SIZES ?? '6 30').trim().split(/\s+/).map(Number);
const SEQ_MAX = Number(process.env.BENCH_SEQ_MAX ?? 6);
const ALONE_SAMPLE = Number(process.env.BENCH_ALONE_SAMPLE ?? 8);
const CONCURRENCIES = (process.env.BENCH_CONCURRENCY ?? '3 5 10').trim().split(/\s+/).map(Number);
const HELM_TIMEOUT = process.env.BENCH_HELM_TIMEOUT ?? '5m';
const OUT = process.env.BENCH_OUT ?? join(repoRoot, 'BENCHMARKS.md');
const HELM = process.env.HELM_BIN ?? join(repoRoot, '.cache', 'tools', 'helm3', 'helm');
const CLI = join(repoRoot, 'dist', 'cli.js');
const CHART = join(repoRoot, 'charts', 'ecommerce-service');
const PRODUCTION = join(CHART, 'values', 'production.yaml');
/** The deploy file as committed: paths relative to it, the api-gateway dependsOn the other five. */
const SHIPPED = join(repoRoot, 'deploy.yaml');
const REGISTRY = '123456789012.dkr.ecr.us-east-1.amazonaws.com';
/** In deploy order: the gateway routes to the others, so its wave comes last. */
const SIX = [...SERVICES.filter((s) => s !== 'api-gateway'), 'api-gateway'];
const GATEWAY = 'api-gateway';
const BAD_REPO = 'bench-imagepullbackoff';
const work = join(repoRoot, '.cache', 'bench');
const runDir = join(repoRoot, '.cache', 'lc-bench');
/** The cost section's own stand-in, with an audit log, so auditing never touches the timings. */
const costRunDir = join(repoRoot, '.cache', 'lc-bench-cost');
const SECTIONS = ['fleet', 'shipped', 'cost', 'failfast', 'overhead'];

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
const med = (xs) => stats(xs).median;
const fmt = (st, unit = 's', scale = 1000) =>
  `${(st.median / scale).toFixed(unit === 's' ? 1 : 0)} ${unit} (${(st.min / scale).toFixed(unit === 's' ? 1 : 0)}–${(st.max / scale).toFixed(unit === 's' ? 1 : 0)})`;
/** Median (min–max) of values already in the unit, with `digits` decimals. */
const fmtN = (xs, digits = 2) => {
  const s = stats(xs);
  return `${s.median.toFixed(digits)} (${s.min.toFixed(digits)}–${s.max.toFixed(digits)})`;
};
const metOr = (ok) => (ok ? 'met' : 'missed');

// ---------------------------------------------------------------------------
// Processes

/** Runs a command; its stderr lines are kept with the time each arrived (`lines`). */
function run(cmd, args, env = {}) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let partial = '';
    const lines = [];
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => {
      const t = Date.now();
      out += d;
      const parts = (partial + d).split('\n');
      partial = parts.pop();
      for (const line of parts) lines.push({ t, line });
    });
    child.on('close', (code) => {
      const ended = Date.now();
      if (partial) lines.push({ t: ended, line: partial });
      resolve({ code, ms: ended - started, started, ended, out, lines });
    });
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

const helm = (ns, service, tag, bin = HELM, extraEnv = {}) =>
  run(bin, helmArgs(ns, service, tag), { KUBECONFIG: env.KUBECONFIG, ...extraEnv });

/** (b): the same helm commands all at once; throws on a failure. */
async function parallelHelm(ns, services, tag, bin = HELM, extraEnv = {}) {
  const started = Date.now();
  const res = await Promise.all(services.map((s) => helm(ns, s, tag, bin, extraEnv)));
  res.forEach((r, j) => expectOk(`parallel helm upgrade ${services[j]} in ${ns}`, r));
  return Date.now() - started;
}

/** Each service alone, one after another (the usual script): milliseconds per service. */
async function sequentialHelm(ns, services, tag) {
  const perService = [];
  for (const s of services) perService.push(expectOk(`helm upgrade ${s}`, await helm(ns, s, tag)).ms);
  return perService;
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

/** One wave: no dependsOn, so with --concurrency 50 every service starts at once. */
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

/** The CLI's default --concurrency, from its help (what a deploy without the flag uses). */
function defaultConcurrency() {
  const help = spawnSync(process.execPath, [CLI, 'deploy', '--help'], { encoding: 'utf8' }).stdout;
  const m = /--concurrency <n>[^\n]*\(default: "?(\d+)"?\)/.exec(help ?? '');
  if (!m) throw new Error(`no default for --concurrency in \`${CLI} deploy --help\``);
  return Number(m[1]);
}

// ---------------------------------------------------------------------------
// Stand-in

let env;
let tagCounter = 0;
const newTag = () => `bench-${Date.now().toString(36)}-${tagCounter++}`;

/** Starts a fresh stand-in for the bench (pods Ready after READY_DELAY, ECR repositories and IRSA roles for the extra services). */
function startStandIn(dir, extraEnv = {}) {
  const extra = fleet(Math.max(6, ...SIZES)).filter((s) => !SIX.includes(s));
  log(`starting a stand-in (${dir}, pods Ready after ${READY_DELAY})`);
  stopStandIn({ runDir: dir });
  metricsTargets.delete(dir); // a new stand-in: new ports and certificates
  const saved = { ...process.env };
  Object.assign(process.env, {
    POD_READY_DELAY: READY_DELAY,
    LOCAL_CLUSTER_ECR_REPOSITORIES: extra.join(' '),
    ...extraEnv,
  });
  try {
    env = ensureStandIn({ runDir: dir, quiet: true });
  } finally {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  }
}

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

/**
 * `ecommerce-deploy deploy`. `concurrency` 50 by default (every service of a one-wave
 * file at once); `null` leaves the flag out, as a user with default options does.
 */
function ecommerceDeploy(
  configFile,
  ns,
  tag,
  { extraEnv = {}, extraArgs = [], concurrency = 50, node = process.execPath, nodeArgs = [] } = {},
) {
  return run(
    node,
    [
      ...nodeArgs,
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
      ...(concurrency === null ? [] : ['--concurrency', String(concurrency)]),
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
// What holds the parallel rollouts back on the stand-in: the machine's CPU, or the controllers

/** The machine's CPU counters (/proc/stat): busy share between two readings. */
function cpuTimes() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1, 9).map(Number);
  return { idle: f[3] + f[4], total: f.reduce((a, b) => a + b, 0) };
}
const busyPercent = (a, b) => Math.round(100 * (1 - (b.idle - a.idle) / Math.max(1, b.total - a.total)));

/**
 * Seconds the kube-controller-manager's API clients have waited in their client-side rate
 * limiters so far (rest_client_rate_limiter_duration_seconds, all verbs; each controller's
 * client allows 20 requests/s, burst 30, upstream's default), read from its /metrics with the
 * stand-in's admin certificate. Undefined if it cannot be read.
 */
const metricsTargets = new Map();
/** Where the controller-manager of the stand-in in `dir` serves /metrics, and the admin certificate to ask with (read once). */
function metricsTarget(dir) {
  if (!metricsTargets.has(dir)) {
    const port = /CONTROLLER_MANAGER_PORT=(\d+)/.exec(readFileSync(join(dir, 'env'), 'utf8'))?.[1];
    metricsTargets.set(
      dir,
      port && {
        host: '127.0.0.1',
        port: Number(port),
        path: '/metrics',
        cert: readFileSync(join(dir, 'pki', 'admin.crt')),
        key: readFileSync(join(dir, 'pki', 'admin.key')),
        rejectUnauthorized: false, // the controller-manager serves a self-signed certificate of its own
      },
    );
  }
  return metricsTargets.get(dir);
}

function controllerRateLimitWait(dir = runDir) {
  const target = metricsTarget(dir);
  if (!target) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    const req = request(target, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => {
        let sum = 0;
        for (const m of body.matchAll(/^rest_client_rate_limiter_duration_seconds_sum\{[^}]*\} (\S+)$/gm)) {
          sum += Number(m[1]);
        }
        resolve(res.statusCode === 200 ? sum : undefined);
      });
    });
    req.on('error', () => resolve(undefined));
    req.end();
  });
}

/**
 * Waits (uncounted) until the controllers have caught up with the previous command: their
 * rate-limit wait has not grown for a second. Six rollouts leave the controllers seconds of
 * queued writes (old pods' deletions, events, PDB and ReplicaSet status); a command started
 * into that backlog would pay for its predecessor. Applied before (b) and (c) alike.
 */
async function quietControllers(maxMs = 30_000) {
  const started = Date.now();
  let last = await controllerRateLimitWait();
  if (last === undefined) return 0;
  for (let still = 0; still < 2 && Date.now() - started < maxMs;) {
    await sleep(500);
    const now = await controllerRateLimitWait();
    still = now !== undefined && now - last < 0.001 ? still + 1 : 0;
    last = now ?? last;
  }
  return Date.now() - started;
}

/** Runs `fn` and records the machine's CPU busy share and the controllers' rate-limit wait over it. */
async function underWatch(into, fn) {
  const [cpu0, wait0] = [cpuTimes(), await controllerRateLimitWait()];
  const value = await fn();
  const [cpu1, wait1] = [cpuTimes(), await controllerRateLimitWait()];
  into.busy.push(busyPercent(cpu0, cpu1));
  if (wait0 !== undefined && wait1 !== undefined) into.wait.push((wait1 - wait0) * 1000);
  return value;
}

// ---------------------------------------------------------------------------
// The tool's stderr, timestamped as lines arrive: when each service started and got ready, and its stages

const LINE = /^\[[^\]]*\] (.*)$/;
/** Per service: when its `helm upgrade` started (`installing`/`upgrading from`) and when the tool saw it ready. */
function serviceTimes(res) {
  const times = {};
  for (const { t, line } of res.lines) {
    const body = LINE.exec(line)?.[1];
    if (!body) continue;
    let m = /^(\S+): (?:installing|upgrading from revision \d+) to /.exec(body);
    if (m) (times[m[1]] ??= {}).start = t;
    m = /^(\S+): revision \d+ ready in /.exec(body);
    if (m) (times[m[1]] ??= {}).ready = t;
  }
  return times;
}

/** Milliseconds from the last of the gateway's dependencies being ready to the gateway's start line. */
/**
 * Waits (uncounted) until the namespace is as a deploy minutes after the previous one finds
 * it: metrics-server has metrics for every running pod, and every HPA is ScalingActive.
 * A run started seconds after the previous one would otherwise wait in its HPA check for the
 * metrics of the pods the previous run made (metrics-server scrapes, then the HPA controller
 * syncs: 10-35 s here). An HPA still showing ScalingActive from before those pods is not
 * settled: its next sync finds them unmeasured.
 */
async function settledHpas(ns, maxMs = 120_000) {
  const started = Date.now();
  for (;;) {
    const hpas = JSON.parse(kubectl(env, ['get', 'hpa', '-n', ns, '-o', 'json'])).items;
    const pods = JSON.parse(kubectl(env, ['get', 'pods', '-n', ns, '-o', 'json'])).items.filter(
      (p) => p.status?.phase === 'Running' && !p.metadata?.deletionTimestamp,
    );
    const raw = kubectl(env, ['get', '--raw', `/apis/metrics.k8s.io/v1beta1/namespaces/${ns}/pods`], {
      allowFailure: true,
    });
    let measured = new Set();
    try {
      measured = new Set(JSON.parse(raw).items.map((m) => m.metadata.name));
    } catch {
      // not answering yet
    }
    const active = (h) =>
      (h.status?.conditions ?? []).some((c) => c.type === 'ScalingActive' && c.status === 'True');
    const unmeasured = pods.filter((p) => !measured.has(p.metadata.name)).length;
    if (!unmeasured && hpas.every(active)) return Date.now() - started;
    if (Date.now() - started > maxMs) {
      log(`${ns}: not settled after ${maxMs / 1000} s (${unmeasured} pods without metrics); going on`);
      return Date.now() - started;
    }
    await sleep(1000);
  }
}

function gatewayGap(res, deps) {
  const times = serviceTimes(res);
  const depsReady = deps.map((d) => times[d]?.ready);
  if (depsReady.some((t) => t === undefined) || times[GATEWAY]?.start === undefined) {
    throw new Error(`missing start/ready lines for ${GATEWAY} or its dependencies:\n${res.out.slice(-3000)}`);
  }
  return times[GATEWAY].start - Math.max(...depsReady);
}

/** The dependencies of the gateway in the shipped deploy.yaml. */
function shippedDeps() {
  const text = readFileSync(SHIPPED, 'utf8');
  const m = /\n {2}api-gateway:[\s\S]*?dependsOn: \[([^\]]*)\]/.exec(text);
  if (!m) throw new Error(`${SHIPPED}: api-gateway has no dependsOn; the shipped-config section expects it`);
  return m[1].split(',').map((s) => s.trim());
}

/**
 * What runs from one `== <stage>` header of the tool's output to the next (src/pipeline/index.ts):
 * the ECR check is followed by the EKS connection, the IRSA check by opening the session (lock, live releases).
 */
const STAGES = [
  [/^Checking images in ECR/, 'ECR check + EKS connect'],
  [/^Rendering/, 'render'],
  [/^Checking IRSA/, 'IRSA check + session'],
  [/^Releasing/, 'releases + checks + summary'],
  [/^Rolling back/, 'rollback'],
];

/** Wall time per stage: from one `== <stage>` header of the tool's output to the next (the last to the exit). */
function stagesOf(res) {
  const marks = [];
  for (const { t, line } of res.lines) {
    const title = /^== (.*)$/.exec(LINE.exec(line)?.[1] ?? '')?.[1];
    if (title) marks.push({ t, title: STAGES.find(([re]) => re.test(title))?.[1] ?? title });
  }
  const stages = {};
  let prev = { t: res.started, title: 'start (node, config)' };
  for (const m of [...marks, { t: res.ended }]) {
    stages[prev.title] = (stages[prev.title] ?? 0) + (m.t - prev.t);
    prev = m;
  }
  return stages;
}

/** "title 1.2 s · title 0.3 s", medians over runs, in the order of the first run. */
function formatStages(runs) {
  if (!runs?.length) return '';
  return Object.keys(runs[0])
    .map((k) => `${k} ${(med(runs.map((r) => r[k] ?? 0)) / 1000).toFixed(1)} s`)
    .join(' · ');
}

// ---------------------------------------------------------------------------
// 1. Fleet deploys

async function fleetDeploys(n) {
  const services = fleet(n);
  const file = deployFile(services, `fleet-${n}`);
  const ns = { seq: `bench-${n}-seq`, par: `bench-${n}-par`, ed: `bench-${n}-ed` };
  // At large sizes the full loop costs minutes per run; "slowest alone" then comes from a sample.
  const fullSequential = n <= SEQ_MAX;
  const alone = fullSequential ? services : services.slice(0, ALONE_SAMPLE);
  log(`${n} services: installing the fleet in three namespaces (not counted)`);
  const first = newTag();
  await pushImages(env, services, first);
  await Promise.all([parallelHelm(ns.seq, alone, first), parallelHelm(ns.par, services, first)]);
  expectOk('ecommerce-deploy install', await ecommerceDeploy(file, ns.ed, first));

  const result = {
    n,
    fullSequential,
    alone: alone.length,
    seq: [],
    par: [],
    ed: [],
    slowest: [],
    edSlowestService: [],
    edSlowestReady: [],
    hpaSeen: [],
    hpaWaited: [],
    edStages: [],
    /** (b) and (c): the machine's CPU busy % over each run, and the controllers' rate-limit wait (ms). */
    parLoad: { busy: [], wait: [] },
    /** How long the controllers took to catch up before each (b) and (c) (uncounted). */
    quiet: [],
    edLoad: { busy: [], wait: [] },
  };
  for (let i = 0; i < RUNS; i++) {
    const tag = newTag();
    await pushImages(env, services, tag);
    log(
      `${n} services, run ${i + 1}/${RUNS}: (a) helm --wait, one service after another` +
        (fullSequential ? '' : ` (a sample of ${alone.length})`),
    );
    const started = Date.now();
    const perService = await sequentialHelm(ns.seq, alone, tag);
    if (fullSequential) result.seq.push(Date.now() - started);
    // Each service of the sequential loop ran alone: its time is "that service alone".
    result.slowest.push(Math.max(...perService));

    result.quiet.push(await quietControllers());
    log(`${n} services, run ${i + 1}/${RUNS}: (b) the same helm commands in parallel`);
    result.par.push(await underWatch(result.parLoad, () => parallelHelm(ns.par, services, tag)));

    await settledHpas(ns.ed);
    result.quiet.push(await quietControllers());
    log(`${n} services, run ${i + 1}/${RUNS}: (c) ecommerce-deploy deploy`);
    const report = join(work, `report-${n}-${i}.json`);
    const res = expectOk(
      'ecommerce-deploy',
      await underWatch(result.edLoad, () =>
        ecommerceDeploy(file, ns.ed, tag, { extraArgs: ['--report', report] }),
      ),
    );
    result.ed.push(res.ms);
    result.edStages.push(stagesOf(res));
    // Where (c)'s time goes: its slowest service from the start of its upgrade (helm, rollout, checks) and to ready.
    const reported = JSON.parse(readFileSync(report, 'utf8')).services;
    result.edSlowestService.push(Math.max(...reported.map((s) => s.durationMs ?? 0)));
    result.edSlowestReady.push(Math.max(...reported.map((s) => s.timeToReadyMs ?? 0)));
    // The HPA checks that passed on what the run's HPA watch saw, and those that waited for a later sync.
    result.hpaSeen.push(
      reported.filter((s) => /seen after this release was applied/.test(s.verification?.hpa?.message ?? ''))
        .length,
    );
    result.hpaWaited.push(
      res.lines.filter(({ line }) => /HPA waiting for the metrics of its new pods/.test(line)).length,
    );
  }
  for (const k of ['seq', 'par', 'ed', 'slowest']) {
    if (result[k].length) log(`${n} services ${k}: ${fmt(stats(result[k]))}`);
  }
  return result;
}

// ---------------------------------------------------------------------------
// 2. What users run: the shipped deploy.yaml, default options; other concurrencies; first install

async function shipped(fleetResults) {
  const deps = shippedDeps();
  const dflt = defaultConcurrency();
  const oneWave = deployFile(SIX, 'fleet-6');
  const ns = 'bench-ship';
  // Every variant upgrades the same six releases, each from the previous variant's (ready) revision.
  const variants = [
    { key: 'default', label: `deploy.yaml, default options (concurrency ${dflt})`, concurrency: null },
    ...CONCURRENCIES.filter((c) => c !== dflt).map((c) => ({
      key: `c${c}`,
      label: `deploy.yaml, --concurrency ${c}`,
      concurrency: c,
    })),
    { key: 'oneWave', label: 'one wave (no dependsOn), --concurrency 50', concurrency: 50, file: oneWave },
  ];
  const result = {
    defaultConcurrency: dflt,
    deps,
    variants: variants.map(({ key, label, concurrency }) => ({ key, label, concurrency, ms: [], gap: [] })),
    slowest: [],
    slowestFrom: 'section 1',
    first: { ms: [], gap: [], stages: [] },
  };
  const six = fleetResults?.find((f) => f.n === 6 && f.fullSequential);
  if (six) result.slowest = six.slowest;
  else result.slowestFrom = 'this section: each of the six alone, one after another, once per run';

  log('shipped config: installing the six (not counted)');
  const first = newTag();
  await pushImages(env, SIX, first);
  const installs = [expectOk('install', await ecommerceDeploy(SHIPPED, ns, first, { concurrency: null }))];
  if (!six) installs.push(parallelHelm('bench-ship-alone', SIX, first));
  await Promise.all(installs);

  for (let i = 0; i < RUNS; i++) {
    // Rotated each run, so no variant always follows the same one.
    const order = [...variants.slice(i % variants.length), ...variants.slice(0, i % variants.length)];
    for (const v of order) {
      const tag = newTag();
      await pushImages(env, SIX, tag);
      const settle = await settledHpas(ns);
      log(
        `shipped config, run ${i + 1}/${RUNS}: ${v.label} (HPAs settled after ${(settle / 1000).toFixed(0)} s)`,
      );
      const res = expectOk(
        `ecommerce-deploy (${v.label})`,
        await ecommerceDeploy(v.file ?? SHIPPED, ns, tag, { concurrency: v.concurrency }),
      );
      const r = result.variants.find((x) => x.key === v.key);
      r.ms.push(res.ms);
      if (!v.file) r.gap.push(gatewayGap(res, deps));
    }
    if (!six) {
      const tag = newTag();
      await pushImages(env, SIX, tag);
      log(`shipped config, run ${i + 1}/${RUNS}: each of the six alone (helm --wait, one after another)`);
      result.slowest.push(Math.max(...(await sequentialHelm('bench-ship-alone', SIX, tag))));
    }
    const fresh = `bench-ship-first-${Date.now().toString(36)}`;
    const tag = newTag();
    await pushImages(env, SIX, tag);
    log(`shipped config, run ${i + 1}/${RUNS}: first install of the six into ${fresh}`);
    const res = expectOk(
      'ecommerce-deploy first install',
      await ecommerceDeploy(SHIPPED, fresh, tag, { concurrency: null }),
    );
    result.first.ms.push(res.ms);
    result.first.gap.push(gatewayGap(res, deps));
    result.first.stages.push(stagesOf(res));
    // Its pods would load the stand-in for the rest of the bench.
    kubectl(env, ['delete', 'namespace', fresh, '--wait=false']);
  }
  for (const v of result.variants) log(`shipped ${v.key}: ${fmt(stats(v.ms))}`);
  log(
    `shipped first install: ${fmt(stats(result.first.ms))}, gateway gap ${fmt(stats(result.first.gap), 'ms', 1)}`,
  );
  return result;
}

// ---------------------------------------------------------------------------
// 3. Where CPU and API requests go: helm against the tool itself (own stand-in, with an audit log)

/** A bash that runs `bin` and appends its CPU (bash's `times`: own, then children) to $BENCH_CPU_DIR/<kind>.<pid>. */
function cpuWrapper(kind, bin) {
  const file = join(work, `cpu-${kind}.sh`);
  writeFileSync(
    file,
    [
      '#!/bin/bash',
      `"${bin}" "$@"`,
      'rc=$?',
      `{ echo "$1"; times; } > "$BENCH_CPU_DIR/${kind}.$$"`,
      'exit $rc',
      '',
    ].join('\n'),
  );
  chmodSync(file, 0o755);
  return file;
}

const cpuSeconds = (s) => {
  const m = /(\d+)m([\d.]+)s/.exec(s);
  return m ? Number(m[1]) * 60 + Number(m[2]) : 0;
};

/** CPU seconds recorded by the wrappers in `dir`: per kind, the wrapped processes' (children) and the wrapper shells' own; helm per subcommand. */
function readCpu(dir) {
  const cpu = { helm: 0, helmShells: 0, helmBy: {}, node: 0, nodeShells: 0, helmProcesses: 0 };
  for (const name of readdirSync(dir)) {
    const [cmd, self, children] = readFileSync(join(dir, name), 'utf8').trim().split('\n');
    const sum = (line) =>
      line
        .trim()
        .split(/\s+/)
        .reduce((a, x) => a + cpuSeconds(x), 0);
    if (name.startsWith('helm.')) {
      cpu.helm += sum(children);
      cpu.helmShells += sum(self);
      cpu.helmBy[cmd] = (cpu.helmBy[cmd] ?? 0) + sum(children);
      cpu.helmProcesses++;
    } else {
      cpu.node += sum(children);
      cpu.nodeShells += sum(self);
    }
  }
  return cpu;
}

function auditLog() {
  return join(costRunDir, 'logs', 'audit.log');
}

/**
 * Which client made an audit event: helm (user agent `Helm/…`; (b) runs it as the admin, (c)
 * with the deploy's EKS token), the tool's Kubernetes client (the deploy's EKS identity, an IAM
 * ARN as EKS maps it), or the cluster's own components (controllers, scheduler, kwok).
 */
function clientOf(e) {
  if ((e.userAgent ?? '').startsWith('Helm/')) return 'helm';
  return (e.user?.username ?? '').startsWith('arn:aws:') ? 'tool' : 'other';
}

/** API requests since `offset` of the audit log: per client, total and per verb/resource. */
async function requestsSince(offset) {
  // The log backend writes in batches: give the last events of the command time to land.
  await sleep(1500);
  const text = readFileSync(auditLog()).subarray(offset).toString('utf8');
  const events = new Map();
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const e = JSON.parse(line);
      events.set(e.auditID, e);
    } catch {
      // A line still being written.
    }
  }
  const counts = {};
  const agents = {};
  for (const e of events.values()) {
    const client = clientOf(e);
    const c = (counts[client] ??= { total: 0, by: {} });
    const o = e.objectRef ?? {};
    const key = `${e.verb} ${o.resource ?? e.requestURI?.split('?')[0]}${o.subresource ? `/${o.subresource}` : ''}`;
    c.total++;
    c.by[key] = (c.by[key] ?? 0) + 1;
    if (client !== 'other') agents[client] = e.userAgent;
  }
  return { counts, agents };
}

async function cost(n) {
  const services = fleet(n);
  const file = deployFile(services, `fleet-${n}`);
  const ns = { par: `bench-cost-${n}-par`, ed: `bench-cost-${n}-ed` };
  const helmCpu = cpuWrapper('helm', HELM);
  const nodeCpu = cpuWrapper('node', process.execPath);
  log(`cost, ${n} services: installing the fleet in two namespaces (not counted)`);
  const first = newTag();
  await pushImages(env, services, first);
  await parallelHelm(ns.par, services, first);
  expectOk('ecommerce-deploy install', await ecommerceDeploy(file, ns.ed, first));

  const result = { n, par: [], ed: [] };
  for (let i = 0; i < RUNS; i++) {
    const tag = newTag();
    await pushImages(env, services, tag);

    log(`cost, ${n} services, run ${i + 1}/${RUNS}: (b) the same helm commands in parallel`);
    let dir = mkdtempSync(join(work, 'cpu-'));
    let offset = statSync(auditLog()).size;
    const parMs = await parallelHelm(ns.par, services, tag, helmCpu, { BENCH_CPU_DIR: dir });
    result.par.push({ ms: parMs, cpu: readCpu(dir), ...(await requestsSince(offset)) });

    await settledHpas(ns.ed);
    log(`cost, ${n} services, run ${i + 1}/${RUNS}: (c) ecommerce-deploy deploy`);
    dir = mkdtempSync(join(work, 'cpu-'));
    offset = statSync(auditLog()).size;
    const res = expectOk(
      'ecommerce-deploy',
      await ecommerceDeploy(file, ns.ed, tag, {
        extraEnv: { HELM_BIN: helmCpu, BENCH_CPU_DIR: dir },
        node: nodeCpu,
      }),
    );
    result.ed.push({
      ms: res.ms,
      cpu: readCpu(dir),
      stages: stagesOf(res),
      ...(await requestsSince(offset)),
    });
  }
  return result;
}

// ---------------------------------------------------------------------------
// 4. Fail-fast

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
  const result = { helmTimeout: HELM_TIMEOUT, ed: [], edTotal: [], helm: [], helmTotal: [] };

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
  await Promise.all(nss.map((ns) => helm(ns, service, good).then((r) => expectOk('install', r))));
  badService.add(service);
  const bad = newTag();
  await pushImages(env, [BAD_REPO], bad);
  const runs = await Promise.all(
    nss.map(async (ns) => {
      const watch = await firstBackOff(ns);
      const res = await helm(ns, service, bad);
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
// 5. Overhead before the first helm upgrade, and start time

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
  const stampingHelm = timestampingHelm();
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
        await ecommerceDeploy(file, ns, tag, { extraEnv: { HELM_BIN: stampingHelm, BENCH_STAMP: stamp } }),
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

function machine(runs) {
  const helmVersion = spawnSync(HELM, ['version', '--short'], { encoding: 'utf8' }).stdout.trim();
  return [
    `- CPU: ${cpus().length} × ${cpus()[0]?.model ?? 'unknown'}; memory ${(totalmem() / 2 ** 30).toFixed(0)} GiB`,
    `- Node ${process.version}; helm ${helmVersion} (baselines and ecommerce-deploy alike)`,
    `- Cluster: the local stand-in (kube-apiserver v1.35.4, kwok nodes in 3 zones; pods Ready ${READY_DELAY} after start), moto for ECR/EKS`,
    `- ${runs} counted runs per figure after an uncounted install; a new image tag every run; figures are median (min–max)`,
    '- Before each counted ecommerce-deploy run the bench waits, uncounted, until its namespace is as a deploy some minutes after the previous one finds it: metrics-server has metrics for every running pod and every HPA is ScalingActive. A run started seconds after the previous one would wait in its HPA check for the metrics of the pods that run made (10–35 s here: metrics-server scrapes every 10 s and needs two, then the HPA controller syncs every 15 s)',
    "- In section 1, each counted (b) and (c) run also starts, uncounted, once the controllers have caught up with the command before it: the controller-manager's rate-limit wait (its /metrics) has not grown for a second. Until 2026-12-03 (c) started while they were still working through (b)'s rollouts (section 1 says how long that took)",
    "- Sections 1, 2, 4, 5 and 6 share one stand-in; section 3 runs on one of its own with the API server's audit log on",
  ].join('\n');
}

/** The goals of issue 14, each met or missed, from whichever sections ran. */
function goals(R) {
  const rows = [];
  const f = (n) => R.fleet?.find((x) => x.n === n);
  for (const n of [6, 30]) {
    const x = f(n);
    if (!x) continue;
    const [ed, par, slowest] = [med(x.ed), med(x.par), med(x.slowest)];
    rows.push(
      `- ${n} services: (c) ecommerce-deploy ≤ (b) the bare parallel helm loop: ${(ed / 1000).toFixed(1)} s against ${(par / 1000).toFixed(1)} s: **${metOr(ed <= par)}** (section 1)`,
    );
    if (n === 6) {
      rows.push(
        `- 6 services: (c) ≤ 1.2× the slowest service alone: ${(ed / slowest).toFixed(2)}×: **${metOr(ed / slowest <= 1.2)}** (section 1)`,
      );
    }
  }
  if (R.shipped) {
    const s = R.shipped;
    const d = s.variants.find((v) => v.key === 'default');
    const ratio = med(d.ms) / med(s.slowest);
    rows.push(
      `- Shipped configuration (deploy.yaml, two waves, default options), upgrade of the six: ≤ 2.1× the slowest service alone: ${ratio.toFixed(2)}×: **${metOr(ratio <= 2.1)}** (section 2)`,
      `- First install of the six (shipped configuration): the api-gateway starts within 2 s of its dependencies being ready: ${(med(s.first.gap) / 1000).toFixed(2)} s (max ${(stats(s.first.gap).max / 1000).toFixed(2)} s): **${metOr(stats(s.first.gap).max <= 2000)}** (section 2)`,
    );
  }
  if (R.ff) {
    const r = med(R.ff.helm) / med(R.ff.ed);
    rows.push(
      `- Fail-fast: ≥ 100× sooner than helm's timeout: ${r.toFixed(0)}×: **${metOr(r >= 100)}** (section 4)`,
    );
  }
  if (R.oh?.result?.[6]) {
    const o = med(R.oh.result[6].overhead);
    rows.push(
      `- Overhead before the first upgrade, 6 services: < 1.5 s: ${(o / 1000).toFixed(2)} s: **${metOr(o < 1500)}** (section 5)`,
    );
  }
  return rows.length ? ['## Goals (issue 14)', '', ...rows, ''] : [];
}

/** What the fleet figures say about where (c)'s time goes, from the figures themselves. */
function readingTheFleet(fleets, oh) {
  const lines = ['Reading these figures:', ''];
  for (const f of fleets) {
    const overheadMs = oh?.result?.[f.n] ? med(oh.result[f.n].overhead) : undefined;
    lines.push(
      `- ${f.n} services: the same helm commands all at once (b) take ${(med(f.par) / med(f.slowest)).toFixed(2)}× the slowest service alone, ` +
        `and (c) takes ${(Math.abs(med(f.ed) - med(f.par)) / 1000).toFixed(1)} s ${med(f.ed) >= med(f.par) ? 'more' : 'less'} than (b)` +
        (overheadMs !== undefined
          ? `; ${(overheadMs / 1000).toFixed(1)} s pass before its first helm upgrade (section 5)`
          : '') +
        '.',
    );
  }
  const load = fleets.filter((f) => f.parLoad?.busy.length);
  lines.push(
    '- Why (b) is above 1×: the stand-in runs the API server, controller-manager, scheduler, etcd and kwok on the same ' +
      `${cpus().length} cores as the deploy, but CPU is short only while the helm processes start; what stretches each rollout step ` +
      "(a new pod's readiness to the next pod's creation: ~0.06 s for one rollout alone, up to ~1 s with six at once, watched on the stand-in on 2026-12-03) is the " +
      "controller-manager's own client-side rate limit (20 requests/s per controller, burst 30: upstream's default, kept), " +
      'which six rollouts stepping together exceed with pod creates and deletes, their events and the ReplicaSet, Deployment and PDB status writes' +
      (load.length
        ? `. Measured over each run (medians): ${load
            .map(
              (f) =>
                `${f.n} services: machine CPU busy ${med(f.parLoad.busy)} % in (b) and ${med(f.edLoad.busy)} % in (c) on average over the run; ` +
                `controllers waiting in their rate limiters ${(med(f.parLoad.wait) / 1000).toFixed(1)} s in (b) and ${(med(f.edLoad.wait) / 1000).toFixed(1)} s in (c), summed over their requests`,
            )
            .join('; ')}` +
          `; before each (b) and (c) the bench waited ${fmt(stats(load.flatMap((f) => f.quiet)))} (uncounted) for the controllers to catch up with the command before`
        : '') +
      '. On EKS the control plane is sized by AWS and shares nothing with the deploy.',
    '- What (c) does besides the releases: it renders every service with helm (one process each) and checks ECR and IRSA before changing anything; ' +
      'EKS tokens are minted in process (no exec plugin runs during a deploy); ' +
      "the rollouts are judged by one shared watch, and each service's HPA/PDB/spread checks run as soon as it is ready. Section 3 splits its CPU and API requests from helm's.",
    '- Before issue 14 (2026-11-26, same machine, quiet): 6 services (b) 10.2 s, (c) 11.5 s (1.34× the slowest alone); 30 services (b) 38.2 s, (c) 44.2 s.',
    '- Fixed while measuring (before issue 14): (1) the Kubernetes client ran the token plugin once per concurrent request (up to 36 at once ' +
      'after a 6-service rollout, 4.6 s); it now fetches the token once per run. (2) Every helm process started the exec plugin ' +
      'to mint its own token (about 0.3 s of CPU each, all at the moment the upgrades start); helm now gets a token minted in ' +
      'process (HELM_KUBETOKEN), and so does the Kubernetes client. Before (2), on the same machine: 6 services 12.7 s (1.46×), 30 services 51.9 s (5.97×).',
    '',
  );
  return lines;
}

function fleetSection(R) {
  const fleets = R.fleet;
  const sampled = fleets.filter((f) => !f.fullSequential);
  const goalOf = (f) => {
    const r = med(f.ed) / med(f.slowest);
    const le = `(c) ≤ (b): ${metOr(med(f.ed) <= med(f.par))}`;
    return f.n === 6 ? `${le}; (c) ≤ 1.2×: ${metOr(r <= 1.2)}` : le;
  };
  return [
    '## 1. Fleet deploy',
    '',
    'Each service: 3 replicas, rolling update maxSurge 1 / maxUnavailable 0, so a rollout is three pod starts in a row.',
    '(a) `helm upgrade --install --wait` per service, one after another; (b) the same commands all at once;',
    '(c) `ecommerce-deploy deploy` with one wave (no dependsOn) and `--concurrency 50`, so every service starts at once as in (b)',
    '(ECR and IRSA checks, render, EKS token, releases in parallel, tracked rollouts, HPA/PDB/spread checks).',
    '"Slowest alone" is the slowest single service of the sequential loop, where each service ran alone.' +
      (sampled.length
        ? ` At ${sampled.map((f) => f.n).join(', ')} services the full loop (a) is not run (it took 257 s per run at 30 on 2026-11-26): ` +
          `"slowest alone" is the slowest of ${sampled[0].alone} of them (the six shipped services and ${sampled[0].alone - 6} synthetic ones, which are alike) each run alone, one after another.`
        : ''),
    '',
    '| services | (a) sequential | (b) parallel helm | (c) ecommerce-deploy | slowest alone | (b)/slowest | (c)/slowest | (c) − (b) | goals |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
    ...fleets.map((f) => {
      const ratio = (a) => (med(a) / med(f.slowest)).toFixed(2);
      return `| ${f.n} | ${f.seq.length ? fmt(stats(f.seq)) : 'not run'} | ${fmt(stats(f.par))} | ${fmt(stats(f.ed))} | ${fmt(stats(f.slowest))} | ${ratio(f.par)} | ${ratio(f.ed)} | ${((med(f.ed) - med(f.par)) / 1000).toFixed(1)} s | ${goalOf(f)} |`;
    }),
    '',
    "Where (c)'s time goes (medians): its slowest service, and the wall time of each stage of the tool (from one `== stage` line of its output to the next, as the lines arrive; the last stage runs to the exit).",
    '',
    '| services | (c) total | slowest service: upgrade + rollout + checks | slowest service: upgrade start to all replicas ready | HPA checks per run: passed on what the watch saw / waited for a later sync | stages |',
    '| ---: | ---: | ---: | ---: | ---: | --- |',
    ...fleets.map(
      (f) =>
        `| ${f.n} | ${fmt(stats(f.ed))} | ${fmt(stats(f.edSlowestService))} | ${fmt(stats(f.edSlowestReady))} | ${f.hpaSeen ? `${f.hpaSeen.join(', ')} / ${f.hpaWaited.join(', ')}` : 'not counted'} | ${formatStages(f.edStages)} |`,
    ),
    '',
    ...readingTheFleet(fleets, R.oh),
  ];
}

function shippedSection(R) {
  const s = R.shipped;
  const slowest = med(s.slowest);
  const gapCell = (gaps) => (gaps.length ? fmt(stats(gaps), 'ms', 1) : '— (no dependsOn)');
  const fastest = [...s.variants].filter((v) => v.key !== 'oneWave').sort((a, b) => med(a.ms) - med(b.ms))[0];
  return [
    '## 2. What users run: the shipped deploy.yaml',
    '',
    '`ecommerce-deploy deploy --config deploy.yaml` as committed (the api-gateway dependsOn the other five, so it starts once they are ready), ' +
      "upgrading the six in one namespace, each variant from the previous one's ready revision (the order of the variants rotates each run). " +
      'Beside it, at other `--concurrency` values, and the one-wave case of section 1 (c) (no dependsOn, `--concurrency 50`). ' +
      `"Gateway start" is the time from the last of its dependencies' \`ready\` line to the gateway's \`installing\`/\`upgrading\` line in the tool's stderr, timestamped as the lines arrive. ` +
      `Slowest alone: ${fmt(stats(s.slowest))}, from ${s.slowestFrom}.`,
    '',
    '| configuration | upgrade of the six | / slowest alone | gateway start after its dependencies are ready |',
    '| --- | ---: | ---: | ---: |',
    ...s.variants.map(
      (v) => `| ${v.label} | ${fmt(stats(v.ms))} | ${(med(v.ms) / slowest).toFixed(2)} | ${gapCell(v.gap)} |`,
    ),
    `| first install of the six into a fresh namespace, deploy.yaml, default options | ${fmt(stats(s.first.ms))} | ${(med(s.first.ms) / slowest).toFixed(2)} | ${gapCell(s.first.gap)} |`,
    '',
    `Goals: the shipped configuration with default options ≤ 2.1× the slowest alone: ${metOr(med(s.variants[0].ms) / slowest <= 2.1)}; ` +
      `on a first install the gateway starts within 2 s of its dependencies being ready (every run): ${metOr(stats(s.first.gap).max <= 2000)}.`,
    '',
    `The default concurrency is ${s.defaultConcurrency}. Of the concurrencies measured on deploy.yaml, the fastest median here is ${fastest.label.replace('deploy.yaml, ', '')}. ` +
      "deploy.yaml's first wave has five services, so every value from 5 up releases it the same way; " +
      "against EKS, whose control plane does not share the deploy's CPU, more at once costs less than on the stand-in.",
    '',
    `First install stages (medians): ${formatStages(s.first.stages)}.`,
    '',
  ];
}

function costSection(R) {
  const rows = [];
  const detail = [];
  const perSvc = (x, n) => x / n;
  for (const c of R.cost) {
    const n = c.n;
    const cpuCell = (runs, pick) =>
      fmtN(
        runs.map((r) => perSvc(pick(r), n)),
        2,
      );
    const reqCell = (runs, client) =>
      fmtN(
        runs.map((r) => perSvc(r.counts[client]?.total ?? 0, n)),
        1,
      );
    const toolCpu = (r) => r.cpu.node - r.cpu.helm - r.cpu.helmShells;
    rows.push(
      `| ${n} | (b) parallel helm | ${fmt(stats(c.par.map((r) => r.ms)))} | ${cpuCell(c.par, (r) => r.cpu.helm)} | — | ${reqCell(c.par, 'helm')} | — | ${reqCell(c.par, 'other')} |`,
      `| ${n} | (c) ecommerce-deploy | ${fmt(stats(c.ed.map((r) => r.ms)))} | ${cpuCell(c.ed, (r) => r.cpu.helm)} | ${cpuCell(c.ed, toolCpu)} | ${reqCell(c.ed, 'helm')} | ${reqCell(c.ed, 'tool')} | ${reqCell(c.ed, 'other')} |`,
    );
    const helmBy = {};
    for (const r of c.ed) for (const [k, v] of Object.entries(r.cpu.helmBy)) (helmBy[k] ??= []).push(v / n);
    const procs = med(c.ed.map((r) => r.cpu.helmProcesses));
    detail.push(
      `- ${n} services, (c): ${procs} helm processes; helm CPU s per service by command: ${Object.entries(
        helmBy,
      )
        .map(([k, v]) => `${k} ${med(v).toFixed(2)}`)
        .join(', ')}. Stages: ${formatStages(c.ed.map((r) => r.stages))}.`,
    );
    for (const [label, runs, clients] of [
      ['(b)', c.par, ['helm']],
      ['(c)', c.ed, ['helm', 'tool']],
    ]) {
      for (const client of clients) {
        const keys = {};
        for (const r of runs)
          for (const [k, v] of Object.entries(r.counts[client]?.by ?? {})) (keys[k] ??= []).push(v);
        const top = Object.entries(keys)
          .map(([k, v]) => [k, med([...v, ...Array(runs.length - v.length).fill(0)])])
          .sort((a, b) => b[1] - a[1])
          .slice(0, 6);
        const agent = runs.find((r) => r.agents[client])?.agents[client] ?? '';
        detail.push(
          `- ${n} services, ${label}, ${client === 'helm' ? 'helm' : 'the tool'} (\`${agent.split(' ')[0]}\`), top requests per run: ${top.map(([k, v]) => `${k} ${v}`).join(', ')}.`,
        );
      }
    }
  }
  return [
    '## 3. Where CPU and API requests go',
    '',
    "On a stand-in of its own with the API server's audit log on (`LOCAL_CLUSTER_AUDIT=1`), so auditing does not touch the timings of the other sections; the same fleets as section 1, upgrades. " +
      "CPU: every helm process runs under a bash that records its CPU (user + system, bash `times`); the tool's = the whole process tree of `node dist/cli.js` (the same way) minus its helm processes and their wrapper shells. " +
      "API requests: audit events (one per request) while the command ran, by client: helm (user agent `Helm/…`), the tool's Kubernetes client (the deploy's EKS identity, an IAM ARN, with any other user agent), " +
      "and the cluster's own components (controllers, scheduler, kwok: other identities), which carry out the rollouts.",
    '',
    '| services | | wall | CPU s per service: helm | CPU s per service: the tool | API requests per service: helm | API requests per service: the tool | API requests per service: cluster components |',
    '| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows,
    '',
    ...detail,
    '',
  ];
}

function failFastSection(R) {
  const ff = R.ff;
  const ratio = med(ff.helm) / med(ff.ed);
  return [
    '## 4. Fail-fast: one service with a bad image',
    '',
    'Time from the pod first showing ImagePullBackOff (seen by a watch) to the exit of the deploy.',
    '',
    '| | after ImagePullBackOff | whole command |',
    '| --- | ---: | ---: |',
    `| (c) ecommerce-deploy (then rolls back) | ${fmt(stats(ff.ed))} | ${fmt(stats(ff.edTotal))} |`,
    `| helm upgrade --install --wait --timeout ${ff.helmTimeout ?? HELM_TIMEOUT} | ${fmt(stats(ff.helm))} | ${fmt(stats(ff.helmTotal))} |`,
    '',
    `Ratio: ecommerce-deploy reports ${ratio.toFixed(0)}× sooner (goal: ≥ 100×: ${metOr(ratio >= 100)}).`,
    '',
  ];
}

function overheadSections(R) {
  const oh = R.oh;
  return [
    '## 5. Overhead before the first `helm upgrade`, and start time',
    '',
    'From the start of `node dist/cli.js deploy` to the first `helm upgrade` process: config, ECR preflight, rendering every service, EKS DescribeCluster and kubeconfig, IRSA check, pending-release check (one wave, `--concurrency 50`, as section 1 (c)).',
    '',
    '| services | overhead | goal |',
    '| ---: | ---: | --- |',
    ...Object.entries(oh.result).map(([n, r]) => {
      const s = stats(r.overhead);
      return `| ${n} | ${fmt(s, 'ms', 1)} | ${Number(n) === 6 ? `under 1.5 s: ${metOr(s.median < 1500)}` : ''} |`;
    }),
    '',
    `Start time (5 runs): \`node dist/cli.js --help\` ${fmt(stats(oh.start.cli), 'ms', 1)}; \`node dist/index.js\` with no inputs (reads them, exits 2) ${fmt(stats(oh.start.action), 'ms', 1)}.`,
    '',
    '## 6. AWS calls per deploy (counted at moto)',
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

/**
 * What issue 14 changed and where each change shows. Written, not computed: the figures it
 * cites from outside this run name their own source.
 */
function changes() {
  return [
    '## What issue 14 changed, and where each change shows',
    '',
    '- **A service starts as soon as the services it depends on are ready**, not when its whole wave is, and its HPA/PDB/spread checks run outside the release slot (the run still waits for them): section 2, "gateway start after its dependencies are ready". Before, the gateway waited for the slowest of its wave and for the wave\'s checks: in the demo\'s first install it started at 63 s of a 94 s run.',
    "- **A first install under an HPA is raised to the HPA's minimum at once** (a merge patch with the resourceVersion read; `replicas` is in no release manifest, so no upgrade resets it): section 2, first install. Before, each service sat at 1/3 ready for ~13 s, until the HPA controller's next sync.",
    '- **The default concurrency is 10** (was 3, which split deploy.yaml\'s five-service first wave in two): section 2, "default options" against `--concurrency 3`. Before (2026-12-01, same machine): 23.3 s at 3 against 18.7 s at 50.',
    "- **Live releases are read from helm's storage** (the release Secret, through the run's own client) instead of `helm get manifest` + `helm get values` per service: 14 helm processes per 6-service upgrade instead of 26, and the comparison stage 0.2 s instead of 0.7 s (section 3's measurement on this machine on 2026-12-02, before and after the change, 2 and 3 runs).",
    '- **Nodes are listed once per run** for the zone-spread checks, not once per service: section 3, "list nodes" (1 per run).',
    "- **helm's version check runs while ECR answers**: tens of milliseconds; not measured on its own.",
    "- **helm's client-side OpenAPI check is skipped where the API server validates fields itself** (Kubernetes 1.27+, the version from EKS or /version): there kubectl's validator skips itself, yet each `helm upgrade` still fetched and parsed the OpenAPI document for it. Measured alone on the stand-in, one `helm upgrade` took 0.8 CPU s with it and 0.4 without (helm 3 and 4 alike); a typo'd field is treated the same either way (helm 3: applied with the server's warning, which the run now shows; helm 4's server-side apply: refused). Section 3, helm CPU s per service: (c) 0.85 before (2026-12-02 05:31 run, same machine), against (b)'s unchanged `helm upgrade --wait`.",
    "- **Less before the first upgrade** (section 5; 1.88 s for 6 services and 4.83 s for 30 before, same machine): the EKS lookup runs beside the ECR and helm checks; the rollout watches start while the run renders (they only read); `helm list` is replaced by one LIST of the release Secrets, which also carries each latest record, so the diff reads nothing again; each rendered manifest is parsed once and objects are compared as data (YAML only for a changed one); each values file is parsed once per run; the deploy file's schema is compiled without re-checking it against the JSON Schema meta-schema (~35 ms; a unit test checks it once); @actions/tool-cache loads only when helm is installed (~30 ms, and 600 KiB out of dist/cli.js). An A/B on the stand-in (unchanged six, 8 runs each, alternating) put the first-upgrade point at 1.36 s against 1.74 s for the first four of these.",
    "- **The tracker judges only the rollout an event belongs to** (a pod through its ReplicaSet to its Deployment), not every tracked one per event; the 1 s tick still judges all. Section 3, the tool's CPU s per service at 30 services: 0.26 before.",
    "- **helm runs with `GOGC=400`** (Go's collector, unless the environment sets GOGC): helm's processes live well under a second and all start at once, on the CPU the rollouts need next. Measured alone on the stand-in (helm 3.17, one service, 6 runs each, alternating): `helm upgrade` 0.43 CPU s with Go's default (100) and 0.36 with 400, `helm template` 0.078 and 0.058, peak memory 55 MB and 73 MB per upgrade (helm 4.1: 0.345 and 0.325). Section 3, helm CPU s per service: 0.43 (6 services) and 0.44 (30) in the previous run (2026-12-02 08:34, same machine).",
    "- **The IRSA check runs while the services render**: each role is checked as soon as its service has rendered, and the OIDC provider lookups the services share are made once, by the first service that has rendered; the verdict still comes before any change. On the stand-in IAM (moto) answers in milliseconds, so section 5 shows little; against IAM's global endpoint, two of the three round trips per role leave the critical path.",
    "- **The text of each object's diff is written when first read** (the summary, the report, a plan), not before the releases start: a deploy needs only whether an object changed.",
    "- **The HPA/PDB checks re-read soon after a rollout** (100 ms, doubling to every 500 ms, was every 500 ms): right after the last pod is ready the disruption controller has often not counted it yet, and the PDB check waited a whole 500 ms to see it had. Section 1, the slowest service's upgrade + rollout + checks against its upgrade start to ready.",
    "- **Where a `helm upgrade`'s CPU goes** (perf on the stand-in, helm 3.17, one service with 10 stored revisions, 8 runs, Go's default GC): about a third reading the release's stored revisions (helm lists and decodes every stored revision, gunzip and JSON, two to three times per upgrade), 10 % writing the new one (gzip), 16 % Go's garbage collector (hence GOGC=400), 10 % Go's package init, 9 % reading the discovery cache, 22 % the kernel (exec, page faults of the 60 MB binary). The stored revisions are helm's `--history-max` (10): fewer would cost less but leave fewer revisions to roll back to by hand, so the tool keeps helm's default.",
    "- **Measured and kept as is:** rendering before the upgrade (helm renders again inside `upgrade`) costs 0.07–0.09 CPU s per service against 0.7–0.9 for the upgrade (section 3); it is what stops bad input before any change and what the live diff compares, so it stays. helm's discovery cache: every helm process already shares `~/.kube/cache`. Taking the lease earlier: it is the one write before the releases, so it stays after every preflight check.",
    "- **Less of the tool's own CPU before the first upgrade and after the last check** (section 5: 1287 ms for 6 services before, fresh clone at 06c0ba4): the deploy file's schema is compiled ahead of time (ajv's standalone code, `npm run gen:validator`; compiling it cost ~30 ms of every start); `dist/` is ASCII, so node holds its 4.5 MB of source one byte per character (start 13 ms sooner, 20 paired runs); the rollout watch of events starts at the namespace's current resourceVersion instead of listing the hour of events the API server keeps (diagnostics only use the rollout's own); the IAM lookups of the IRSA check (each role's trust policy, the OIDC provider) start for the role each service's values name while the services render, so its verdict no longer waits on IAM after the last render (the rendered ServiceAccount is still what is judged); and each service's diff text (the summary's) is written while its rollout runs instead of after the last check (last check to exit ~120 ms before, ~50 ms after, 4 runs each on the stand-in). All of these together, against the code before them (c854cfe), 6 services, one stand-in, 6 runs each alternating, 20 s apart: 11.7 s before, 11.1 s after (median; the newer was faster in each of the 6 pairs).",
    "- **A rollout is judged done from its pods as soon as they say so**: every desired pod of the new ReplicaSet Ready, the older ReplicaSets scaled to 0 and each of their pods terminating or gone. kubectl's rule (kept: whichever holds first) waits for two more controller writes after that, the old ReplicaSet's count and then the Deployment's status. On the stand-in with six rollouts at once, the old pods were terminating 0.37–0.76 s after the last new pod was Ready and the Deployment's status said done 0.71–1.69 s after it. Section 1, (c) at 6 services: an A/B on one stand-in (8 runs each, alternating, 30 s apart) gave 10.9 s before and 10.3 s after (median; the newer was faster in 7 of the 8 pairs).",
    '- **The HPA check takes what the run\'s HPA watch saw** when the HPA controller\'s latest sync after a rollout found no samples of the new pods ("did not receive metrics for targeted pods"): a race with its 15 s sync, since once a rollout is done every pod is new and metrics-server needs a scrape or two to measure them. If the watch saw the HPA computing replicas from metrics at its current spec after the release was applied, the check passes and says so, instead of waiting 12–35 s for a later sync. The controller does not set `status.observedGeneration`, so "at its current spec" means the state listed when the watch started or a status write after the spec last changed. With `strict`, or without such a sighting (a first install, a spec the controller has not written a status for), the check waits as before. Section 1 at 30 services: before (fresh clone at 6e4ad23, 2026-12-02 11:58), the slowest service was ready at 37–39 s in every run and two of the three runs ended at 52–53 s, their HPA checks waiting 12–15 s; (c) was 54.5 s against (b)\'s 46.0 s.',
    '',
  ];
}

/** The markdown of whichever sections R holds, goals first. */
function render(R) {
  return [
    ...goals(R),
    ...(R.fleet && R.shipped ? changes() : []),
    ...(R.fleet ? fleetSection(R) : []),
    ...(R.shipped ? shippedSection(R) : []),
    ...(R.cost ? costSection(R) : []),
    ...(R.ff ? failFastSection(R) : []),
    ...(R.oh ? overheadSections(R) : []),
  ];
}

function write(R) {
  const lines = [
    '# Benchmarks',
    '',
    `Written by \`npm run bench\` (bench/fleet.mjs) on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC.`,
    '',
    machine(R.runs ?? RUNS),
    '',
    ...render(R),
  ];
  writeFileSync(OUT, lines.join('\n'));
  log(`wrote ${OUT}`);
}

// ---------------------------------------------------------------------------

mkdirSync(join(work, 'values'), { recursive: true });
if (process.env.BENCH_FROM) {
  // One results file, or several (sections run apart), merged.
  const files = process.env.BENCH_FROM.trim().split(/\s+/);
  write(Object.assign({}, ...files.map((f) => JSON.parse(readFileSync(f, 'utf8')))));
  process.exit(0);
}
const only = process.env.BENCH_SECTIONS?.trim().split(/[\s,]+/);
const unknown = only?.filter((s) => !SECTIONS.includes(s)) ?? [];
if (unknown.length) {
  log(`BENCH_SECTIONS: unknown ${unknown.join(', ')}; one or more of: ${SECTIONS.join(' ')}`);
  process.exit(2);
}
const want = (s) => !only || only.includes(s);
if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run bundle\` (npm run bench does)`);

const R = { runs: RUNS };
if (['fleet', 'shipped', 'failfast', 'overhead'].some(want)) {
  startStandIn(runDir);
  try {
    if (want('fleet')) {
      R.fleet = [];
      for (const n of SIZES) R.fleet.push(await fleetDeploys(n));
    }
    if (want('shipped')) R.shipped = await shipped(R.fleet);
    if (want('failfast')) R.ff = await failFast();
    if (want('overhead')) R.oh = await overhead(SIZES);
  } finally {
    if (!process.env.BENCH_KEEP_CLUSTER) stopStandIn({ runDir });
  }
}
if (want('cost')) {
  startStandIn(costRunDir, { LOCAL_CLUSTER_AUDIT: '1' });
  try {
    R.cost = [];
    for (const n of SIZES) R.cost.push(await cost(n));
  } finally {
    if (!process.env.BENCH_KEEP_CLUSTER) stopStandIn({ runDir: costRunDir });
  }
}
// The raw figures, so the report can be rewritten without re-running (BENCH_FROM=<file>).
writeFileSync(
  join(work, only ? `results-${only.join('-')}.json` : 'results.json'),
  JSON.stringify(R, null, 2),
);
if (only) process.stdout.write(render(R).join('\n'));
else write(R);
