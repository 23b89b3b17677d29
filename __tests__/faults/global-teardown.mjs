// Writes RELIABILITY.md from the records the scenarios left (__tests__/faults/scenario.ts),
// only when every scenario of the suite left one (a run filtered with -t does not
// overwrite it), then stops the stand-in. RELIABILITY_OUT writes it elsewhere.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../../scripts/stand-in.mjs';
import e2eTeardown from '../e2e/global-teardown.mjs';

/** The scenarios of project issue 10, item 7, in the order RELIABILITY.md lists them. */
const SCENARIOS = ['a', 'b', 'c', 'd', 'e', 'f1', 'f2', 'g', 'h', 'i'];

export default async function globalTeardown() {
  try {
    writeReliability();
  } finally {
    await e2eTeardown();
  }
}

function writeReliability() {
  const dir = process.env.FAULTS_RECORDS ?? join(repoRoot, '.cache', 'faults-records');
  const records = existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => f.endsWith('.json'))
        .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')))
    : [];
  const byId = new Map(records.map((r) => [r.id, r]));
  const missing = SCENARIOS.filter((id) => !byId.has(id));
  if (missing.length) {
    process.stderr.write(
      `\nfaults: RELIABILITY.md not written: no record of scenario(s) ${missing.join(', ')}\n`,
    );
    return;
  }
  const out = process.env.RELIABILITY_OUT ?? join(repoRoot, 'RELIABILITY.md');
  const started = Number(process.env.FAULTS_STARTED_AT ?? Date.now());
  const helm = spawnSync(join(repoRoot, '.cache', 'tools', 'helm3', 'helm'), ['version', '--short'], {
    encoding: 'utf8',
  }).stdout.trim();
  const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], {
    cwd: repoRoot,
    encoding: 'utf8',
  }).stdout.trim();
  const cell = (s) => String(s).replace(/\|/g, '\\|').replace(/\n/g, ' ');
  const rows = SCENARIOS.map((id) => byId.get(id));
  const lines = [
    '# Reliability',
    '',
    `Written by \`npm run test:faults\` (__tests__/faults/) on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC from a complete run (${((Date.now() - started) / 60000).toFixed(1)} min incl. the stand-in's start), at commit ${commit} plus the working tree.`,
    '',
    `- CPU: ${cpus().length} × ${cpus()[0]?.model.trim() ?? '?'}; memory ${Math.round(totalmem() / 2 ** 30)} GiB; Node ${process.version}; helm ${helm} (the tool's default: first on PATH, else .cache/tools)`,
    '- Cluster: the local EKS stand-in (kube-apiserver v1.35.4, kwok nodes in 3 zones, TokenReview webhook checking EKS tokens), moto for ECR/EKS; faults from local-cluster/faults/ (README "Fault injection")',
    '- Every scenario runs in a namespace of its own and ends with the end-state check: every release `deployed` at the expected revision, the TMPDIR each run was given empty, no ECR password/token, AWS secret key or EKS token (`k8s-aws-v1.`) in any stdout, stderr, JSON report or leftover file, and a following deploy of a new tag exits 0.',
    '- Figures are from this one run (not medians): this is a record of behaviour, `npm run bench` measures speed.',
    '',
    '| # | scenario | injected | what the tool did | figures | end state |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows.map(
      (r) =>
        `| ${r.id} | ${cell(r.title)} | ${cell(r.injected)} | ${cell(r.behaviour)} | ${cell(r.figures)} | ${r.passed ? '' : '**FAILED** '}${cell(r.endState)} |`,
    ),
    '',
  ];
  const failed = rows.filter((r) => !r.passed).map((r) => r.id);
  lines.push(
    failed.length
      ? `**Scenarios that failed in this run: ${failed.join(', ')}.**`
      : 'Every scenario passed its end-state check in this run.',
    '',
  );
  writeFileSync(out, lines.join('\n'));
  process.stderr.write(`\nfaults: wrote ${out}\n`);
}
