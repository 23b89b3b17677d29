/**
 * Each rendered service against its live release (the manifest and values of the revision
 * found at the start, read from helm's storage, or by `helm get` where that cannot be read): the plan's diff, and what lets `deploy` leave an unchanged
 * service alone. Read-only. What counts as a change: see src/helm/release-diff.ts.
 */
import pLimit from 'p-limit';
import { changeHeadline, compareRelease, type LiveRelease } from '../helm/release-diff.js';
import type { ServiceChange } from '../model.js';
import { settleAll, type RenderedService, type RunContext, type Session, type Target } from './context.js';

export async function diffAll(
  ctx: RunContext,
  target: Target,
  rendered: Map<string, RenderedService>,
  session: Session,
): Promise<Map<string, ServiceChange>> {
  const { plan, chart } = target;
  const limit = pLimit(plan.request.concurrency);
  const changes = new Map<string, ServiceChange>();
  await ctx.out.group(`Comparing ${rendered.size} services with the live releases`, () =>
    settleAll(
      plan.services.map((svc) =>
        limit(async () => {
          const service = rendered.get(svc.name)!;
          const live = await liveRelease(session, svc.name, plan.namespace);
          const change = compareRelease(
            {
              manifest: service.manifest,
              objects: service.objects,
              values: service.values,
              image: targetImage(service),
              chartName: chart.name,
              chartVersion: chart.version,
            },
            live,
          );
          changes.set(svc.name, change);
          ctx.results.update(svc.name, { change });
          const from = live ? ` (live revision ${live.revision})` : '';
          ctx.out.info(`${svc.name}: ${changeHeadline(change)}${from}`);
        }),
      ),
    ),
  );
  return changes;
}

async function liveRelease(
  session: Session,
  name: string,
  namespace: string,
): Promise<LiveRelease | undefined> {
  const found = session.before.get(name);
  if (!found) return undefined;
  const { revision, status, chart } = found;
  const stored = await session.stored?.(name, revision);
  const [manifest, values] = stored
    ? [stored.manifest, stored.values]
    : await Promise.all([
        session.helm.getManifest(name, namespace, revision),
        session.helm.getValues(name, namespace, revision),
      ]);
  return { revision, status, chart, manifest, values };
}

/** `<repo>:<tag>@<digest>`, as the change shows the image. */
function targetImage({ image }: RenderedService): string {
  const repo = image.uri ?? '(repository from the values files)';
  return `${repo}:${image.tag}${image.digest ? `@${image.digest}` : ''}`;
}
