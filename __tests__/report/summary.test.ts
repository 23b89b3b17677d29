import type { Report } from '../../src/model.js';
import { formatDuration } from '../../src/report/duration.js';
import { redact } from '../../src/report/redact.js';
import { shortDigest, summaryMarkdown, summaryText } from '../../src/report/summary.js';

const DIGEST = 'sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';
const image = (s: string) => `123456789012.dkr.ecr.eu-west-1.amazonaws.com/${s}:abc123`;

function deployReport(): Report {
  return {
    result: 'failure',
    mode: 'deploy',
    cluster: 'prod-eks',
    namespace: 'shop',
    environment: 'production',
    imageTag: 'abc123',
    startedAt: '2026-01-01T00:00:00.000Z',
    durationMs: 95_000,
    services: [
      {
        service: 'user-service',
        status: 'deployed',
        image: image('user-service'),
        digest: DIGEST,
        revision: 7,
        durationMs: 42_000,
        verification: {
          hpa: { verdict: 'warning', message: 'metrics unavailable — is metrics-server installed?' },
          pdb: { verdict: 'ok', message: '1 disruption allowed' },
          spread: { verdict: 'ok', message: '3 zones' },
        },
      },
      {
        service: 'payment-service',
        status: 'rolled-back',
        image: image('payment-service'),
        digest: DIGEST,
        revision: 4,
        rolledBackTo: 3,
        durationMs: 65_000,
        reason: 'CrashLoopBackOff',
        message: 'container app exited 1: missing STRIPE_KEY',
        diagnostics: {
          pod: 'payment-service-5c6f-abcde',
          container: 'app',
          reason: 'CrashLoopBackOff',
          message: 'back-off restarting failed container',
          lastTermination: { reason: 'Error', exitCode: 1 },
          events: [
            { type: 'Warning', reason: 'BackOff', message: 'Back-off restarting failed container', count: 4 },
          ],
          logs: { previous: 'fatal: STRIPE_KEY is not set' },
        },
      },
      {
        service: 'order-service',
        status: 'skipped',
        image: image('order-service'),
        reason: 'depends on payment-service, which failed',
      },
    ],
    warnings: ['payment-service: HPA minReplicas 1 < PDB minAvailable 2'],
    error: { kind: 'deploy', message: '1 service failed to roll out', exitCode: 1 },
  };
}

const rows = (md: string) =>
  md.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| Service') && !l.startsWith('| ---'));

describe('summaryMarkdown', () => {
  it('has one table row per service with short digest, revision, result and duration', () => {
    const md = summaryMarkdown(deployReport());
    expect(rows(md)).toEqual([
      '| user-service | <code>user-service@sha256:0123456789ab</code> | — | 7 | ✅ deployed | 42s | hpa warning, pdb ok, spread ok |',
      '| payment-service | <code>payment-service@sha256:0123456789ab</code> | — | 4 → 3 | ↩️ rolled-back | 1m 05s | — |',
      '| order-service | <code>order-service:abc123</code> | — | — | ⏭️ skipped | — | — |',
    ]);
    expect(md).not.toContain(DIGEST);
  });

  it('says where it deployed and why things failed', () => {
    const md = summaryMarkdown(deployReport());
    expect(md).toMatch(/^## ❌ Deploy failed/);
    expect(md).toContain(
      'cluster **prod-eks** · namespace **shop** · environment **production** · tag **abc123**',
    );
    expect(md).toContain('- payment-service: CrashLoopBackOff: container app exited 1: missing STRIPE_KEY');
    expect(md).toContain('- order-service: depends on payment-service, which failed');
    expect(md).toContain('- deploy error: 1 service failed to roll out');
    expect(md).toContain('### Warnings\n\n- payment-service: HPA minReplicas 1 &lt; PDB minAvailable 2');
  });

  it('keeps a reason with pipes, HTML or newlines inside its table cell and list item', () => {
    const report = deployReport();
    report.services[1]!.message = 'a | b\n<script>x</script>';
    const md = summaryMarkdown(report);
    expect(md).toContain('a \\| b<br>&lt;script&gt;x&lt;/script&gt;');
    expect(md).not.toContain('<script>');
  });

  it('headlines a plan and a preflight stop differently from a failed rollout', () => {
    const plan: Report = {
      ...deployReport(),
      result: 'planned',
      mode: 'plan',
      cluster: undefined,
      error: undefined,
    };
    expect(summaryMarkdown(plan)).toMatch(/^## 📝 Plan: 3 services would be deployed/);
    expect(summaryMarkdown(plan)).toContain('cluster **(none: plan)**');
    const stopped: Report = {
      ...deployReport(),
      error: { kind: 'preflight', message: 'image missing', exitCode: 2 },
    };
    expect(summaryMarkdown(stopped)).toMatch(/^## ❌ Deploy stopped before changing the cluster/);
  });

  it('never shows a secret, wherever it appears', () => {
    const report = deployReport();
    report.services[1]!.message = 'auth failed with token hunter2-secret-value';
    report.warnings.push('registry password hunter2-secret-value rejected');
    const md = summaryMarkdown(report, ['hunter2-secret-value']);
    expect(md).not.toContain('hunter2');
    expect(md).toContain('token ***');
    expect(summaryText(report, ['hunter2-secret-value'])).not.toContain('hunter2');
  });
});

describe('summaryText', () => {
  it('is an aligned plain-text table with the same facts', () => {
    const text = summaryText(deployReport());
    const lines = text.split('\n');
    expect(lines[0]).toBe('Deploy failed (1m 35s)');
    expect(lines[1]).toBe('cluster prod-eks, namespace shop, environment production, tag abc123');
    const header = lines.indexOf(lines.find((l) => l.startsWith('SERVICE'))!);
    expect(lines.slice(header, header + 4)).toEqual([
      'SERVICE          IMAGE                                CHART  REVISION  RESULT       DURATION  CHECKS',
      'user-service     user-service@sha256:0123456789ab     -      7         deployed     42s       hpa warning, pdb ok, spread ok',
      'payment-service  payment-service@sha256:0123456789ab  -      4 → 3     rolled-back  1m 05s    -',
      'order-service    order-service:abc123                 -      -         skipped      -         -',
    ]);
    expect(text).toContain(
      '  - payment-service: CrashLoopBackOff: container app exited 1: missing STRIPE_KEY',
    );
    expect(text).not.toContain('\u001b[');
  });
});

describe('formatting', () => {
  it('shortens digests like docker does', () => {
    expect(shortDigest(DIGEST)).toBe('sha256:0123456789ab');
    expect(shortDigest(undefined)).toBe('');
  });
  it('formats durations for people', () => {
    expect([formatDuration(850), formatDuration(42_400), formatDuration(3_605_000)]).toEqual([
      '850ms',
      '42s',
      '60m 05s',
    ]);
  });
  it('redacts the longest secret first', () => {
    expect(redact('key=abc-def', ['abc', 'abc-def'])).toBe('key=***');
  });
});

describe('why a service failed', () => {
  it('shows the pod, container, last termination, events and log tail, and what it was rolled back to', () => {
    const text = summaryText(deployReport());
    expect(text).toContain(
      'payment-service: CrashLoopBackOff: container app exited 1: missing STRIPE_KEY (rolled back to revision 3)',
    );
    expect(text).toContain('payment-service-5c6f-abcde');
    expect(text).toContain('fatal: STRIPE_KEY is not set');
    expect(text).toContain('Back-off restarting failed container');
    expect(summaryMarkdown(deployReport())).toContain('fatal: STRIPE_KEY is not set');
  });
});

describe('changes against the live releases', () => {
  function planReport(): Report {
    return {
      result: 'planned',
      mode: 'plan',
      cluster: 'prod-eks',
      namespace: 'shop',
      environment: 'production',
      imageTag: 'abc123',
      startedAt: '2026-01-01T00:00:00.000Z',
      durationMs: 5_000,
      warnings: [],
      services: [
        {
          service: 'order-service',
          status: 'planned',
          image: image('order-service'),
          change: {
            kind: 'changed',
            liveRevision: 4,
            image: { from: 'r/order-service:v1@sha256:1', to: 'r/order-service:v2@sha256:2' },
            chart: { from: '0.1.0', to: '0.2.0' },
            values: [
              { path: 'replicaCount', change: 'changed', from: '3', to: '5' },
              { path: 'db.password', change: 'changed' },
            ],
            objects: [
              {
                kind: 'Deployment',
                name: 'order-service',
                change: 'changed',
                diff: '@@ -1,1 +1,1 @@\n-  replicas: 3\n+  replicas: 5',
              },
              { kind: 'Secret', name: 'order-db', change: 'changed' },
            ],
          },
        },
        {
          service: 'user-service',
          status: 'planned',
          image: image('user-service'),
          change: {
            kind: 'unchanged',
            liveRevision: 2,
            image: { to: 'x' },
            chart: { to: '0.2.0' },
            values: [],
            objects: [],
          },
        },
      ],
    };
  }

  it('gives each changed service a collapsible block with its diff; an unchanged one a line', () => {
    const md = summaryMarkdown(planReport());
    expect(md).toContain('## 📝 Plan: 1 of 2 services would change, 1 unchanged');
    expect(md).toContain('<details>\n<summary><b>order-service</b>: changes 2 objects</summary>');
    expect(md).toContain('```diff\n@@ -1,1 +1,1 @@\n-  replicas: 3\n+  replicas: 5\n```');
    expect(md).toContain('- values replicaCount: 3 → 5');
    expect(md).toContain('- values db.password: (value hidden)');
    expect(md).toContain('- changed Secret/order-db (data not shown)');
    expect(md).toContain('- image r/order-service:v1@sha256:1 → r/order-service:v2@sha256:2');
    expect(md).toContain('- <b>user-service</b>: unchanged');
  });

  it('says in the terminal which services a deploy left unchanged', () => {
    const report: Report = {
      ...planReport(),
      result: 'success',
      mode: 'deploy',
      services: planReport().services.map((s) =>
        s.service === 'user-service'
          ? { ...s, status: 'unchanged', revision: 2 }
          : { ...s, status: 'deployed' },
      ),
    };
    const text = summaryText(report);
    expect(text).toMatch(/^Deployed 1 service, 1 unchanged/);
    expect(text).toMatch(/^user-service .* 2 +unchanged/m);
    expect(text).not.toContain('\u001b[');
  });
});
