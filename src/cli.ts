/**
 * The CLI's front door: argv -> DeployRequest, then the Report -> a summary on
 * stdout, an optional JSON report and the exit code (0 done, 1 deploy failed,
 * 2 bad input or failed preflight; usage errors are 2 as well).
 * Logs go to stderr so stdout carries only the summary (or, for `token`, the credential).
 */
import { existsSync, realpathSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Command, CommanderError } from 'commander';
import { DeployError } from './errors.js';
import type { DeployRequest, Report } from './model.js';
import { installedHelmDirs } from './helm/binary.js';
import { execRunner, type Runner } from './runner.js';
import { ConsoleOutput, wantsColor } from './report/console.js';
import { writeJsonReport } from './report/json.js';
import { CHANGES_PENDING, exitCodeOf } from './report/recorder.js';
import { summaryText } from './report/summary.js';
import { buildRequest, checkRegion, DEFAULTS } from './request.js';
import { cancelOnSignals } from './signals.js';
import { traceFromGit } from './trace.js';

export interface CliDeps {
  env: NodeJS.ProcessEnv;
  homedir: string;
  run: Runner;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  stdoutIsTTY: boolean;
  /** Logs go to stderr: a terminal there gets the live rollout table. */
  stderrIsTTY?: boolean;
  /** Runs a request through the pipeline; tests pass their own. */
  execute: (request: DeployRequest, out: ConsoleOutput, signal?: AbortSignal) => Promise<Report>;
  /** Prints what `token` prints; tests pass their own. */
  token: (clusterName: string, region: string) => Promise<unknown>;
  /** Aborted on SIGINT/SIGTERM: the run stops what it does and still reports (exit 130/143). */
  signal?: AbortSignal;
}

// Loaded on use, so `token` (run by kubectl for every connection) and `--help` stay quick.
async function executePipeline(
  request: DeployRequest,
  out: ConsoleOutput,
  signal?: AbortSignal,
): Promise<Report> {
  const [{ runPipeline }, { awsClients }] = await Promise.all([
    import('./pipeline/index.js'),
    import('./aws/clients.js'),
  ]);
  return runPipeline(request, {
    out,
    run: execRunner,
    awsClients: (region) => awsClients(region, (retry) => out.info(retry)),
    signal,
    // The kubeconfig's exec plugin re-enters this very file as `token`.
    tokenCommand: { command: process.execPath, args: [fileURLToPath(import.meta.url), 'token'] },
    tempDir: tmpdir(),
    // PATH first; then the helm that `npm install` extracted beside this tool, so a
    // fresh clone plans and deploys without installing helm separately.
    pathEnv: [process.env.PATH, ...installedHelmDirs(dirname(fileURLToPath(import.meta.url)))]
      .filter(Boolean)
      .join(delimiter),
  });
}

async function printableToken(clusterName: string, region: string): Promise<unknown> {
  const { createEksToken, execCredential } = await import('./aws/token.js');
  return execCredential(await createEksToken({ clusterName, region }));
}

export function defaultDeps(): CliDeps {
  return {
    env: process.env,
    homedir: homedir(),
    run: execRunner,
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
    stdoutIsTTY: Boolean(process.stdout.isTTY),
    stderrIsTTY: Boolean(process.stderr.isTTY),
    execute: executePipeline,
    token: printableToken,
  };
}

/**
 * Why a plan cannot check images in ECR, or undefined when it can. The check runs
 * when a region is known and credentials are configured. An explicit --region or
 * --cluster counts as "use AWS" even with no credentials in sight, since the SDK
 * may still find an instance or container role; otherwise, with no region or no
 * AWS_ACCESS_KEY_ID / AWS_PROFILE / AWS_WEB_IDENTITY_TOKEN_FILE / container
 * credentials / ~/.aws/credentials|config, the plan skips the check and says so.
 */
export function whyNoImageCheck(
  opts: { region?: string; cluster?: string },
  env: NodeJS.ProcessEnv,
  home: string,
): string | undefined {
  if (opts.region || opts.cluster) return undefined;
  if (!env.AWS_REGION && !env.AWS_DEFAULT_REGION)
    return 'no AWS region is set (--region, AWS_REGION or AWS_DEFAULT_REGION)';
  const files = [
    env.AWS_SHARED_CREDENTIALS_FILE ?? join(home, '.aws', 'credentials'),
    env.AWS_CONFIG_FILE ?? join(home, '.aws', 'config'),
  ];
  const configured =
    env.AWS_ACCESS_KEY_ID ||
    env.AWS_PROFILE ||
    env.AWS_WEB_IDENTITY_TOKEN_FILE ||
    env.AWS_CONTAINER_CREDENTIALS_FULL_URI ||
    env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI ||
    files.some((f) => existsSync(f));
  return configured
    ? undefined
    : 'no AWS credentials are configured (AWS_ACCESS_KEY_ID, AWS_PROFILE, ~/.aws/credentials ...)';
}

interface RequestOptions {
  config: string;
  services: string;
  tag?: string;
  env: string;
  namespace?: string;
  cluster?: string;
  region?: string;
  kubeconfig?: string;
  timeout: string;
  concurrency: string;
  rollback: string;
  rollbackTimeout: string;
  waitForLock?: string;
  keepFailedInstall?: boolean;
  strict?: boolean;
  report?: string;
  skipImageCheck?: boolean;
  allowFilesFrom: string[];
  force?: boolean;
  out?: string;
  plan?: string;
  planMaxAge?: string;
  detailedExitcode?: boolean;
}

function addRequestOptions(cmd: Command): Command {
  return (
    cmd
      .option('--config <file>', 'deploy file', DEFAULTS.config)
      .option('--services <names>', 'services to deploy, separated by commas or spaces', 'all')
      .option('--tag <tag>', 'image tag to deploy (required), e.g. the commit SHA')
      // No commander default: a plan file's environment applies unless --env names one.
      .option('--env <name>', `environment in the deploy file (default: "${DEFAULTS.environment}")`)
      .option('--namespace <name>', "namespace (default: the deploy file's)")
      .option('--cluster <name>', 'EKS cluster (needs --region)')
      .option('--region <region>', 'AWS region (default: $AWS_REGION or $AWS_DEFAULT_REGION)')
      .option('--kubeconfig <file>', 'use this kubeconfig instead of EKS')
      .option('--timeout <seconds>', 'rollout timeout per service', String(DEFAULTS.timeoutSeconds))
      .option('--concurrency <n>', 'services released at once', String(DEFAULTS.concurrency))
      .option('--rollback <mode>', 'on failure roll back: failed | all | none', DEFAULTS.rollback)
      .option(
        '--rollback-timeout <seconds>',
        'timeout of each rollback',
        String(DEFAULTS.rollbackTimeoutSeconds),
      )
      .option(
        '--wait-for-lock <seconds>',
        "wait this long for another run's deploy of the namespace to finish, instead of stopping (exit 2)",
      )
      .option('--keep-failed-install', 'keep a failed first install instead of uninstalling it')
      .option('--strict', 'treat verification warnings (HPA metrics, PDB, zone spread) as failures')
      .option('--report <file>', 'write the JSON report here')
      .option('--skip-image-check', 'plan only: do not check the images in ECR')
      .option(
        '--allow-files-from <dir>',
        "also accept values files and a local chart from this directory (repeatable); default: only inside the deploy file's git repository",
        (dir: string, dirs: string[]) => [...dirs, dir],
        [] as string[],
      )
  );
}

/** argv options -> DeployRequest; the env is read here and nowhere below. */
export async function requestFromOptions(
  mode: DeployRequest['mode'],
  o: RequestOptions,
  deps: CliDeps,
  out: ConsoleOutput,
) {
  const region = o.region ?? (deps.env.AWS_REGION || deps.env.AWS_DEFAULT_REGION || undefined);
  // A region from the environment is named as such when it is wrong.
  if (o.region === undefined && region)
    checkRegion(deps.env.AWS_REGION ? 'AWS_REGION' : 'AWS_DEFAULT_REGION', region);
  let skipImageCheck = Boolean(o.skipImageCheck);
  if (mode === 'plan' && !skipImageCheck) {
    const why = whyNoImageCheck({ region: o.region, cluster: o.cluster }, deps.env, deps.homedir);
    if (why) {
      out.warn(
        `${why}, so this plan does not check that the images exist in ECR. Set a region and credentials to check them.`,
      );
      skipImageCheck = true;
    }
  }
  return buildRequest({
    mode,
    config: o.config,
    services: o.services,
    imageTag: o.tag,
    environment: o.env,
    namespace: o.namespace,
    clusterName: o.cluster,
    region,
    kubeconfig: o.kubeconfig,
    timeout: o.timeout,
    concurrency: o.concurrency,
    rollback: o.rollback,
    rollbackTimeout: o.rollbackTimeout,
    lockWait: o.waitForLock,
    keepFailedInstall: o.keepFailedInstall,
    strict: o.strict,
    helmBinary: deps.env.HELM_BIN,
    skipImageCheck,
    reportPath: o.report,
    force: o.force,
    planOut: o.out,
    planFile: o.plan,
    planMaxAge: o.planMaxAge,
    allowFilesFrom: o.allowFilesFrom,
    trace: await traceFromGit(deps.run, deps.env.USER),
    names: {
      imageTag: '--tag',
      timeout: '--timeout',
      concurrency: '--concurrency',
      rollback: '--rollback',
      rollbackTimeout: '--rollback-timeout',
      lockWait: '--wait-for-lock',
      cluster: '--cluster',
      region: '--region',
      kubeconfig: '--kubeconfig',
      skipImageCheck: '--skip-image-check',
      services: '--services',
      namespace: '--namespace',
      reportPath: '--report',
      helmVersion: 'helm-version',
      allowFilesFrom: '--allow-files-from',
      force: '--force',
      planOut: '--out',
      planFile: '--plan',
      planMaxAge: '--plan-max-age',
      environment: '--env',
    },
  });
}

async function deployOrPlan(mode: DeployRequest['mode'], o: RequestOptions, deps: CliDeps): Promise<number> {
  const out = new ConsoleOutput({
    write: deps.stderr,
    color: wantsColor(deps.stdoutIsTTY, deps.env),
    // CI logs keep plain lines even where a pseudo-terminal is attached.
    live: Boolean(deps.stderrIsTTY) && !deps.env.CI,
  });
  const request = await requestFromOptions(mode, o, deps, out);
  const report = await deps.execute(request, out, deps.signal);
  if (request.reportPath) {
    // The deploy's result stands whatever happens to the report file (checked writable up front).
    try {
      out.info(`JSON report: ${writeJsonReport(request.reportPath, report, out.secrets)}`);
    } catch (err) {
      out.warn(`the JSON report was not written: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  // report.error is in the summary; the pipeline has already logged it as it happened.
  deps.stdout(summaryText(report, out.secrets, { color: wantsColor(deps.stdoutIsTTY, deps.env) }));
  return exitCodeOf(report, o.detailedExitcode);
}

export function buildProgram(deps: CliDeps, done: (exitCode: number) => void): Command {
  const program = new Command('ecommerce-deploy')
    .description('Deploy the e-commerce services to EKS with the shared Helm chart.')
    .exitOverride()
    .configureOutput({ writeOut: deps.stdout, writeErr: deps.stderr })
    .showHelpAfterError('(run with --help for usage)');

  addRequestOptions(program.command('deploy'))
    .description('check images, release every selected service, track rollouts, roll back on failure')
    .option('--force', 'release every selected service, even one identical to its live, healthy release')
    .option(
      '--plan <file>',
      'deploy exactly this plan file (from `plan --out`); refused (exit 2) if anything moved since',
    )
    .option('--plan-max-age <duration>', 'how old a plan file may be: 24h, 90m, 3600 (seconds)', '24h')
    .action(async (o: RequestOptions) => done(await deployOrPlan('deploy', o, deps)));

  addRequestOptions(program.command('plan'))
    .description('show what deploy would do and render every release; changes nothing')
    .option('--out <file>', 'write the plan file (needs a cluster) for `deploy --plan`')
    .option('--detailed-exitcode', `exit ${CHANGES_PENDING} (not 0) when changes are pending`)
    .addHelpText(
      'after',
      '\nWithout --region/--cluster, the plan checks images in ECR only when AWS_REGION (or AWS_DEFAULT_REGION)\nand credentials are configured; otherwise it skips the check and says so.\nWith a cluster (--cluster or --kubeconfig) it compares each service with its live release: image, chart,\nvalues and a diff of the rendered objects. Exit codes: 0 done, 1 failed, 2 bad input or preflight,\n3 changes pending (only with --detailed-exitcode).',
    )
    .action(async (o: RequestOptions) => done(await deployOrPlan('plan', o, deps)));

  addRequestOptions(program.command('verify'))
    .description(
      'check the live services against the checklist (read-only): renders, image digest, pods, HPA, PDB, Service, probes, zone spread, IRSA',
    )
    .addHelpText(
      'after',
      '\nOne row per check per service (ok / warning / failed); exit 1 when a check fails, 2 for bad input or preflight.\nThe expected image is the digest ECR resolves --tag to, as deploy would release it.',
    )
    .action(async (o: RequestOptions) => done(await deployOrPlan('verify', o, deps)));

  program
    .command('token')
    .description('print an EKS ExecCredential (used by the kubeconfig this tool writes)')
    .requiredOption('--cluster-name <name>', 'EKS cluster name')
    .requiredOption('--region <region>', 'AWS region of the cluster')
    .action(async (o: { clusterName: string; region: string }) => {
      checkRegion('--region', o.region);
      deps.stdout(JSON.stringify(await deps.token(o.clusterName, o.region)) + '\n');
      done(0);
    });

  return program;
}

/** Runs the CLI and returns its exit code; never calls process.exit itself. */
export async function main(argv: string[], deps: CliDeps = defaultDeps()): Promise<number> {
  let exitCode = 0;
  const program = buildProgram(deps, (code) => (exitCode = code));
  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (err) {
    // Commander has printed its message already; --help ends with 0, usage errors with 2.
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    if (err instanceof DeployError) {
      deps.stderr(`error: ${err.describe()}\n`);
      return err.exitCode;
    }
    deps.stderr(
      `ecommerce-deploy stopped unexpectedly: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    return 1;
  }
}

// Run only as the entry point (dist/cli.js or the npm bin link), not when imported by tests.
function isEntryPoint(): boolean {
  try {
    return Boolean(process.argv[1]) && import.meta.url === pathToFileURL(realpathSync(process.argv[1]!)).href;
  } catch {
    return false;
  }
}
if (isEntryPoint()) {
  // On Node < 22 the AWS SDK warns that its releases after January 2027 will need Node 22.
  // The SDK here is pinned, so that is nothing a user of this tool can act on; say it once
  // in the README instead of on every run. Set the variable to "false" to see it.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  // `ecommerce-deploy plan | head`: the reader has what it wanted; stop quietly, not with a stack trace.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    process.exit(process.exitCode ?? 0);
  });
  const cancellation = cancelOnSignals((name, first) =>
    process.stderr.write(
      first
        ? `\n${name}: cancelling — helm is told to stop, then the report is written (again to stop harder)\n`
        : `\n${name}: stopping now\n`,
    ),
  );
  const code = await main(process.argv.slice(2), { ...defaultDeps(), signal: cancellation.signal });
  process.exitCode = code;
  // A cancelled run has written its report; do not let a lingering connection keep it alive.
  if (cancellation.signal.aborted) setTimeout(() => process.exit(code), 200).unref();
}
