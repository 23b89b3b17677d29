/**
 * The end-of-run summary, as markdown for the job summary and as a plain-text
 * table for the terminal. Both show the same facts: where, what tag, and per
 * service the digest, revision, result and time, then warnings and reasons.
 * Pure functions of the Report; secrets are replaced before anything is returned.
 */
import { formatDiagnostics } from '../kube/diagnostics.js';
import { formatDuration } from './duration.js';
import { redact } from './redact.js';
import { changeHeadline } from '../helm/release-diff.js';
import type { Report, ServiceChange, ServiceResult, ServiceStatus } from '../model.js';

/** sha256:0123456789abcdef… -> sha256:0123456789ab (what `docker images` shows). */
export function shortDigest(digest: string | undefined): string {
  if (!digest) return '';
  const [algo, hex] = digest.includes(':') ? digest.split(':', 2) : ['', digest];
  return `${algo ? `${algo}:` : ''}${(hex ?? '').slice(0, 12)}`;
}

/** `user-service@sha256:0123456789ab` or `user-service:abc123`: the repository's last segment, digest shortened. */
function shortImage(r: ServiceResult): string {
  const name = r.image.split('@')[0]!.split('/').pop() ?? r.image;
  if (r.digest) return `${name.split(':')[0]}@${shortDigest(r.digest)}`;
  return name || '-';
}

function revision(r: ServiceResult): string {
  if (r.revision === undefined) return '';
  return r.rolledBackTo !== undefined ? `${r.revision} → ${r.rolledBackTo}` : String(r.revision);
}

const ICON: Record<ServiceStatus, string> = {
  deployed: '✅',
  planned: '📝',
  failed: '❌',
  'rolled-back': '↩️',
  skipped: '⏭️',
  cancelled: '⏹️',
  verified: '✅',
  unchanged: '⏸️',
};

const count = (n: number) => `${n} service${n === 1 ? '' : 's'}`;

function headline(report: Report): string {
  const n = report.services.length;
  const services = count(n);
  const unchanged = report.services.filter((r) => r.change?.kind === 'unchanged').length;
  const compared = report.services.some((r) => r.change);
  if (report.result === 'planned' && compared) {
    return `Plan: ${n - unchanged} of ${services} would change, ${unchanged} unchanged`;
  }
  if (report.result === 'planned') return `Plan: ${services} would be deployed`;
  const left = report.services.filter((r) => r.status === 'unchanged').length;
  if (report.result === 'success' && left === n) return `Nothing to deploy: ${services} unchanged`;
  if (report.result === 'success' && left) return `Deployed ${count(n - left)}, ${left} unchanged`;
  if (report.mode === 'verify' && !report.error) {
    const failed = (report.checks ?? []).filter((c) => c.status === 'failed').length;
    return failed
      ? `Verify: ${failed} check${failed === 1 ? '' : 's'} failed for ${services}`
      : `Verified ${services}: every check passed`;
  }
  if (report.result === 'success') return `Deployed ${services}`;
  if (report.result === 'cancelled') return `Deploy cancelled (${report.cancelledBy ?? 'signal'})`;
  if (report.mode === 'verify') return 'Verify stopped';
  return report.error?.kind === 'input' || report.error?.kind === 'preflight'
    ? 'Deploy stopped before changing the cluster'
    : 'Deploy failed';
}

function where(report: Report): string[] {
  return [
    ['cluster', report.cluster ?? (report.mode === 'plan' ? '(none: plan)' : '')],
    ['namespace', report.namespace],
    ['environment', report.environment],
    ['tag', report.imageTag],
  ]
    .filter(([, v]) => v)
    .map(([k, v]) => `${k} ${v}`);
}

/** HPA, PDB and zone spread verdicts in a few words: `hpa ok, pdb ok, spread warning`. */
function checksText(r: ServiceResult): string {
  const v = r.verification;
  if (!v) return '';
  return `hpa ${v.hpa.verdict}, pdb ${v.pdb.verdict}, spread ${v.spread.verdict}`;
}

/** verify's checklist as aligned columns; the detail column is last and not padded. */
function checklistText(checks: NonNullable<Report['checks']>): string[] {
  const header = ['SERVICE', 'CHECK', 'RESULT', 'DETAIL'];
  const rows = checks.map((c) => [c.service, c.check, c.status, c.message]);
  const widths = [0, 1, 2].map((i) => Math.max(header[i]!.length, ...rows.map((r) => r[i]!.length)));
  const line = (cols: string[]) =>
    cols
      .map((c, i) => (i < 3 ? c.padEnd(widths[i]!) : c))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

/** Why each failed or skipped service ended the way it did (with what the cluster said), then the run's own error. */
function reasons(report: Report): string[] {
  const lines = report.services
    // verify's failures are in its checklist already.
    .filter(
      (r) =>
        r.status !== 'deployed' &&
        r.status !== 'planned' &&
        r.status !== 'unchanged' &&
        r.reason !== 'CheckFailed',
    )
    .filter((r) => r.reason || r.message)
    .map((r) => {
      const why = `${r.service}: ${[r.reason, r.message].filter(Boolean).join(': ')}`;
      const back = r.rolledBackTo ? ` (rolled back to revision ${r.rolledBackTo})` : '';
      return why + back + (r.diagnostics ? `\n${formatDiagnostics(r.diagnostics)}` : '');
    });
  if (report.error) lines.push(`${report.error.kind} error: ${report.error.message}`);
  return lines;
}

// Summary markdown is rendered as HTML: escape it, and keep a cell on one line.
const md = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\|/g, '\\|');
const cell = (s: string) => md(s).replace(/\r?\n/g, '<br>') || '—';

const CHECK_ICON = { ok: '✅', warning: '⚠️', failed: '❌' };

export function summaryMarkdown(report: Report, secrets: readonly string[] = []): string {
  const icon = { success: '✅', planned: '📝', cancelled: '⏹️', failure: '❌' }[report.result];
  const out = [
    `## ${icon} ${headline(report)}`,
    '',
    where(report)
      .map((w) => md(w).replace(/ /, ' **') + '**')
      .join(' · '),
  ];
  if (report.checks) {
    out.push('', '| Service | Check | Result | Detail |', '| --- | --- | --- | --- |');
    for (const c of report.checks) {
      out.push(
        `| ${cell(c.service)} | ${cell(c.check)} | ${CHECK_ICON[c.status]} ${c.status} | ${cell(c.message)} |`,
      );
    }
  } else if (report.services.length) {
    out.push(
      '',
      '| Service | Image | Chart | Revision | Result | Duration | Checks |',
      '| --- | --- | --- | --- | --- | ---: | --- |',
    );
    for (const r of report.services) {
      const image = r.image ? `<code>${md(shortImage(r))}</code>` : '—';
      out.push(
        `| ${cell(r.service)} | ${image} | ${cell(r.chartVersion ?? '—')} | ${cell(revision(r))} | ${ICON[r.status]} ${cell(r.status)} | ${cell(formatDuration(r.durationMs))} | ${cell(checksText(r) || '—')} |`,
      );
    }
  }
  const changed = report.services.filter((r) => r.change);
  if (changed.length) out.push('', '### Changes', '', ...changed.flatMap(changeMarkdown));
  const failures = reasons(report);
  if (failures.length) out.push('', '### Why', '', ...failures.map((l) => `- ${cell(l)}`));
  if (report.warnings.length) out.push('', '### Warnings', '', ...report.warnings.map((w) => `- ${cell(w)}`));
  out.push(
    '',
    `<sub>${md(report.mode)} started ${md(report.startedAt)}, took ${md(formatDuration(report.durationMs))}</sub>`,
    '',
  );
  return redact(out.join('\n'), secrets);
}

/** One service's change as a collapsible block: the headline as its summary, the details inside. */
function changeMarkdown(r: ServiceResult): string[] {
  const change = r.change!;
  const head = `<b>${md(r.service)}</b>: ${md(changeHeadline(change))}`;
  const body = changeLines(change).filter((l) => !l.startsWith('  '));
  const diffs = change.objects.filter((o) => o.diff);
  if (!body.length && !diffs.length) return [`- ${head}`];
  return [
    '',
    '<details>',
    `<summary>${head}</summary>`,
    '',
    ...body.map((l) => `- ${md(l)}`),
    ...diffs.flatMap((o) => [
      '',
      `${o.change} <code>${md(`${o.kind}/${o.name}`)}</code>`,
      '',
      '```diff',
      o.diff!,
      '```',
    ]),
    '',
    '</details>',
    '',
  ];
}

/** What changes, line by line: image, chart, values paths, each object (its diff indented below it). */
function changeLines(change: ServiceChange): string[] {
  const lines: string[] = [];
  if (change.note) lines.push(change.note);
  const { image, chart } = change;
  if (image.from !== undefined && image.from !== image.to) lines.push(`image ${image.from} → ${image.to}`);
  else if (image.from === undefined && change.kind === 'new-install') lines.push(`image ${image.to}`);
  if (chart.from !== undefined && chart.from !== chart.to) lines.push(`chart ${chart.from} → ${chart.to}`);
  for (const v of change.values) {
    const what =
      v.change === 'changed'
        ? v.from !== undefined
          ? `${v.from} → ${v.to}`
          : '(value hidden)'
        : v.change === 'added'
          ? `added${v.to !== undefined ? ` ${v.to}` : ''}`
          : 'removed';
    lines.push(`values ${v.path}: ${what}`);
  }
  for (const o of change.objects) {
    const hidden = o.kind === 'Secret' && o.change !== 'removed' ? ' (data not shown)' : '';
    lines.push(`${o.change} ${o.kind}/${o.name}${hidden}`);
    if (o.diff) lines.push(...o.diff.split('\n').map((l) => `  ${l}`));
  }
  return lines;
}

const ansi = (code: number) => (s: string) => `\u001b[${code}m${s}\u001b[0m`;

/** A diff line (indented below its object) in colour: additions green, removals red, hunk headers cyan. */
function paintLine(line: string): string {
  if (!line.startsWith('  ')) return line;
  const body = line.slice(2);
  const code = body.startsWith('+') ? 32 : body.startsWith('-') ? 31 : body.startsWith('@@') ? 36 : 0;
  return code ? `  ${ansi(code)(body)}` : line;
}

function changesText(report: Report, color: boolean): string[] {
  const out: string[] = [];
  for (const r of report.services.filter((s) => s.change)) {
    const head = `${r.service}: ${changeHeadline(r.change!)}`;
    out.push('', color ? ansi(1)(head) : head);
    out.push(...changeLines(r.change!).map((l) => `  ${color ? paintLine(l) : l}`));
  }
  return out.length ? ['', 'Changes:', ...out.slice(1)] : [];
}

export function summaryText(
  report: Report,
  secrets: readonly string[] = [],
  opts: { color?: boolean } = {},
): string {
  const header = ['SERVICE', 'IMAGE', 'CHART', 'REVISION', 'RESULT', 'DURATION', 'CHECKS'];
  const rows = report.services.map((r) => [
    r.service,
    shortImage(r),
    r.chartVersion ?? '-',
    revision(r) || '-',
    r.status,
    formatDuration(r.durationMs) || '-',
    checksText(r) || '-',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cols: string[]) =>
    cols
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  const out = [`${headline(report)} (${formatDuration(report.durationMs)})`, where(report).join(', ')];
  if (report.checks) out.push('', ...checklistText(report.checks));
  else if (rows.length) out.push('', line(header), ...rows.map(line));
  out.push(...changesText(report, Boolean(opts.color)));
  const failures = reasons(report);
  if (failures.length) out.push('', 'Why:', ...failures.map((l) => `  - ${l.replace(/\n/g, '\n    ')}`));
  if (report.warnings.length) out.push('', 'Warnings:', ...report.warnings.map((w) => `  - ${w}`));
  return redact(out.join('\n') + '\n', secrets);
}
