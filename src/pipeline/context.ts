/**
 * What every stage of the pipeline shares: the request, the injected boundaries
 * (`PipelineDeps`), where results are recorded and the run's private work dir, plus
 * the values one stage hands the next (what to deploy, where it runs).
 */
import type { ECRClient } from '@aws-sdk/client-ecr';
import type { EKSClient } from '@aws-sdk/client-eks';
import type { V2HorizontalPodAutoscaler } from '@kubernetes/client-node';
import type { IAMClient } from '@aws-sdk/client-iam';
import type { AwsCredentialIdentityProvider } from '@smithy/types';
import type { EksCluster } from '../aws/eks.js';
import type { EksTokenSource } from '../aws/token.js';
import type { SupportedHelm } from '../helm/binary.js';
import { Helm, type ReleaseInfo, type RenderParams } from '../helm/helm.js';
import type { ManifestObject, RenderedExpectations } from '../helm/manifest.js';
import type { LiveService } from '../kube/checklist-rules.js';
import type { ReleaseLister, StoredRelease, StoredReleaseReader } from '../kube/helm-storage.js';
import type { LockOptions, RunLock } from '../kube/lease.js';
import type { RolloutOutcome, TrackRequest } from '../kube/tracker.js';
import type { Verification, VerifyRequest } from '../kube/verify.js';
import type { DeployRequest, Plan, PlannedService } from '../model.js';
import type { Runner } from '../runner.js';
import type { Output } from '../report/output.js';
import type { RunRecorder } from '../report/recorder.js';

export interface PipelineDeps {
  out: Output;
  run: Runner;
  /** SDK clients for a region; tests hand in mocked or moto-backed ones. */
  awsClients: (region: string) => {
    ecr: ECRClient;
    eks: EKSClient;
    /** Read-only: the IRSA check (roles' trust policies, the cluster's OIDC provider). */
    iam: IAMClient;
    /**
     * The identity the clients sign with. When given, helm's EKS tokens are minted in
     * this process from it (one Node process less per helm command); without it
     * (mocked clients in unit tests) helm uses the kubeconfig's exec plugin.
     */
    credentials?: AwsCredentialIdentityProvider;
  };
  /** How the kubeconfig's exec plugin re-enters this tool to mint a token; the pipeline appends the cluster. */
  tokenCommand: { command: string; args: string[] };
  /** Where private temp files go (RUNNER_TEMP in Actions, else os.tmpdir()). */
  tempDir: string;
  /** PATH to search for helm. */
  pathEnv?: string;
  /** Action only: install a pinned helm when none is found. */
  installHelm?: (version: string, out: Output) => Promise<string>;
  /** The Kubernetes API side (rollout tracking, verification); unit tests replace it. */
  kube?: KubeAccess;
  /** Aborted when the run is cancelled (the front doors abort it on SIGINT/SIGTERM). */
  signal?: AbortSignal;
  /**
   * Every input and preflight check passed and the releases are about to start (deploy
   * only): the Action records a GitHub deployment here. Must not throw.
   */
  onReleaseStart?: (start: {
    namespace: string;
    /** `deploy --plan`: the applied plan's id. */
    planId?: string;
    services: { service: string; image: string; digest?: string }[];
  }) => Promise<void>;
}

export type Tracker = {
  track(req: TrackRequest): Promise<RolloutOutcome>;
  /** With `cancelled`, rollouts still watched end as Cancelled. */
  stop(cancelled?: boolean): Promise<void>;
  /** The HPA as last seen active at its current spec, at or after `since` (ms); see kube/hpa-sightings.ts. */
  hpaSeenActive?(name: string, since: number): V2HorizontalPodAutoscaler | undefined;
};
export type Verifier = (req: Omit<VerifyRequest, 'kc' | 'log'>) => Promise<Verification>;

export interface KubeAccess {
  /** The namespace's deploy lease, held (and renewed) until released. */
  lock(kubeconfig: string, opts: LockOptions): Promise<RunLock>;
  tracker(kubeconfig: string, namespace: string, out: Output): Promise<Tracker>;
  verifier(kubeconfig: string): Verifier;
  /** `verify`: what one service looks like live. */
  live(kubeconfig: string): (namespace: string, service: string) => Promise<LiveService>;
  /** A first install under an HPA: its Deployment raised to the HPA's minimum now; says what it did. */
  scaler(kubeconfig: string): Scaler;
  /** Revisions read from helm's storage instead of `helm get`; absent (or answering undefined): helm is asked. */
  storedRelease?(kubeconfig: string): StoredReleaseReader;
  /** The releases (`helm list --all`) read from helm's storage; absent (or answering undefined): helm is asked. */
  releases?(kubeconfig: string): ReleaseLister;
  /** The API server's version (`/version` gitVersion); undefined when it cannot be read. */
  serverVersion?(kubeconfig: string): Promise<string | undefined>;
}

type Scaler = (req: { namespace: string; deployment: string; min: number }) => Promise<string>;

/** One run: created before the first stage, closed after the last. */
export interface RunContext {
  request: DeployRequest;
  deps: PipelineDeps;
  out: Output;
  results: RunRecorder;
  /** Private (0700) temp dir for values files and registry logins; removed at the end. */
  workDir: string;
  /** Unique per run, written into every release description: how a revision is known to be this run's. */
  runId: string;
  /** Aborted by SIGINT/SIGTERM (its reason is the signal's name): start nothing new, stop what runs. */
  signal: AbortSignal;
}

/** What each service will run: `uri` is unset only when neither ECR nor the deploy file names a registry. */
export interface ImageChoice {
  uri?: string;
  tag: string;
  digest?: string;
}

export interface ChartInfo {
  ref: string;
  name: string;
  version: string;
  ociVersion?: string;
}

/** What preflight settled: the plan, the image each service runs, the chart and the helm to run it with. */
export interface Target {
  plan: Plan;
  images: Map<string, ImageChoice>;
  chart: ChartInfo;
  helmBinary: SupportedHelm;
  /** Extra environment for helm (a per-run registry login), if any. */
  helmEnv?: Record<string, string>;
}

/** One service as rendered: the exact helm parameters the release will use, and what the chart promised. */
export interface RenderedService {
  svc: PlannedService;
  image: ImageChoice;
  params: RenderParams;
  expected: RenderedExpectations;
  /** `helm template`'s output: what the release will hold. */
  manifest: string;
  /** Its objects, parsed once (read-only: the expectations and the diff share them). */
  objects?: ManifestObject[];
  /** The values helm will store for the release (what `helm get values` will show). */
  values: Record<string, unknown>;
}

/** The cluster this run deploys to: a kubeconfig (ours or the user's) and, for EKS, an in-process token. */
export interface ClusterAccess {
  path: string;
  token?: EksTokenSource;
  /** The EKS cluster, as DescribeCluster showed it (absent with a plain kubeconfig). */
  eks?: EksCluster;
  dispose(): Promise<void>;
}

/** The connected cluster: helm bound to it, the releases found at the start, the watches. */
export interface Session {
  helm: Helm;
  /** Releases as they were before this run changed anything. */
  before: Map<string, ReleaseInfo>;
  /** Absent in plan mode: nothing is released, so nothing is watched. */
  tracker?: Tracker;
  /** The namespace's deploy lease (deploy mode); released at the end of the run. */
  lock?: RunLock;
  verify: Verifier;
  scale: Scaler;
  /** One service as it runs now (its Deployment, pods, …): read before leaving an unchanged release alone. */
  live: (service: string) => Promise<LiveService>;
  /** The API server checks fields itself (1.27+): helm's client-side OpenAPI check is skipped. */
  serverValidatesFields?: boolean;
  /** One revision's manifest and values from helm's storage; undefined: ask helm. */
  stored?: (release: string, revision: number) => Promise<StoredRelease | undefined>;
}

export function helmFor(ctx: RunContext, target: Target, cluster?: ClusterAccess): Helm {
  return new Helm({
    run: ctx.deps.run,
    helm: target.helmBinary,
    kubeconfig: cluster?.path,
    token: cluster?.token,
    env: target.helmEnv,
    privateKubeconfig: cluster !== undefined && !ctx.request.kubeconfig,
    workDir: ctx.workDir,
    signal: ctx.signal,
  });
}

/** Thrown between stages once the run is cancelled; runPipeline turns it into a `cancelled` report. */
class RunCancelled extends Error {
  constructor(readonly by: 'SIGINT' | 'SIGTERM') {
    super(`cancelled by ${by}`);
  }
}

export function cancelledBy(signal: AbortSignal): 'SIGINT' | 'SIGTERM' {
  return signal.reason === 'SIGINT' ? 'SIGINT' : 'SIGTERM';
}

/** Start nothing new once the run is cancelled. */
export function checkCancelled(ctx: RunContext): void {
  if (ctx.signal.aborted) throw new RunCancelled(cancelledBy(ctx.signal));
}

/**
 * Promise.all that waits for every promise before it rejects (with the first failure):
 * nothing is still writing into the work dir, or running helm, when the caller cleans up.
 */
export async function settleAll<T>(promises: Promise<T>[]): Promise<T[]> {
  const settled = await Promise.allSettled(promises);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<T>).value);
}

export function imageName(image: ImageChoice): string {
  const repo = image.uri ?? '(repository from the values files)';
  return image.digest ? `${repo}@${image.digest}` : `${repo}:${image.tag}`;
}
