/**
 * The plan on the pull request: one comment per environment, found again by a hidden
 * marker and updated in place, so a PR carries the latest plan and not one per push.
 * The body is a pure function of the Report (planComment); upsertPlanComment talks to
 * GitHub and never fails the plan: without `pull-requests: write` it warns.
 */
import type { ObjectChange, Report, ServiceChange, ServiceResult } from '../model.js';
import type { Output } from '../report/output.js';
import { redact } from '../report/redact.js';
import { shortDigest } from '../report/summary.js';
import { describeApiError, type CreateOnce, type GitHubClient } from './api.js';

/** GitHub refuses a comment body longer than this. */
export const COMMENT_LIMIT = 65_536;

export const commentMarker = (environment: string) => `<!-- ecommerce-deploy:plan:${environment} -->`;

const md = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\|/g, '\\|');
const cell = (s: string | undefined) => (s ? md(s).replace(/\r?\n/g, ' ') : '—');
const code = (s: string | undefined) => (s ? `<code>${md(s)}</code>` : '—');

/** `…/user-service:abc@sha256:0123…` -> `user-service:abc@sha256:0123456789ab`. */
function shortRef(ref: string | undefined): string | undefined {
  if (!ref) return undefined;
  const [name, digest] = ref.split('@', 2);
  const last = name!.split('/').pop() ?? name!;
  return digest ? `${last}@${shortDigest(digest)}` : last;
}

const fromTo = (from: string | undefined, to: string | undefined) =>
  from && from !== to ? `${code(from)} → ${code(to)}` : code(to);

function objectsText(objects: ServiceChange['objects']): string {
  if (!objects.length) return 'none';
  const n = (c: ObjectChange['change']) => objects.filter((o) => o.change === c).length;
  return (['changed', 'added', 'removed'] as const)
    .filter((c) => n(c))
    .map((c) => `${n(c)} ${c}`)
    .join(', ');
}

function row(r: ServiceResult): string {
  const c = r.change;
  if (!c) {
    const image = shortRef(r.digest ? `${r.image.split('@')[0]}@${r.digest}` : r.image);
    const revision = r.revision === undefined ? '—' : String(r.revision);
    return `| ${cell(r.service)} | ${cell(r.status)} | ${code(image)} | ${cell(r.chartVersion)} | ${revision} | — |`;
  }
  const kind = { unchanged: '✔️ unchanged', changed: '✏️ changed', 'new-install': '🆕 new install' }[c.kind];
  const revision =
    c.liveRevision === undefined
      ? 'new'
      : c.kind === 'unchanged'
        ? `${c.liveRevision}`
        : `${c.liveRevision} → ${c.liveRevision + 1}`;
  return `| ${cell(r.service)} | ${kind} | ${fromTo(shortRef(c.image.from), shortRef(c.image.to))} | ${fromTo(c.chart.from, c.chart.to)} | ${revision} | ${objectsText(c.objects)} |`;
}

/** A fence longer than any run of backticks in the text, so a diff cannot close it. */
function fence(text: string): string {
  const longest = Math.max(2, ...(text.match(/`+/g) ?? []).map((m) => m.length));
  return '`'.repeat(longest + 1);
}

function diffBlock(diff: string): string {
  const f = fence(diff);
  return `${f}diff\n${diff.replace(/\n$/, '')}\n${f}`;
}

/** One changed service's collapsible section: the values keys that differ, then a block per object. */
interface Section {
  open: string;
  blocks: { title: string; diff?: string }[];
}

function serviceSection(r: ServiceResult): Section | undefined {
  const c = r.change;
  if (!c || c.kind === 'unchanged') return undefined;
  let open = `<details><summary><b>${md(r.service)}</b>: ${md(objectsText(c.objects))}</summary>\n\n`;
  if (c.values.length) {
    open += `Values: ${c.values.map((v) => `<code>${md(v.path)}</code> ${v.change}`).join(', ')}\n\n`;
  }
  const blocks = c.objects.map((o) => ({
    title: `**${md(o.kind)}/${md(o.name)}** ${o.change}\n\n${!o.diff && o.kind === 'Secret' ? '_(Secret: contents not shown)_\n\n' : ''}`,
    diff: o.diff,
  }));
  return { open, blocks };
}

const CLOSE = '</details>';

export interface CommentOptions {
  /** The run's page, whose job summary has the full plan. */
  runUrl?: string;
  secrets?: readonly string[];
  /** Default COMMENT_LIMIT; tests make it small. */
  limit?: number;
}

function headline(report: Report): string {
  const n = report.services.length;
  const changes = report.services.filter((r) => r.change);
  const counted = changes.length
    ? `: ${changes.filter((r) => r.change!.kind !== 'unchanged').length} of ${n} would change`
    : `: ${n} service${n === 1 ? '' : 's'}`;
  if (report.result !== 'planned') return `❌ Plan for \`${report.environment}\` failed`;
  return `📝 Plan for \`${report.environment}\`${counted}`;
}

/**
 * The comment: marker, headline, one table row per service, the diffs in collapsible
 * sections, and a footer. Diffs that would take the body past the limit are cut, with a
 * pointer to the job summary; the table and footer always stay.
 */
export function planComment(report: Report, options: CommentOptions = {}): string {
  const limit = options.limit ?? COMMENT_LIMIT;
  const secrets = options.secrets ?? [];
  const where = [
    `namespace **${md(report.namespace)}**`,
    `tag **${md(report.imageTag)}**`,
    report.cluster ? `cluster **${md(report.cluster)}**` : '',
    report.planId ? `plan <code>${md(report.planId)}</code>` : '',
  ].filter(Boolean);
  const head = [
    commentMarker(report.environment),
    `### ${headline(report)}`,
    '',
    where.join(' · '),
    '',
    '| Service | Change | Image | Chart | Revision | Objects |',
    '| --- | --- | --- | --- | --- | --- |',
    ...report.services.map(row),
  ];
  if (report.error) head.push('', `**${md(report.error.kind)} error:** ${cell(report.error.message)}`);
  if (report.warnings.length) head.push('', ...report.warnings.map((w) => `> ⚠️ ${cell(w)}`));
  const run = options.runUrl ? `[the job summary](${options.runUrl})` : 'the job summary';
  const footer = `<sub>ecommerce-deploy plan, ${md(report.startedAt)}. The full plan is in ${run}.</sub>`;
  const truncatedNote = (n: number) =>
    `> ✂️ Diffs cut here (${n} service${n === 1 ? '' : 's'} not shown in full): GitHub limits a comment to ${limit} characters. See ${run} for the whole plan.`;

  const sections = report.services.map(serviceSection).filter((x): x is Section => Boolean(x));
  const base = redact(head.join('\n'), secrets);
  const tail = redact(footer, secrets);
  // Room for the cut note, the separators and a section's closing tag.
  const room = () => limit - body.length - tail.length - truncatedNote(sections.length).length - 32;
  let body = base;
  let kept = 0;
  let cut = false;
  for (const section of sections) {
    const open = redact(section.open, secrets);
    if (room() < open.length + 200) break;
    body += `\n\n${open}`;
    for (const block of section.blocks) {
      const title = redact(block.title, secrets);
      const diff = block.diff ? diffBlock(redact(block.diff, secrets)) : '';
      if (title.length + diff.length + 2 <= room()) {
        body += `${title}${diff ? `${diff}\n\n` : ''}`;
        continue;
      }
      // The diff that does not fit: as many of its lines as do, then the cut.
      const lines = redact(block.diff ?? '', secrets).split('\n');
      const f = fence(lines.join('\n'));
      const partial: string[] = [];
      let size = title.length + 2 * f.length + 64;
      for (const line of lines) {
        if (size + line.length + 1 > room()) break;
        partial.push(line);
        size += line.length + 1;
      }
      if (partial.length) body += `${title}${f}diff\n${partial.join('\n')}\n${f}\n\n`;
      cut = true;
      break;
    }
    body += CLOSE;
    if (cut) break;
    kept++;
  }
  const left = sections.length - kept;
  if (left) body += `\n\n${truncatedNote(left)}`;
  body += `\n\n${tail}\n`;
  // A table alone past the limit (hundreds of services): cut it hard rather than be refused.
  if (body.length > limit) body = `${body.slice(0, limit - 400)}\n\n${truncatedNote(left)}\n\n${tail}\n`;
  return body;
}

export interface PullRequestRef {
  owner: string;
  repo: string;
  number: number;
}

/**
 * Creates the environment's plan comment, or updates the one an earlier run left (found by
 * its marker). A 403/404 (the token may not write to pull requests) or any other API
 * failure is a warning: the plan itself has succeeded and is in the job summary.
 */
export async function upsertPlanComment(
  gh: GitHubClient,
  pr: PullRequestRef,
  environment: string,
  body: string,
  out: Output,
): Promise<{ action: 'created' | 'updated'; url: string } | undefined> {
  const marker = commentMarker(environment);
  const findMine = async () =>
    (
      await gh.paginate(gh.rest.issues.listComments, {
        owner: pr.owner,
        repo: pr.repo,
        issue_number: pr.number,
        per_page: 100,
      })
    ).find((c) => c.body?.includes(marker));
  // A create whose answer was lost may have landed: found by its marker, it is not made twice.
  const createOnce: CreateOnce = {
    lookup: async () => {
      const found = await findMine();
      return found && { status: 201, url: found.url, headers: {}, data: found };
    },
  };
  try {
    const mine = await findMine();
    if (mine) {
      const { data } = await gh.rest.issues.updateComment({
        owner: pr.owner,
        repo: pr.repo,
        comment_id: mine.id,
        body,
      });
      out.info(`updated the plan comment on pull request #${pr.number}: ${data.html_url}`);
      return { action: 'updated', url: data.html_url };
    }
    const { data } = await gh.rest.issues.createComment({
      owner: pr.owner,
      repo: pr.repo,
      issue_number: pr.number,
      body,
      request: createOnce,
    });
    out.info(`commented the plan on pull request #${pr.number}: ${data.html_url}`);
    return { action: 'created', url: data.html_url };
  } catch (err) {
    const status = (err as { status?: number }).status;
    const why =
      status === 403 || status === 404
        ? 'the token may not comment on it: give the job `permissions: pull-requests: write`'
        : 'the GitHub API did not answer';
    out.warn(
      `the plan was not commented on pull request #${pr.number} (${describeApiError(err)}): ${why}. The plan is in the job summary.`,
    );
    return undefined;
  }
}
