/**
 * Plan files: `plan --out` pins what was reviewed; `deploy --plan` refuses (exit 2, naming
 * the service, before anything in the cluster changes) unless the run would deploy exactly
 * that: the same chart, image digests, rendered manifests and values, over the same live revisions.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { sealPlan, writePlanFile } from '../config/plan-file.js';
import { inputError } from '../errors.js';
import type { ReleaseInfo } from '../helm/helm.js';
import { manifestHash, valuesHash } from '../helm/release-diff.js';
import type { PinnedService, PlanFile, ServiceChange } from '../model.js';
import type { RenderedService, RunContext, Target } from './context.js';

/** Writes the plan file of a `plan --out` and records its id. */
export function pinPlan(
  ctx: RunContext,
  target: Target,
  rendered: Map<string, RenderedService>,
  changes: Map<string, ServiceChange>,
): PlanFile {
  const { plan, chart } = target;
  const path = ctx.request.planOut!;
  const services: Record<string, PinnedService> = {};
  for (const svc of plan.services) {
    const r = rendered.get(svc.name)!;
    services[svc.name] = {
      image: { uri: r.image.uri, tag: r.image.tag, digest: r.image.digest! },
      chartVersion: chart.version,
      manifestHash: manifestHash(r.manifest),
      valuesHash: valuesHash(r.values),
      liveRevision: changes.get(svc.name)?.liveRevision ?? null,
      change: changes.get(svc.name)!.kind,
    };
  }
  const pinned = sealPlan({
    createdAt: new Date().toISOString(),
    namespace: plan.namespace,
    environment: plan.request.environment,
    imageTag: plan.request.imageTag,
    cluster: ctx.request.cluster?.name,
    chart: { ref: chart.ref, name: chart.name, version: chart.version, digest: localChartDigest(chart.ref) },
    services,
  });
  writePlanFile(path, pinned);
  ctx.results.pinned(pinned.id);
  ctx.out.info(`plan ${pinned.id} written to ${resolve(path)}; apply it with \`deploy --plan ${path}\``);
  return pinned;
}

function refuse(planPath: string, service: string | undefined, what: string, hint: string): never {
  throw inputError(`the plan ${planPath} no longer applies${service ? ` to ${service}` : ''}: ${what}`, {
    where: { service, file: planPath },
    hint: `${hint}; nothing was changed. Make and review a new plan (\`plan --out\`), then deploy that`,
  });
}

/** After rendering: the run would deploy what the plan pinned, service by service. */
export function checkAgainstPlan(
  ctx: RunContext,
  target: Target,
  rendered: Map<string, RenderedService>,
): void {
  const { path, plan: pinned } = ctx.request.planFile!;
  const { plan, chart } = target;
  ctx.results.pinned(pinned.id);
  if (pinned.namespace !== plan.namespace) {
    refuse(
      path,
      undefined,
      `it is for namespace ${pinned.namespace}, this deploy goes to ${plan.namespace}`,
      "deploy to the plan's namespace",
    );
  }
  const selected = plan.services.map((s) => s.name).sort();
  const planned = Object.keys(pinned.services).sort();
  if (selected.join() !== planned.join()) {
    refuse(
      path,
      undefined,
      `it pins ${planned.join(', ')}, this deploy selects ${selected.join(', ')}`,
      "leave the service selection out to deploy the plan's",
    );
  }
  for (const svc of plan.services) {
    const want = pinned.services[svc.name]!;
    const r = rendered.get(svc.name)!;
    if (want.chartVersion !== chart.version) {
      refuse(
        path,
        svc.name,
        `the chart is ${chart.name} ${chart.version} now, the plan pinned ${want.chartVersion}`,
        'the chart changed since the plan',
      );
    }
    if (want.image.digest !== r.image.digest) {
      refuse(
        path,
        svc.name,
        `image tag ${r.image.tag} resolves to ${r.image.digest ?? 'no digest'} now, the plan pinned ${want.image.digest}`,
        'the image tag was pushed again since the plan',
      );
    }
    if (want.valuesHash !== valuesHash(r.values)) {
      refuse(
        path,
        svc.name,
        "its values differ from the plan's (a values file or the deploy file changed)",
        'the values changed since the plan',
      );
    }
    if (want.manifestHash !== manifestHash(r.manifest)) {
      refuse(
        path,
        svc.name,
        'it renders differently from the plan (the chart or its values changed)',
        'the chart or the values changed since the plan',
      );
    }
  }
  // After the services: a values file that lives in the chart is named as what it is.
  const digest = localChartDigest(chart.ref);
  if (pinned.chart.digest && pinned.chart.digest !== digest) {
    refuse(
      path,
      undefined,
      `the chart ${chart.ref} has other files now (digest ${digest ?? 'none'}, the plan pinned ${pinned.chart.digest})`,
      'the chart changed since the plan',
    );
  }
}

/** With the lease held, before anything is recovered or released: the live releases are where the plan found them. */
export function checkLiveRevisions(ctx: RunContext, releases: Map<string, ReleaseInfo>): void {
  const { path, plan: pinned } = ctx.request.planFile!;
  for (const [name, want] of Object.entries(pinned.services)) {
    const now = releases.get(name);
    const have = now?.revision ?? null;
    if (have === want.liveRevision) continue;
    const then = want.liveRevision === null ? 'not installed' : `at revision ${want.liveRevision}`;
    const live = now ? `at revision ${now.revision} (${now.status})` : 'not installed';
    refuse(
      path,
      name,
      `the live release moved since the plan: it was ${then}, it is ${live} now`,
      'someone deployed it since the plan was made',
    );
  }
}

/**
 * A local chart's digest: sha256 over its files (relative paths and contents, in order), so
 * any change to the chart, rendered or not (templates, defaults, NOTES, README), refuses a
 * plan made before it. Undefined for a chart that is not a local directory (an OCI chart is
 * pinned by its version, and by the hash of what it renders).
 */
function localChartDigest(ref: string): string | undefined {
  let root: string;
  try {
    root = resolve(ref);
    if (!statSync(root).isDirectory()) return undefined;
  } catch {
    return undefined;
  }
  const hash = createHash('sha256');
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else hash.update(relative(root, path)).update('\0').update(readFileSync(path)).update('\0');
    }
  };
  walk(root);
  return `sha256:${hash.digest('hex')}`;
}
