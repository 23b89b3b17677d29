#!/usr/bin/env node
// Lints .github/workflows with actionlint (expressions, contexts, `needs`, and the
// `with:` of `uses: ./` against action.yml's inputs). actionlint is a Go program:
// the pinned version is built once with `go install` into .cache/bin.
//
//   npm run actionlint                    lint .github/workflows
//   npm run actionlint -- <files...>      lint just these files (arguments pass through)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const VERSION = 'v1.7.12';
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const gobin = join(root, '.cache', 'bin');
const actionlint = join(gobin, 'actionlint');

/** First line of `actionlint -version`, e.g. v1.7.12; undefined when not built yet. */
function installedVersion() {
  if (!existsSync(actionlint)) return undefined;
  const res = spawnSync(actionlint, ['-version'], { encoding: 'utf8' });
  return res.status === 0 ? res.stdout.split('\n')[0].trim() : undefined;
}

if (installedVersion() !== VERSION) {
  mkdirSync(gobin, { recursive: true });
  process.stderr.write(`actionlint: building ${VERSION} into ${gobin} (needs Go)\n`);
  const res = spawnSync('go', ['install', `github.com/rhysd/actionlint/cmd/actionlint@${VERSION}`], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, GOBIN: gobin },
  });
  if (res.error || res.status !== 0) {
    const why = res.error?.code === 'ENOENT' ? 'go is not on PATH' : `go install exited ${res.status}`;
    process.stderr.write(
      `actionlint: could not build actionlint ${VERSION}: ${why}.\n` +
        '  Install Go >= 1.24 (https://go.dev/dl/), or put an actionlint binary at .cache/bin/actionlint.\n',
    );
    process.exit(2);
  }
}

// Without arguments actionlint finds .github/workflows itself from the repository root.
const res = spawnSync(actionlint, ['-color=false', ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
});
process.exit(res.status ?? 1);
