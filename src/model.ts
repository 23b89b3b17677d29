/**
 * The values that flow through the pipeline (see src/pipeline/index.ts):
 * DeployRequest -> Plan -> (preflight) -> releases -> Report.
 * Nothing below the front doors reads process.env or argv; it reads these.
 */

import type { Diagnostics } from './kube/diagnostics.js';
import type { Check } from './kube/protection-rules.js';

export type RollbackMode = 'failed' | 'all' | 'none';

/** Where a deploy came from, written into release descriptions and Deployment annotations. */
export interface Trace {
  commitSha?: string;
  runUrl?: string;
  actor?: string;
}

export interface DeployRequest {
  /** `plan` renders and reports but changes nothing; `verify` checks the live services against the checklist (read-only). */
  mode: 'deploy' | 'plan' | 'verify';
  /** Path of the deploy file (absolute or relative to cwd). */
  configPath: string;
  /** Service names to deploy; empty means every service in the deploy file. */
  services: string[];
  imageTag: string;
  /** Key into the deploy file's `environments` (e.g. production). */
  environment: string;
  /** Overrides the deploy file's namespace. */
  namespace?: string;
  /** EKS cluster to deploy to; omitted when a kubeconfig is given or in plan mode. */
  cluster?: { name: string; region: string };
  /** AWS region for ECR (defaults to the cluster's region). */
  region?: string;
  /** A kubeconfig the user gives instead of EKS discovery. */
  kubeconfig?: string;
  /** Per-service rollout timeout. */
  timeoutSeconds: number;
  concurrency: number;
  /** Helm version to install when none is on PATH (Action only). */
  helmVersion?: string;
  /** Explicit helm binary (HELM_BIN). */
  helmBinary?: string;
  /** Skip the ECR image check (plan without AWS). The plan says so. */
  skipImageCheck: boolean;
  rollback: RollbackMode;
  /** Each rollback's own timeout: not whatever the deploy's timeout left over. */
  rollbackTimeoutSeconds: number;
  /** Wait up to this long for another run's deploy lease on the namespace, instead of stopping at once. */
  lockWaitSeconds?: number;
  /** Keep a failed first install for inspection instead of uninstalling it. */
  keepFailedInstall: boolean;
  /** Treat verification warnings (e.g. no metrics for the HPA) as errors. */
  strict: boolean;
  /** Write the JSON report here. */
  reportPath?: string;
  /** deploy: release services even when their target equals the live, healthy release. */
  force?: boolean;
  /** plan: write the plan file here (needs a cluster and the ECR image check). */
  planOut?: string;
  /** deploy: apply exactly this plan file (already read, its id checked and its age within the limit). */
  planFile?: { path: string; plan: PlanFile };
  /**
   * Where the deploy file's values files and local chart may live: inside `workspace`
   * (the Action's GITHUB_WORKSPACE; else the deploy file's git top level) or one of `allowed`.
   */
  fileRoots?: { workspace?: string; allowed: string[] };
  trace: Trace;
}

/** What `plan --out` writes and `deploy --plan` applies: per service, exactly what was reviewed. */
export interface PlanFile {
  format: 'ecommerce-deploy/plan@1';
  /** sha256 of everything below except `createdAt` (see src/config/plan-file.ts). */
  id: string;
  createdAt: string;
  namespace: string;
  environment: string;
  imageTag: string;
  cluster?: string;
  chart: { ref: string; name: string; version: string; digest?: string };
  services: Record<string, PinnedService>;
}

export interface PinnedService {
  image: { uri?: string; tag: string; digest: string };
  chartVersion: string;
  /** sha256 of the rendered manifests, trace annotations left out. */
  manifestHash: string;
  /** sha256 of the values given to helm, trace annotations left out. */
  valuesHash: string;
  /** The live revision the plan was computed against; null: not installed then. */
  liveRevision: number | null;
  /** What the plan showed for it. */
  change: ServiceChange['kind'];
}

export type ChartRef = { kind: 'local'; path: string } | { kind: 'oci'; ref: string; version?: string };

export interface ServiceSpec {
  name: string;
  /** ECR repository name (not URI), default: the service name. */
  repository: string;
  /** Absolute paths of this service's override files, applied after the environment's. */
  valuesFiles: string[];
  /** Inline overrides, applied last (before image.*). */
  values: Record<string, unknown>;
  dependsOn: string[];
}

export interface DeployConfig {
  /** Absolute path of the deploy file. */
  file: string;
  chart: ChartRef;
  namespace: string;
  /** ECR registry host, e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com; discovered from ECR when omitted. */
  registry?: string;
  /** Environment name -> absolute paths of its values files. */
  environments: Record<string, string[]>;
  /** Environment name -> its namespace, where it overrides `namespace`. */
  environmentNamespaces: Record<string, string | undefined>;
  /** Environment name -> what its GitHub deployments say (deploy file: url, production, transient). */
  environmentDeployments?: Record<string, EnvironmentDeployment>;
  services: ServiceSpec[];
}

/** A deploy file environment's GitHub deployment settings. */
export interface EnvironmentDeployment {
  /** environment_url of its deployment statuses. */
  url?: string;
  /** production_environment (GitHub's default: true for an environment named production). */
  production?: boolean;
  /** transient_environment. */
  transient?: boolean;
}

export interface PlannedService extends ServiceSpec {
  tag: string;
  /** sha256:… once ECR preflight resolved it. */
  digest?: string;
}

export interface Plan {
  request: DeployRequest;
  config: DeployConfig;
  namespace: string;
  environmentValues: string[];
  /** Selected services in deploy order. */
  services: PlannedService[];
  /** Groups that may run in parallel; each wave depends only on earlier waves. */
  waves: string[][];
}

/** `cancelled`: released, but the run was cancelled before its rollout was seen ready (it may still finish). */
/** `unchanged`: deploy left it alone, its rendered release and image digest being the live, healthy release's. */
export type ServiceStatus =
  'deployed' | 'planned' | 'failed' | 'rolled-back' | 'skipped' | 'cancelled' | 'verified' | 'unchanged';

/** One line of `verify`'s checklist: one check of one service. */
export interface ChecklistRow {
  service: string;
  /** renders, deployment, image, pods, hpa, pdb, service, probes, spread, irsa */
  check: string;
  status: 'ok' | 'warning' | 'failed';
  message: string;
}

export interface ServiceResult {
  service: string;
  status: ServiceStatus;
  image: string;
  digest?: string;
  revision?: number;
  chartVersion?: string;
  durationMs?: number;
  /** Why it failed or was skipped. */
  reason?: string;
  message?: string;
  rolledBackTo?: number;
  /** From the start of the upgrade to every replica ready. */
  timeToReadyMs?: number;
  /** Why a rollout failed: pod, container, events, log tail; captured before any rollback. */
  diagnostics?: Diagnostics;
  /** HPA, PDB and zone spread, checked after the rollout. */
  verification?: { hpa: Check; pdb: Check; spread: Check };
  /** `plan` with a cluster (and `deploy`, for what it skipped): the target against the live release. */
  change?: ServiceChange;
}

/** One object of a release, compared with the live release's: `diff` is a unified diff of the changed lines. */
export interface ObjectChange {
  kind: string;
  name: string;
  change: 'added' | 'removed' | 'changed';
  /** Never set for Secrets (their data is never printed). */
  diff?: string;
}

/** How one service's target differs from what runs: the plan's unit, shown in the terminal, summary, report and PR comment. */
export interface ServiceChange {
  /** `unchanged`: same rendered release and image digest as the live, healthy release. */
  kind: 'unchanged' | 'changed' | 'new-install';
  /** The live revision this was computed against (absent for a new install). */
  liveRevision?: number;
  /** Image references, `<repo>:<tag>@<digest>` where the digest is known. */
  image: { from?: string; to: string };
  chart: { from?: string; to: string };
  /** Values key paths that differ (the per-run trace annotations are not compared). */
  values: ValueChange[];
  objects: ObjectChange[];
  /** Why a release whose target equals the live one still counts as changed (e.g. the live one is failed). */
  note?: string;
}

/** One values key path that differs; `from`/`to` (JSON, shortened) only for keys that do not look secret. */
export interface ValueChange {
  path: string;
  change: 'added' | 'removed' | 'changed';
  from?: string;
  to?: string;
}

export interface Report {
  result: 'success' | 'failure' | 'planned' | 'cancelled';
  /** The signal that cancelled the run (result `cancelled`). */
  cancelledBy?: 'SIGINT' | 'SIGTERM';
  mode: DeployRequest['mode'];
  cluster?: string;
  namespace: string;
  environment: string;
  imageTag: string;
  startedAt: string;
  durationMs: number;
  services: ServiceResult[];
  warnings: string[];
  /** Releases a dead run had left pending-*, recovered before this deploy: what was done to each. */
  recovered?: { service: string; action: string }[];
  /** `verify`: the checklist, one row per check per service. */
  checks?: ChecklistRow[];
  /** `plan --out`: the plan's id (a hash of what it pins), also in the deployment payload. */
  planId?: string;
  /** Set when the run stopped before releasing (input/preflight) or failed. */
  error?: { kind: string; message: string; exitCode: number };
}
