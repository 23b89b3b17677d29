/**
 * Where a deploy came from. It ends up in release descriptions and Deployment
 * annotations, so someone looking at the cluster can find the commit and the run.
 */
import type { Trace } from './model.js';
import type { Runner } from './runner.js';

/** The fields of @actions/github's context we use (its `repo` getter throws outside a workflow). */
export interface WorkflowContext {
  sha: string;
  serverUrl: string;
  runId: number;
  actor: string;
  repository?: string;
}

export function traceFromWorkflow(ctx: WorkflowContext): Trace {
  return {
    commitSha: ctx.sha || undefined,
    runUrl:
      ctx.serverUrl && ctx.repository && ctx.runId
        ? `${ctx.serverUrl}/${ctx.repository}/actions/runs/${ctx.runId}`
        : undefined,
    actor: ctx.actor || undefined,
  };
}

/**
 * A local run's trace: the checked-out commit and who ran it. Not being in a git
 * repository (or having no git) is fine; the deploy then just carries less.
 */
export async function traceFromGit(run: Runner, user?: string): Promise<Trace> {
  const git = async (...args: string[]): Promise<string | undefined> => {
    try {
      const res = await run('git', args);
      return res.exitCode === 0 ? res.stdout.trim() || undefined : undefined;
    } catch {
      return undefined;
    }
  };
  const [commitSha, name] = await Promise.all([git('rev-parse', 'HEAD'), git('config', 'user.name')]);
  return { commitSha, actor: name ?? (user || undefined) };
}
