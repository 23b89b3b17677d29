#!/usr/bin/env node
// Scores every service's production render with kube-score and fails on any CRITICAL.
// The renders are the deploy's: deploy.yaml's chart, namespace, production values files and the
// service's own files, with the image pinned by digest as every verified release is (src/deploy.ts).
// kube-score is built once from tools/kube-score/go.mod (tools/kube-score/build.sh, needs Go).
//
//   npm run chart:score                        all services of deploy.yaml
//   npm run chart:score -- user-service ...    just these
//   HELM_BIN=/path/to/helm npm run chart:score  another helm than .cache/tools/helm4
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { load } from 'js-yaml';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// The stand-in's API server version (local-cluster/build.sh); kube-score's default is 1.18.
const KUBERNETES_VERSION = 'v1.35';
const ENVIRONMENT = 'production';
const GRADES = { 1: 'CRITICAL', 5: 'WARNING', 7: 'OK', 10: 'OK' };

/** A problem with the tools or the inputs, not a finding: exit 2. */
class ToolError extends Error {}
function fail(message) {
  throw new ToolError(message);
}

function run(cmd, args, options = {}) {
  const res = spawnSync(cmd, args, { encoding: 'utf8', cwd: root, maxBuffer: 64 << 20, ...options });
  if (res.error) fail(`${cmd}: ${res.error.message}`);
  return res;
}

function helmPath() {
  const helm = process.env.HELM_BIN ? resolve(process.env.HELM_BIN) : join(root, '.cache/tools/helm4/helm');
  if (!existsSync(helm)) fail(`no helm at ${helm}: run \`npm ci\` (postinstall extracts it) or set HELM_BIN`);
  return helm;
}

function kubeScorePath() {
  const res = run('bash', [join(root, 'tools/kube-score/build.sh')], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (res.status !== 0) fail(`building kube-score failed (exit ${res.status})`);
  return res.stdout.trim().split('\n').pop();
}

/** What the deploy renders for each service: deploy.yaml's chart, namespace and values layers. */
function renders(only) {
  const deployFile = join(root, 'deploy.yaml');
  const config = load(readFileSync(deployFile, 'utf8'));
  const base = dirname(deployFile);
  const envFiles = config.environments?.[ENVIRONMENT]?.valuesFiles ?? [];
  const names = Object.keys(config.services);
  const unknown = only.filter((name) => !names.includes(name));
  if (unknown.length) fail(`not in deploy.yaml: ${unknown.join(', ')} (services: ${names.join(', ')})`);
  return (only.length ? only : names).map((service) => ({
    service,
    chart: resolve(base, config.chart),
    namespace: config.namespace,
    valuesFiles: [...envFiles, ...(config.services[service].valuesFiles ?? [])].map((f) => resolve(base, f)),
    // Stands in for the digest ECR resolves at deploy time (a release pins repository@sha256:...).
    digest: `sha256:${createHash('sha256').update(`chart-score ${service}`).digest('hex')}`,
  }));
}

function render(helm, r) {
  const args = ['template', r.service, r.chart, '--namespace', r.namespace];
  for (const file of r.valuesFiles) args.push('-f', file);
  args.push('--set', `image.digest=${r.digest}`);
  const res = run(helm, args);
  if (res.status !== 0) fail(`helm template ${r.service} failed:\n${res.stderr}`);
  return res.stdout;
}

/** kube-score's JSON (format v2): one entry per object, each with its checks. */
function score(kubeScore, manifest, dir, service) {
  const file = join(dir, `${service}.yaml`);
  writeFileSync(file, manifest);
  const args = ['score', '--output-format', 'json', '--kubernetes-version', KUBERNETES_VERSION, file];
  const res = run(kubeScore, args);
  // kube-score exits 1 when it found a CRITICAL; anything else without JSON is a tool failure.
  try {
    return JSON.parse(res.stdout);
  } catch {
    fail(`kube-score on ${service} exited ${res.status} without a report:\n${res.stderr}`);
  }
}

function summarize(service, objects) {
  const counts = { OK: 0, WARNING: 0, CRITICAL: 0, SKIPPED: 0 };
  const findings = [];
  const ignored = [];
  for (const object of objects) {
    const ref = `${object.type_meta.kind}/${object.object_meta.name}`;
    const annotations = object.object_meta.annotations ?? {};
    const byAnnotation = (annotations['kube-score/ignore'] ?? '').split(',').filter(Boolean);
    for (const check of object.checks) {
      if (check.skipped) {
        counts.SKIPPED++;
        if (byAnnotation.includes(check.check.id)) ignored.push({ ref, id: check.check.id });
        continue;
      }
      const grade = GRADES[check.grade] ?? `grade ${check.grade}`;
      counts[grade] = (counts[grade] ?? 0) + 1;
      if (grade === 'OK') continue;
      const details = (check.comments ?? []).map((c) => (c.path ? `${c.path}: ${c.summary}` : c.summary));
      findings.push({ grade, ref, name: check.check.name, id: check.check.id, details });
    }
  }
  const line = Object.entries(counts)
    .map(([grade, n]) => `${n} ${grade}`)
    .join(', ');
  const out = [`${counts.CRITICAL ? 'FAIL' : 'ok  '} ${service.padEnd(22)} ${line}`];
  for (const f of findings.sort((a, b) => a.grade.localeCompare(b.grade))) {
    out.push(`       [${f.grade}] ${f.ref}: ${f.name} (${f.id})`);
    for (const d of f.details) out.push(`           ${d}`);
  }
  for (const { ref, id } of ignored) {
    out.push(`       [IGNORED] ${ref}: ${id} (kube-score/ignore annotation)`);
  }
  for (const object of objects) {
    const reason = object.object_meta.annotations?.['ecommerce-deploy/kube-score-ignore-reason'];
    if (reason) out.push(`           why: ${reason}`);
  }
  return { critical: counts.CRITICAL, text: out.join('\n') };
}

function pinnedVersion() {
  const goMod = readFileSync(join(root, 'tools/kube-score/go.mod'), 'utf8');
  return /^\s*github\.com\/zegl\/kube-score (v\S+)/m.exec(goMod)?.[1] ?? 'unknown version';
}

const dir = mkdtempSync(join(tmpdir(), 'chart-score-'));
let critical = 0;
try {
  const helm = helmPath();
  const kubeScore = kubeScorePath();
  const list = renders(process.argv.slice(2));
  console.log(
    `kube-score ${pinnedVersion()} on the ${ENVIRONMENT} renders (deploy.yaml), Kubernetes ${KUBERNETES_VERSION}:`,
  );
  for (const r of list) {
    const result = summarize(r.service, score(kubeScore, render(helm, r), dir, r.service));
    critical += result.critical;
    console.log(result.text);
  }
  console.log(
    critical
      ? `\n${critical} CRITICAL finding(s): fix the chart or values, or ignore one check on its object with a kube-score/ignore annotation and a reason.`
      : `\nno CRITICAL in ${list.length} render(s)`,
  );
} catch (error) {
  if (!(error instanceof ToolError)) throw error;
  process.stderr.write(`chart:score: ${error.message}\n`);
  process.exitCode = 2;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.exitCode ??= critical ? 1 : 0;
