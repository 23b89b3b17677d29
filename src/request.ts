/**
 * The one place where front-door text (action inputs, CLI flags) becomes a
 * validated DeployRequest. Both front doors call it so that a bad value gets the
 * same message, and the same exit code 2, whichever door it came through.
 */
import { existsSync, realpathSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  AWS_REGION,
  DNS1123_LABEL,
  DNS1123_LABEL_MAX,
  IMAGE_TAG,
  MAX_TIMEOUT_SECONDS,
} from './config/names.js';
import { inputError } from './errors.js';
import { HELM_CHECKSUMS } from './helm/binary.js';
import type { DeployRequest, RollbackMode, Trace } from './model.js';
import { checkReportPath } from './report/json.js';
import { readPlanFile } from './config/plan-file.js';

/** Defaults shared by action.yml and the CLI's --help (a test keeps action.yml in step). */
export const DEFAULTS = {
  config: 'deploy.yaml',
  environment: 'production',
  timeoutSeconds: 300,
  concurrency: 10,
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
  /** deploy: release even what equals the live release. */
  force?: boolean;
  /** plan: write the plan file here. */
  planOut?: string;
  /** deploy: apply this plan file. */
  planFile?: string;
  /** How old a plan file may be: seconds, or a number with s, m, h or d; default 24h. */
  planMaxAge?: string;
  /** The Action's GITHUB_WORKSPACE: values files and a local chart must live inside it. */
  workspace?: string;
  /** More directories values files and a local chart may come from (commas or lines). */
  allowFilesFrom?: string[];
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
    | 'skipImageCheck'
    | 'services'
    | 'namespace'
    | 'reportPath'
    | 'helmVersion'
    | 'allowFilesFrom'
    | 'force'
    | 'planOut'
    | 'planFile'
    | 'planMaxAge'
    | 'environment',
    string
  >;
}

const given = (s: string | undefined): string | undefined => {
  const t = s?.trim();
  return t ? t : undefined;
};

/**
 * "all" or not given (undefined) -> every service; otherwise names split on commas,
 * spaces or newlines. Text that names no service (`""`, `","`) is a mistake, not "all".
 */
function parseServices(name: string, raw: string | undefined): string[] {
  if (raw === undefined) return [];
  const names = raw.split(/[\s,]+/).filter(Boolean);
  if (names.length === 1 && names[0]?.toLowerCase() === 'all') return [];
  if (names.length === 0) {
    throw inputError(`${name} names no service, got ${JSON.stringify(raw)}`, {
      hint: `give service names separated by commas or spaces, or "all" (the default) for every service`,
    });
  }
  return [...new Set(names)];
}

function parseNamespace(name: string, raw: string | undefined): string | undefined {
  const ns = given(raw);
  if (ns === undefined) return undefined;
  if (!DNS1123_LABEL.test(ns) || ns.length > DNS1123_LABEL_MAX) {
    throw inputError(`${name} ${JSON.stringify(ns)} is not a valid Kubernetes namespace`, {
      hint: `a namespace is a DNS-1123 label: at most ${DNS1123_LABEL_MAX} lower-case letters, digits and "-", starting and ending with a letter or digit (e.g. production)`,
    });
  }
  return ns;
}

function parseRegion(name: string, raw: string | undefined): string | undefined {
  const region = given(raw);
  if (region === undefined) return undefined;
  checkRegion(name, region);
  return region;
}

/** Stops a region such as `x y` before it ends up in an endpoint host name. */
export function checkRegion(name: string, region: string): void {
  if (!AWS_REGION.test(region)) {
    throw inputError(`${name} ${JSON.stringify(region)} is not an AWS region`, {
      hint: 'give a region name such as us-east-1, eu-central-1 or us-gov-west-1',
    });
  }
}

function parseHelmVersion(name: string, raw: string | undefined): string | undefined {
  const version = given(raw);
  if (version === undefined) return undefined;
  if (!HELM_CHECKSUMS[version.replace(/^v/, '')]) {
    throw inputError(`${name} ${JSON.stringify(version)} has no pinned checksum in this action`, {
      hint: `use one of ${Object.keys(HELM_CHECKSUMS).join(', ')}, or leave ${name} out for the default`,
    });
  }
  return version;
}

/** Each --allow-files-from directory must exist; kept as its real path, since boundaries compare real paths. */
function parseAllowed(name: string, dirs: string[] | undefined): string[] {
  return (dirs ?? [])
    .flatMap((d) => d.split(/[\n,]+/))
    .map((d) => d.trim())
    .filter(Boolean)
    .map((d) => {
      const abs = resolve(d);
      if (!existsSync(abs) || !statSync(abs).isDirectory()) {
        throw inputError(`${name} ${JSON.stringify(d)} is not a directory`, {
          hint: `name an existing directory that values files or the chart may come from`,
        });
      }
      return realpathSync(abs);
    });
}

function parsePositiveInt(name: string, raw: string | undefined, fallback: number, max?: number): number {
  const text = given(raw);
  if (text === undefined) return fallback;
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < 1) {
    throw inputError(`${name} must be a positive whole number, got "${text}"`, {
      hint: `Give a number such as ${fallback}, or leave ${name} out to use the default (${fallback}).`,
    });
  }
  if (max !== undefined && n > max) {
    throw inputError(`${name} ${text} is more than the limit of ${max} seconds (${max / 3600} hours)`, {
      hint: `Give at most ${max} seconds, or leave ${name} out to use the default (${fallback}).`,
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

const UNITS: Record<string, number> = { '': 1, s: 1, m: 60, h: 3600, d: 86400 };

/** `3600`, `90m`, `24h`, `2d` -> seconds. */
function parseAge(name: string, raw: string | undefined, fallback: number): number {
  const text = given(raw)?.toLowerCase();
  if (text === undefined) return fallback;
  const m = /^(\d+)([smhd]?)$/.exec(text);
  const seconds = m ? Number(m[1]) * UNITS[m[2]!]! : NaN;
  if (!Number.isSafeInteger(seconds) || seconds < 1) {
    throw inputError(`${name} must be a duration such as 24h, 90m or 3600 (seconds), got "${raw?.trim()}"`, {
      hint: `leave ${name} out for the default (24h)`,
    });
  }
  return seconds;
}

/** A plan file's own tag, environment, namespace and services, unless the front door names others (refused). */
function fromPlanFile(input: RequestInput): { input: RequestInput; planFile?: DeployRequest['planFile'] } {
  const { names } = input;
  const path = given(input.planFile);
  if (path === undefined) return { input };
  if (input.mode !== 'deploy') {
    throw inputError(`${names.planFile} applies to a deploy only`, {
      hint: `make a plan file with ${names.planOut}, then deploy it with ${names.planFile}`,
    });
  }
  const plan = readPlanFile(names.planFile, path, parseAge(names.planMaxAge, input.planMaxAge, DAY));
  const pinned: [keyof RequestInput & keyof typeof names, string | undefined, string][] = [
    ['imageTag', input.imageTag, plan.imageTag],
    ['environment', input.environment, plan.environment],
    ['namespace', input.namespace, plan.namespace],
  ];
  for (const [field, given_, planned] of pinned) {
    if (given(given_) !== undefined && given(given_) !== planned) {
      throw inputError(
        `${names[field]} "${given(given_)}" is not the plan's: ${path} was made for ${planned}`,
        { where: { file: path }, hint: `leave ${names[field]} out: a plan file is deployed with its own` },
      );
    }
  }
  const services = parseServices(names.services, input.services).length
    ? input.services
    : Object.keys(plan.services).join(',');
  return {
    input: {
      ...input,
      imageTag: plan.imageTag,
      environment: plan.environment,
      namespace: plan.namespace,
      services,
    },
    planFile: { path, plan },
  };
}

const DAY = 24 * 3600;

/** A plan file pins digests and live revisions: it needs a plan with a cluster and the ECR image check. */
function checkPlanOut(input: RequestInput, names: RequestInput['names'], cluster: boolean): void {
  if (input.mode !== 'plan') {
    throw inputError(`${names.planOut} applies to a plan only`, {
      hint: `make the plan file with \`plan ${names.planOut} FILE\`, then deploy it with ${names.planFile} FILE`,
    });
  }
  if (!cluster) {
    throw inputError(
      `${names.planOut} needs a cluster: give ${names.cluster} (with ${names.region}) or ${names.kubeconfig}`,
      {
        hint: 'a plan file pins the live revision of each release it was computed against',
      },
    );
  }
  if (input.skipImageCheck) {
    throw inputError(`${names.planOut} cannot be used with ${names.skipImageCheck}`, {
      hint: 'a plan file pins each image by digest, which the ECR image check resolves',
    });
  }
}

export function buildRequest(raw: RequestInput): DeployRequest {
  const { input, planFile } = fromPlanFile(raw);
  const { names } = input;
  // Each value on its own first, then how they fit together.
  const imageTag = parseImageTag(names.imageTag, input.imageTag);
  const timeoutSeconds = parsePositiveInt(
    names.timeout,
    input.timeout,
    DEFAULTS.timeoutSeconds,
    MAX_TIMEOUT_SECONDS,
  );
  const concurrency = parsePositiveInt(names.concurrency, input.concurrency, DEFAULTS.concurrency);
  const rollback = parseRollback(names.rollback, input.rollback);
  const rollbackTimeoutSeconds = parsePositiveInt(
    names.rollbackTimeout,
    input.rollbackTimeout,
    DEFAULTS.rollbackTimeoutSeconds,
    MAX_TIMEOUT_SECONDS,
  );
  const services = parseServices(names.services, input.services);
  const namespace = parseNamespace(names.namespace, input.namespace);
  const helmVersion = parseHelmVersion(names.helmVersion, input.helmVersion);
  const allowed = parseAllowed(names.allowFilesFrom, input.allowFilesFrom);
  const clusterName = given(input.clusterName);
  const region = parseRegion(names.region, input.region);
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

  if (input.force && input.mode !== 'deploy') {
    throw inputError(`${names.force} applies to a deploy only`, {
      hint: `a ${input.mode} changes nothing; leave ${names.force} out`,
    });
  }
  const planOut = given(input.planOut);
  if (planOut) checkPlanOut(input, names, Boolean(clusterName || kubeconfig));

  // Last: a report path is checked only once the run could otherwise start.
  const reportPath = given(input.reportPath);
  if (reportPath) checkReportPath(names.reportPath, reportPath);
  if (planOut) checkReportPath(names.planOut, planOut);

  return {
    mode: input.mode,
    configPath: given(input.config) ?? DEFAULTS.config,
    services,
    imageTag,
    environment: given(input.environment) ?? DEFAULTS.environment,
    namespace,
    cluster: clusterName && region ? { name: clusterName, region } : undefined,
    region,
    kubeconfig,
    timeoutSeconds,
    concurrency,
    helmVersion,
    helmBinary: given(input.helmBinary),
    skipImageCheck: input.skipImageCheck ?? false,
    rollback,
    rollbackTimeoutSeconds,
    lockWaitSeconds:
      given(input.lockWait) === undefined
        ? undefined
        : parsePositiveInt(names.lockWait, input.lockWait, 0, MAX_TIMEOUT_SECONDS),
    keepFailedInstall: input.keepFailedInstall ?? false,
    strict: input.strict ?? false,
    reportPath,
    force: input.force ?? false,
    planOut,
    planFile,
    fileRoots: { workspace: given(input.workspace), allowed },
    trace: input.trace ?? {},
  };
}
