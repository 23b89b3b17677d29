/**
 * Puts failed services (or, with rollback "all", every service this run touched)
 * back on the revision they had before the run; a failed first install is removed.
 */
import { DeployError } from '../errors.js';
import type { Plan } from '../model.js';
import { settleAll, type RunContext, type Session } from './context.js';

export async function rollBack(ctx: RunContext, plan: Plan, session: Session): Promise<void> {
  const { request } = plan;
  if (request.rollback === 'none') return;
  const targets = ctx.results
    .results()
    .filter((r) => r.status === 'failed' || (request.rollback === 'all' && r.status === 'deployed'));
  await ctx.out.group(`Rolling back ${targets.map((t) => t.service).join(', ')}`, () =>
    settleAll(
      targets.map(async ({ service }) => {
        const previous = session.before.get(service);
        try {
          if (previous) {
            await session.helm.rollback(
              service,
              previous.revision,
              plan.namespace,
              request.rollbackTimeoutSeconds,
            );
            ctx.results.update(service, { status: 'rolled-back', rolledBackTo: previous.revision });
            ctx.out.info(`${service}: rolled back to revision ${previous.revision}`);
          } else if (request.keepFailedInstall) {
            ctx.out.info(`${service}: first install failed; kept for inspection (keep-failed-install)`);
          } else {
            await session.helm.uninstall(service, plan.namespace);
            ctx.results.update(service, { status: 'rolled-back', rolledBackTo: 0 });
            ctx.out.info(`${service}: first install failed, uninstalled`);
          }
        } catch (err) {
          if (!(err instanceof DeployError)) throw err;
          ctx.results.warn(`${service}: rollback failed: ${err.message}`);
        }
      }),
    ),
  );
}
