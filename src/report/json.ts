/**
 * The machine-readable report (`report-path` / `--report`). It is written
 * world-readable (0644) because it holds only names, tags, digests and results;
 * that is checked, not assumed: a report that contains a masked value is refused.
 */
import { accessSync, constants, mkdirSync, statSync, type Stats, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { inputError } from '../errors.js';
import type { Report } from '../model.js';

function statOf(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

function writable(path: string): boolean {
  try {
    accessSync(path, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Refuses, before the run starts, a report path that could not be written at the end:
 * a directory, a file that is not writable, or a place under a file or an unwritable
 * directory. Missing parent directories are fine: they are created when the report is written.
 */
export function checkReportPath(name: string, path: string): void {
  const file = resolve(path);
  const st = statOf(file);
  if (st?.isDirectory()) {
    throw inputError(`${name} ${path} is a directory`, {
      hint: `give the path of a file to write the JSON report to, e.g. ${join(path, 'report.json')}`,
    });
  }
  if (st && !writable(file)) {
    throw inputError(`${name} ${path} is not writable`, {
      hint: 'give a path this user may write, or make the file writable',
    });
  }
  let dir = dirname(file);
  while (!statOf(dir) && dirname(dir) !== dir) dir = dirname(dir);
  if (!statOf(dir)?.isDirectory()) {
    throw inputError(`${name} ${path} cannot be created: ${dir} is not a directory`, {
      hint: 'give a report path whose parent is a directory (missing directories are created)',
    });
  }
  if (!st && !writable(dir)) {
    throw inputError(`${name} ${path} cannot be created: ${dir} is not writable`, {
      hint: 'give a report path in a directory this user may write',
    });
  }
}

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
