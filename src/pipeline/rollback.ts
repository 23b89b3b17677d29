/**
 * Puts failed services (or, with rollback "all", every service this run touched)
 * back on the revision they had before the run; a failed first install is removed.
 * Only what this run made is undone: a release another run (or a person) has moved on
 * since, or one this run never got to change, is left as it is, and the log says why.
 */
import { DeployError } from '../errors.js';
import type { HistoryEntry } from '../helm/helm.js';
import type { Plan, ServiceResult } from '../model.js';
import { settleAll, type RunContext, type Session } from './context.js';

export async function rollBack(ctx: RunContext, plan: Plan, session: Session): Promise<void> {
  const { request } = plan;
  if (request.rollback === 'none') return;
  const targets = ctx.results
    .results()
    .filter(
      (r) =>
        (r.status === 'failed' && r.reason !== 'Conflict') ||
        (request.rollback === 'all' && r.status === 'deployed'),
    );
  if (!targets.length) return;
  await ctx.out.group(`Rolling back ${targets.map((t) => t.service).join(', ')}`, () =>
    settleAll(
      targets.map(async (result) => {
        try {
          await rollBackOne(ctx, plan, session, result);
        } catch (err) {
          if (!(err instanceof DeployError)) throw err;
          ctx.results.warn(`${result.service}: rollback failed: ${err.message}`);
        }
      }),
    ),
  );
}

async function rollBackOne(ctx: RunContext, plan: Plan, session: Session, result: ServiceResult) {
  const { service } = result;
  const { request } = plan;
  const previous = session.before.get(service);
  const latest = (await session.helm.history(service, plan.namespace)).at(-1);
  const ours = ownRevision(ctx, result, latest, previous?.revision ?? 0);
  if (!ours) {
    const now = latest ? `revision ${latest.revision} (${latest.status})` : 'not installed';
    const why =
      latest && previous && latest.revision === previous.revision
        ? 'this run did not change it'
        : 'its latest revision is not this run’s: another deploy changed it since';
    ctx.results.warn(`${service}: not rolled back: it is at ${now}, and ${why}`);
    return;
  }
  if (previous) {
    await session.helm.rollback(service, previous.revision, plan.namespace, request.rollbackTimeoutSeconds);
    ctx.results.update(service, { status: 'rolled-back', rolledBackTo: previous.revision });
    ctx.out.info(`${service}: rolled back to revision ${previous.revision}`);
  } else if (request.keepFailedInstall) {
    ctx.out.info(`${service}: first install failed; kept for inspection (keep-failed-install)`);
  } else {
    await session.helm.uninstall(service, plan.namespace);
    ctx.results.update(service, { status: 'rolled-back', rolledBackTo: 0 });
    ctx.out.info(`${service}: first install failed, uninstalled`);
  }
}

/** The release's latest revision is the one this run's upgrade made (by number, or by the run id it carries). */
function ownRevision(
  ctx: RunContext,
  result: ServiceResult,
  latest: HistoryEntry | undefined,
  before: number,
): boolean {
  if (!latest) return false;
  if (result.revision !== undefined) return latest.revision === result.revision;
  // The upgrade failed before it said its revision; helm may still have recorded one,
  // carrying our run id, or (helm rewrites the description of a failed upgrade) marked failed.
  return (
    latest.revision > before &&
    (latest.description.includes(`run-id ${ctx.runId}`) || latest.status === 'failed')
  );
}
