/**
 * The machine-readable report (`report-path` / `--report`). It is written
 * world-readable (0644) because it holds only names, tags, digests and results;
 * that is checked, not assumed: a report that contains a masked value is refused.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Report } from '../model.js';

function reportJson(report: Report): string {
  return JSON.stringify(report, null, 2) + '\n';
}

/** Writes the report and returns its absolute path. Throws rather than write a secret to disk. */
export function writeJsonReport(path: string, report: Report, secrets: readonly string[]): string {
  const text = reportJson(report);
  // Compare against the JSON-escaped form too: a secret with quotes or newlines is stored escaped.
  const leaked = secrets.some(
    (s) => s && (text.includes(s) || text.includes(JSON.stringify(s).slice(1, -1))),
  );
  if (leaked) {
    throw new Error(
      `refusing to write the JSON report to ${path}: it would contain a masked secret. This is a bug in ecommerce-deploy; please report it.`,
    );
  }
  const file = resolve(path);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text, { mode: 0o644 });
  return file;
}
