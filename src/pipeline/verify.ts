/**
 * After a service is ready: its HPA, PDB and zone spread, against what its chart rendered.
 * A service this run left alone (unchanged) is checked too, but what fails there is a
 * warning: this run did not change it, so it neither fails the run nor is rolled back.
 */
import type { VerifyRequest } from '../kube/verify.js';
import type { Plan } from '../model.js';
import type { RenderedService, RunContext, Verifier } from './context.js';

export async function verifyReleased(
  ctx: RunContext,
  plan: Plan,
  { svc, expected }: RenderedService,
  verify: Verifier,
  released = true,
  seenActive?: VerifyRequest['seenActive'],
): Promise<void> {
  const service = svc.name;
  const v = await verify({
    namespace: plan.namespace,
    service,
    expected: { autoscaling: expected.autoscaling, pdbMinAvailable: expected.pdbMinAvailable },
    strict: plan.request.strict,
    seenActive,
  });
  ctx.results.update(service, { verification: { hpa: v.hpa, pdb: v.pdb, spread: v.spread } });
  for (const [what, check] of Object.entries({ HPA: v.hpa, PDB: v.pdb, 'zone spread': v.spread })) {
    const line = `${service}: ${what} ${check.verdict}: ${check.message}`;
    if (check.verdict === 'error' && released) {
      ctx.results.update(service, { status: 'failed', reason: 'VerificationFailed', message: line });
      ctx.out.error(line);
    } else if (check.verdict !== 'ok' && check.verdict !== 'skipped') {
      // The check says "HPA order-service: …"; the grouped warning names the services itself.
      const message = check.message.replace(new RegExp(`^${what} ${service}: `), '');
      const unreleased = check.verdict === 'error' ? ' (unchanged by this run, so not rolled back)' : '';
      ctx.results.deferWarning(service, `${what}: ${message}${unreleased}`);
    } else ctx.out.info(line);
  }
}
