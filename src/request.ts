/**
 * The one place where front-door text (action inputs, CLI flags) becomes a
 * validated DeployRequest. Both front doors call it so that a bad value gets the
 * same message, and the same exit code 2, whichever door it came through.
 */
import { IMAGE_TAG } from './config/names.js';
import { inputError } from './errors.js';
import type { DeployRequest, RollbackMode, Trace } from './model.js';

/** Defaults shared by action.yml and the CLI's --help (a test keeps action.yml in step). */
export const DEFAULTS = {
  config: 'deploy.yaml',
  environment: 'production',
  timeoutSeconds: 300,
  concurrency: 3,
  rollback: 'failed' as RollbackMode,
  rollbackTimeoutSeconds: 300,
};

const ROLLBACK_MODES: readonly RollbackMode[] = ['failed', 'all', 'none'];

/** Front-door values as text; empty strings mean "not given" (what core.getInput returns). */
export interface RequestInput {
  mode: DeployRequest['mode'];
  config?: string;
  services?: string;
  imageTag?: string;
  environment?: string;
  namespace?: string;
  clusterName?: string;
  region?: string;
  kubeconfig?: string;
  timeout?: string;
  concurrency?: string;
  rollback?: string;
  rollbackTimeout?: string;
  /** Seconds to wait for another run's deploy lease; empty: do not wait. */
  lockWait?: string;
  keepFailedInstall?: boolean;
  strict?: boolean;
  helmVersion?: string;
  helmBinary?: string;
  skipImageCheck?: boolean;
  reportPath?: string;
  trace?: Trace;
  /** How each field is called at this front door, so errors name what the user typed. */
  names: Record<
    | 'imageTag'
    | 'timeout'
    | 'concurrency'
    | 'rollback'
    | 'rollbackTimeout'
    | 'lockWait'
    | 'cluster'
    | 'region'
    | 'kubeconfig'
    | 'skipImageCheck',
    string
  >;
}

const given = (s: string | undefined): string | undefined => {
  const t = s?.trim();
  return t ? t : undefined;
};

/** "all", "" or nothing -> every service; otherwise names split on commas, spaces or newlines. */
function parseServices(raw: string | undefined): string[] {
  const names = (raw ?? '').split(/[\s,]+/).filter(Boolean);
  if (names.length === 1 && names[0]?.toLowerCase() === 'all') return [];
  return [...new Set(names)];
}

function parsePositiveInt(name: string, raw: string | undefined, fallback: number): number {
  const text = given(raw);
  if (text === undefined) return fallback;
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < 1) {
    throw inputError(`${name} must be a positive whole number, got "${text}"`, {
      hint: `Give a number such as ${fallback}, or leave ${name} out to use the default (${fallback}).`,
    });
  }
  return n;
}

function parseRollback(name: string, raw: string | undefined): RollbackMode {
  const text = given(raw)?.toLowerCase();
  if (text === undefined) return DEFAULTS.rollback;
  if ((ROLLBACK_MODES as readonly string[]).includes(text)) return text as RollbackMode;
  throw inputError(`${name} must be one of ${ROLLBACK_MODES.join(', ')}, got "${raw?.trim()}"`, {
    hint: 'failed rolls back only the releases that failed; all rolls back every release of the run; none leaves them as they are.',
  });
}

function parseImageTag(name: string, raw: string | undefined): string {
  const tag = given(raw);
  if (tag === undefined) {
    throw inputError(`${name} is required`, {
      hint: `Give the image tag to deploy, e.g. the commit SHA the images were built from.`,
    });
  }
  // Checked here so a typo fails before any AWS or cluster call.
  if (!IMAGE_TAG.test(tag)) {
    throw inputError(`${name} "${tag}" is not a valid image tag`, {
      hint: 'A tag is 1-128 letters, digits, "_", "." or "-", and does not start with "." or "-".',
    });
  }
  return tag;
}

export function buildRequest(input: RequestInput): DeployRequest {
  const { names } = input;
  // Each value on its own first, then how they fit together.
  const imageTag = parseImageTag(names.imageTag, input.imageTag);
  const timeoutSeconds = parsePositiveInt(names.timeout, input.timeout, DEFAULTS.timeoutSeconds);
  const concurrency = parsePositiveInt(names.concurrency, input.concurrency, DEFAULTS.concurrency);
  const rollback = parseRollback(names.rollback, input.rollback);
  const rollbackTimeoutSeconds = parsePositiveInt(
    names.rollbackTimeout,
    input.rollbackTimeout,
    DEFAULTS.rollbackTimeoutSeconds,
  );
  const clusterName = given(input.clusterName);
  const region = given(input.region);
  const kubeconfig = given(input.kubeconfig);

  if (clusterName && kubeconfig) {
    throw inputError(`give either ${names.cluster} or ${names.kubeconfig}, not both`, {
      hint: `${names.cluster} connects through EKS; ${names.kubeconfig} uses the cluster that file points at.`,
    });
  }
  if (clusterName && !region) {
    throw inputError(`${names.cluster} "${clusterName}" needs ${names.region}`, {
      hint: `Give the cluster's AWS region with ${names.region}.`,
    });
  }
  if (input.mode !== 'plan' && !clusterName && !kubeconfig) {
    throw inputError(
      `a ${input.mode} needs a cluster: give ${names.cluster} (with ${names.region}) or ${names.kubeconfig}`,
      {
        hint: 'To see what would be deployed without a cluster, run a plan instead.',
      },
    );
  }
  if (input.mode !== 'plan' && input.skipImageCheck) {
    throw inputError(`${names.skipImageCheck} only applies to a plan`, {
      hint: 'A deploy always checks that every image exists in ECR before it changes anything in the cluster; for a plan, set dry-run: true (Action) or run `plan` (CLI).',
    });
  }

  return {
    mode: input.mode,
    configPath: given(input.config) ?? DEFAULTS.config,
    services: parseServices(input.services),
    imageTag,
    environment: given(input.environment) ?? DEFAULTS.environment,
    namespace: given(input.namespace),
    cluster: clusterName && region ? { name: clusterName, region } : undefined,
    region,
    kubeconfig,
    timeoutSeconds,
    concurrency,
    helmVersion: given(input.helmVersion),
    helmBinary: given(input.helmBinary),
    skipImageCheck: input.skipImageCheck ?? false,
    rollback,
    rollbackTimeoutSeconds,
    lockWaitSeconds:
      given(input.lockWait) === undefined ? undefined : parsePositiveInt(names.lockWait, input.lockWait, 0),
    keepFailedInstall: input.keepFailedInstall ?? false,
    strict: input.strict ?? false,
    reportPath: given(input.reportPath),
    trace: input.trace ?? {},
  };
}
