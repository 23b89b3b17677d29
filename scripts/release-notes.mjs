#!/usr/bin/env node
// Prints the CHANGELOG.md section of one version (Keep a Changelog: `## [1.2.3] - 2026-01-31`),
// without its heading, for the GitHub release's notes. Exits 1, saying so, when the
// changelog has no such section or it is empty: a release without notes is a mistake.
//
//   node scripts/release-notes.mjs v1.2.3 [CHANGELOG.md]
import { readFileSync } from 'node:fs';

const [tag, file = 'CHANGELOG.md'] = process.argv.slice(2);
const version = (tag ?? '').replace(/^v/, '');
if (!/^\d+\.\d+\.\d+$/.test(version)) {
  process.stderr.write(`release-notes: expected a version like v1.2.3, got "${tag ?? ''}"\n`);
  process.exit(2);
}

const lines = readFileSync(file, 'utf8').split('\n');
const escaped = version.replace(/\./g, '\\.');
const start = lines.findIndex((l) => new RegExp(`^## \\[?${escaped}\\]?(\\s|$)`).test(l));
if (start < 0) {
  process.stderr.write(
    `release-notes: ${file} has no "## [${version}]" section: add one before tagging v${version}\n`,
  );
  process.exit(1);
}
const rest = lines.slice(start + 1);
const end = rest.findIndex((l) => /^## /.test(l) || /^\[[^\]]+\]:\s/.test(l));
const notes = (end < 0 ? rest : rest.slice(0, end)).join('\n').trim();
if (!notes) {
  process.stderr.write(`release-notes: the ${version} section of ${file} is empty\n`);
  process.exit(1);
}
process.stdout.write(`${notes}\n`);
