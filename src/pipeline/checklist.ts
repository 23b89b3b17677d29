/**
 * `ecommerce-deploy verify`: the deployment checklist against the live cluster for the
 * selected services, read-only. Per service: the chart renders; the Deployment is
 * available at the image (digest) ECR resolves the tag to; its pods are ready; HPA, PDB
 * and zone spread (verify.ts, the same checks a deploy ends with); the Service and its
 * endpoints; the probes as the chart says and passing; IRSA trust. One row per check,
 * ok / warning / failed; any failed row makes the run a failure (exit 1).
 */
import {
  judgeDeployment,
  judgeImage,
  judgePods,
  judgeProbes,
  judgeService,
  rowOf,
  type LiveService,
} from '../kube/checklist-rules.js';
import { apiErrorMessage } from '../kube/client.js';
import type { ChecklistRow, Plan } from '../model.js';
import { apiServer, connect } from './connect.js';
import {
  helmFor,
  imageName,
  type ClusterAccess,
  type RenderedService,
  type RunContext,
  type Target,
} from './context.js';
import { checkIrsa, type IrsaCheck } from './irsa.js';
import { renderService } from './render.js';
import type { Report } from '../model.js';

type Row = Omit<ChecklistRow, 'service'>;

const LIVE_CHECKS = ['deployment', 'image', 'pods', 'hpa', 'pdb', 'service', 'probes', 'spread'];

export async function runChecklist(ctx: RunContext, target: Target): Promise<Report> {
  const { plan } = target;
  const cluster = await connect(ctx);
  try {
    const helm = helmFor(ctx, target, cluster);
    const kube = ctx.deps.kube ?? apiServer(ctx.out, cluster.token);
    const verify = kube.verifier(cluster.path);
    const live = kube.live(cluster.path);
    const rendered = new Map<string, RenderedService>();
    const renders = new Map<string, Row>();
    await ctx.out.group(`Rendering ${plan.services.length} services`, async () => {
      for (const svc of plan.services) {
        try {
          rendered.set(svc.name, await renderService(ctx, target, helm, svc));
          renders.set(svc.name, {
            check: 'renders',
            status: 'ok',
            message: `${target.chart.name} ${target.chart.version}`,
          });
        } catch (err) {
          renders.set(svc.name, { check: 'renders', status: 'failed', message: (err as Error).message });
        }
      }
    });
    const irsa = await irsaRows(ctx, plan, rendered, cluster);
    const rows = await ctx.out.group(`Checking ${plan.services.length} services in ${plan.namespace}`, () =>
      Promise.all(
        plan.services.map(async (svc) => {
          const r = rendered.get(svc.name);
          const liveRows = r
            ? await checkLive(ctx, plan, r, verify, live)
            : LIVE_CHECKS.map((check): Row => ({
                check,
                status: 'failed',
                message: 'not checked: the chart does not render',
              }));
          return [renders.get(svc.name)!, ...liveRows, irsa.get(svc.name)!].map((row) => ({
            service: svc.name,
            ...row,
          }));
        }),
      ),
    );
    return record(ctx, plan, target, rows.flat());
  } finally {
    await cluster.dispose();
  }
}

async function checkLive(
  ctx: RunContext,
  plan: Plan,
  { svc, expected }: RenderedService,
  verify: ReturnType<NonNullable<RunContext['deps']['kube']>['verifier']>,
  live: (namespace: string, service: string) => Promise<LiveService>,
): Promise<Row[]> {
  const name = svc.name;
  const [state, protection] = await Promise.allSettled([
    live(plan.namespace, name),
    verify({
      namespace: plan.namespace,
      service: name,
      expected: { autoscaling: expected.autoscaling, pdbMinAvailable: expected.pdbMinAvailable },
      strict: plan.request.strict,
    }),
  ]);
  const unread = (err: unknown) => `not checked: cannot read the cluster: ${apiErrorMessage(err)}`;
  const fromLive = (fn: (s: LiveService) => Row, check: string): Row =>
    state.status === 'fulfilled'
      ? fn(state.value)
      : { check, status: 'failed', message: unread(state.reason) };
  const fromVerify = (which: 'hpa' | 'pdb' | 'spread'): Row =>
    protection.status === 'fulfilled'
      ? rowOf(which, protection.value[which])
      : { check: which, status: 'failed', message: unread(protection.reason) };
  return [
    fromLive((s) => judgeDeployment(expected.deployment ?? name, s.deployment), 'deployment'),
    fromLive((s) => judgeImage(expected.image, s.deployment, s.pods), 'image'),
    fromLive((s) => judgePods(s.pods), 'pods'),
    fromVerify('hpa'),
    fromVerify('pdb'),
    fromLive((s) => judgeService(name, expected.service, s.service, s.endpointSlices), 'service'),
    fromLive((s) => judgeProbes(expected.probes, s.deployment, s.pods, s.unhealthyEvents), 'probes'),
    fromVerify('spread'),
  ];
}

/** IRSA rows: only an EKS cluster has an issuer to check the roles' trust against. */
async function irsaRows(
  ctx: RunContext,
  plan: Plan,
  rendered: Map<string, RenderedService>,
  cluster: ClusterAccess,
): Promise<Map<string, Row>> {
  const rows = new Map<string, Row>();
  let checks: IrsaCheck[] = [];
  let error: string | undefined;
  if (cluster.eks) {
    try {
      checks = await checkIrsa(ctx, plan, rendered, cluster.eks);
    } catch (err) {
      error = `not checked: ${(err as Error).message}`;
    }
  }
  for (const svc of plan.services) {
    const c = checks.find((x) => x.service === svc.name);
    rows.set(
      svc.name,
      irsaRow(
        c,
        error ??
          (cluster.eks ? undefined : 'not checked: no EKS cluster given (a kubeconfig has no OIDC issuer)'),
        rendered.has(svc.name),
      ),
    );
  }
  return rows;
}

function irsaRow(c: IrsaCheck | undefined, notChecked: string | undefined, renders: boolean): Row {
  if (!renders) return { check: 'irsa', status: 'failed', message: 'not checked: the chart does not render' };
  if (notChecked || !c) return { check: 'irsa', status: 'warning', message: notChecked ?? 'not checked' };
  if (c.verdict === 'failed')
    return { check: 'irsa', status: 'failed', message: `${c.message}; what to do: ${c.hint}` };
  if (c.verdict === 'skipped')
    return { check: 'irsa', status: c.role ? 'warning' : 'ok', message: c.message };
  return {
    check: 'irsa',
    status: c.notes?.length ? 'warning' : 'ok',
    message: [c.message, ...(c.notes ?? [])].join('; '),
  };
}

/** Rows into the report: the services verified or failed, the whole checklist, and the result. */
function record(ctx: RunContext, plan: Plan, target: Target, rows: ChecklistRow[]): Report {
  for (const svc of plan.services) {
    const mine = rows.filter((r) => r.service === svc.name);
    const failed = mine.filter((r) => r.status === 'failed');
    const image = target.images.get(svc.name)!;
    ctx.results.record({
      service: svc.name,
      status: failed.length ? 'failed' : 'verified',
      image: imageName(image),
      digest: image.digest,
      chartVersion: target.chart.version,
      ...(failed.length
        ? { reason: 'CheckFailed', message: failed.map((r) => `${r.check}: ${r.message}`).join('; ') }
        : {}),
    });
    for (const r of mine) {
      const line = `${svc.name}: ${r.check} ${r.status}: ${r.message}`;
      if (r.status === 'failed') ctx.out.error(line);
      else if (r.status === 'warning') ctx.out.warn(line);
      else ctx.out.info(line);
    }
  }
  ctx.results.checklist(rows);
  return ctx.results.finish(rows.some((r) => r.status === 'failed') ? 'failure' : 'success');
}
