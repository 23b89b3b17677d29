/**
 * userValues computes, without a cluster, the values helm stores for a release. Checked
 * against the real helm 3 and 4: a chart with no defaults whose template prints `.Values`
 * shows exactly what helm made of the same values files and --set flags.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { findHelm, requireSupportedHelm } from '../../src/helm/binary.js';
import { Helm } from '../../src/helm/helm.js';
import { userValues, valuesReader } from '../../src/helm/values.js';
import { execRunner } from '../../src/runner.js';

const binaries: [string, string][] = process.env.HELM_BIN
  ? [['HELM_BIN', process.env.HELM_BIN]]
  : [
      ['helm 3', resolve('.cache/tools/helm3/helm')],
      ['helm 4', resolve('.cache/tools/helm4/helm')],
    ];

const dir = mkdtempSync(join(tmpdir(), 'values-'));
const chart = join(dir, 'echo');
mkdirSync(join(chart, 'templates'), { recursive: true });
writeFileSync(join(chart, 'Chart.yaml'), 'apiVersion: v2\nname: echo\nversion: 0.1.0\n');
writeFileSync(join(chart, 'values.yaml'), '');
writeFileSync(join(chart, 'templates', 'values.yaml'), 'values: {{ .Values | toJson | quote }}\n');

const files = [join(dir, 'env.yaml'), join(dir, 'service.yaml')];
// YAML 1.1 as helm reads it (on/yes booleans, octal, merge keys), timestamps as text,
// maps merged key by key, lists and scalars replaced.
writeFileSync(
  files[0]!,
  [
    'replicaCount: 3',
    'config: { FLAG: on, MODE: "on", PERM: 0777, WHEN: 2024-01-01, KEEP: kept }',
    'ports: [80, 443]',
    'image: { repository: base, tag: old }',
  ].join('\n'),
);
writeFileSync(
  files[1]!,
  ['base: &b { x: 1 }', 'extra:', '  <<: *b', '  note: yes', 'config: { FLAG: off }', 'ports: [8080]'].join(
    '\n',
  ),
);
const sets = { 'image.repository': 'reg/order-service', 'image.digest': 'sha256:abc' };

describe.each(binaries)('userValues against %s', (_label, path) => {
  it('is what helm makes of the same values files and --set flags', async () => {
    const helm = new Helm({
      run: execRunner,
      helm: requireSupportedHelm(await findHelm({ run: execRunner, explicit: path })),
    });
    const out = await helm.template({ release: 'echo', chart, namespace: 'ns', valuesFiles: files, sets });
    const printed = JSON.parse(JSON.parse(/^values: (".*")$/m.exec(out)![1]!) as string) as unknown;
    const ours = await userValues(files, sets);
    expect(ours).toEqual(printed);
    expect(ours).toMatchObject({ config: { FLAG: false, MODE: 'on', PERM: 511, WHEN: '2024-01-01' } });
  });
});

describe('valuesReader', () => {
  it('parses each file once for the whole run, and merges the same as reading each time', async () => {
    const read = valuesReader();
    const first = await userValues(files, sets, read);
    expect(first).toEqual(await userValues(files, sets));
    const before = readFileSync(files[0]!, 'utf8');
    writeFileSync(files[0]!, 'changed: true\n');
    try {
      // The shared reader still has the first parse; a fresh read sees the new file.
      expect(await userValues(files, {}, read)).not.toHaveProperty('changed');
      expect(await userValues(files, {})).toHaveProperty('changed', true);
    } finally {
      writeFileSync(files[0]!, before);
    }
  });
});
