// Types for scripts/stand-in.mjs, for the TypeScript tests that use it.
export type StandInEnv = Record<string, string> & {
  KUBECONFIG: string;
  AWS_ENDPOINT_URL: string;
  AWS_ACCESS_KEY_ID: string;
  AWS_SECRET_ACCESS_KEY: string;
  AWS_REGION: string;
  EKS_CLUSTER_NAME: string;
};
export const repoRoot: string;
export const SERVICES: readonly string[];
export function runDirOf(runDir?: string): string;
export function readStandInEnv(runDir?: string): StandInEnv | undefined;
export function ensureStandIn(opts?: { runDir?: string; quiet?: boolean }): StandInEnv;
export function stopStandIn(opts?: { runDir?: string }): void;
export function pushImages(
  env: StandInEnv,
  repositories: readonly string[],
  tag: string,
): Promise<Record<string, string>>;
export function createRepositories(env: StandInEnv, repositories: readonly string[]): Promise<void>;
export interface HelmRevision {
  name: string;
  revision: number;
  /** deployed, superseded, failed, ... */
  status: string;
  description: string;
  chart: { metadata: { name: string; version: string } } & Record<string, unknown>;
  /** The user-supplied values of this revision (values files and --set, merged). */
  config: Record<string, unknown>;
}
export function helmReleases(env: StandInEnv, namespace: string): HelmRevision[];
export function kubectl(
  env: StandInEnv,
  args: string[],
  opts?: { allowFailure?: boolean; input?: string },
): string;
export function restrictedNamespace(env: StandInEnv, name: string): void;
