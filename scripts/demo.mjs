#!/usr/bin/env node
// `npm run demo`: the whole product on the local EKS stand-in, with no AWS account.
// Starts the stand-in when it is not running, pushes images for a fresh tag to its
// ECR (moto) as CI would, then runs the real `ecommerce-deploy deploy` for the six
// services: ECR check, kubeconfig from DescribeCluster, EKS token accepted by the
// API server's webhook, helm upgrade --install, rollout tracking, HPA/PDB checks.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ensureStandIn, kubectl, pushImages, repoRoot, restrictedNamespace, SERVICES } from './stand-in.mjs';

const NAMESPACE = 'production';
// The pinned AWS SDK's notice that its 2027 releases need Node 22 (see README): nothing to act on here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const log = (msg) => process.stderr.write(`demo: ${msg}\n`);

log('starting the local EKS stand-in (if it is not running)');
const env = ensureStandIn();

const tag = `demo-${new Date().toISOString().replace(/[-:]/g, '').slice(0, 15).toLowerCase()}`;
log(`pushing images tagged ${tag} to the stand-in's ECR at ${env.AWS_ENDPOINT_URL}`);
await pushImages(env, SERVICES, tag);

log(`namespace ${NAMESPACE} enforces Pod Security "restricted"`);
restrictedNamespace(env, NAMESPACE);

const args = [
  join(repoRoot, 'dist', 'cli.js'),
  'deploy',
  '--config',
  join(repoRoot, 'deploy.yaml'),
  '--cluster',
  env.EKS_CLUSTER_NAME,
  '--region',
  env.AWS_REGION,
  '--tag',
  tag,
  '--report',
  join(repoRoot, '.cache', 'demo-report.json'),
];
log(`running: ecommerce-deploy ${args.slice(1).join(' ')}`);
// Only the AWS settings of the stand-in: the kubeconfig comes from DescribeCluster.
const { KUBECONFIG: _admin, ...awsEnv } = env;
const res = spawnSync(process.execPath, args, { stdio: 'inherit', env: { ...process.env, ...awsEnv } });

if (res.status === 0) {
  log('what is running now:');
  process.stderr.write(kubectl(env, ['get', 'deploy,hpa,pdb,svc', '-n', NAMESPACE]));
  log(`stop the stand-in with: npm run cluster:down`);
}
process.exit(res.status ?? 1);
