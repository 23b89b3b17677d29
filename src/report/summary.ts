/**
 * The end-of-run summary, as markdown for the job summary and as a plain-text
 * table for the terminal. Both show the same facts: where, what tag, and per
 * service the digest, revision, result and time, then warnings and reasons.
 * Pure functions of the Report; secrets are replaced before anything is returned.
 */
import { formatDiagnostics } from '../kube/diagnostics.js';
import { formatDuration } from './duration.js';
import { redact } from './redact.js';
import type { Report, ServiceResult, ServiceStatus } from '../model.js';

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
};

function headline(report: Report): string {
  const n = report.services.length;
  const services = `${n} service${n === 1 ? '' : 's'}`;
  if (report.result === 'planned') return `Plan: ${services} would be deployed`;
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
    .filter((r) => r.status !== 'deployed' && r.status !== 'planned' && r.reason !== 'CheckFailed')
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

export function summaryText(report: Report, secrets: readonly string[] = []): string {
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
  const failures = reasons(report);
  if (failures.length) out.push('', 'Why:', ...failures.map((l) => `  - ${l.replace(/\n/g, '\n    ')}`));
  if (report.warnings.length) out.push('', 'Warnings:', ...report.warnings.map((w) => `  - ${w}`));
  return redact(out.join('\n') + '\n', secrets);
}
