import { gzipSync } from 'node:zlib';
import type { V1Secret } from '@kubernetes/client-node';
import { decodeStoredRelease, latestReleases, secretDriver } from '../../src/kube/helm-storage.js';

/** A release record as helm's secret driver stores it, then as the API returns the Secret's data. */
const asSecretData = (record: unknown, gzip = true) => {
  const json = Buffer.from(JSON.stringify(record));
  const helmEncoded = (gzip ? gzipSync(json) : json).toString('base64');
  return Buffer.from(helmEncoded).toString('base64');
};

const manifest = '---\n# Source: ecommerce-service/templates/service.yaml\napiVersion: v1\nkind: Service\n';

describe('decodeStoredRelease', () => {
  it('reads the manifest and the user values of a gzipped record', () => {
    const data = asSecretData({ name: 'order-service', version: 3, manifest, config: { replicaCount: 2 } });
    expect(decodeStoredRelease(data)).toEqual({ manifest, values: { replicaCount: 2 } });
  });

  it('reads an uncompressed record, and no user values as {}', () => {
    expect(decodeStoredRelease(asSecretData({ manifest, config: null }, false))).toEqual({
      manifest,
      values: {},
    });
  });

  it('throws on what is not a release record (the caller asks helm instead)', () => {
    expect(() => decodeStoredRelease(Buffer.from('not json').toString('base64'))).toThrow();
  });
});

describe('secretDriver', () => {
  it("is helm's default driver, or named so", () => {
    expect(
      [{}, { HELM_DRIVER: '' }, { HELM_DRIVER: 'secret' }, { HELM_DRIVER: 'Secrets' }].map(secretDriver),
    ).toEqual([true, true, true, true]);
  });

  it('is not any other driver', () => {
    expect(['configmap', 'sql', 'memory'].map((d) => secretDriver({ HELM_DRIVER: d }))).toEqual([
      false,
      false,
      false,
    ]);
  });
});

describe('latestReleases', () => {
  const record = (name: string, version: number, status: string) => ({
    name,
    version,
    manifest: `# ${name} v${version}`,
    config: { rev: version },
    info: { status, last_deployed: '2026-12-02T07:00:00Z' },
    chart: { metadata: { name: 'ecommerce-service', version: `0.1.${version}`, appVersion: '1.0.0' } },
  });
  const secret = (name: string, version: number, status: string, type = 'helm.sh/release.v1'): V1Secret => ({
    type,
    metadata: {
      name: `sh.helm.release.v1.${name}.v${version}`,
      labels: { name, owner: 'helm', status, version: String(version) },
    },
    data: { release: asSecretData(record(name, version, status)) },
  });

  it('is helm list --all: the highest revision of each release, whatever its status, with its record', () => {
    const listed = latestReleases([
      secret('order-service', 9, 'superseded'),
      secret('order-service', 10, 'failed'),
      secret('order-service', 2, 'superseded'),
      secret('user-service', 1, 'pending-install'),
      secret('cart', 1, 'deployed', 'Opaque'), // not a release record
    ])!;
    expect([...listed.keys()]).toEqual(['order-service', 'user-service']);
    expect(listed.get('order-service')).toEqual({
      info: {
        status: 'failed',
        revision: 10,
        chart: 'ecommerce-service-0.1.10',
        appVersion: '1.0.0',
        updated: '2026-12-02T07:00:00Z',
      },
      stored: { manifest: '# order-service v10', values: { rev: 10 } },
    });
    expect(listed.get('user-service')!.info).toMatchObject({ status: 'pending-install', revision: 1 });
  });

  it('is undefined (helm is asked) for a record it cannot read or a release Secret without its labels', () => {
    const broken = { ...secret('order-service', 3, 'deployed'), data: { release: 'bm90IGpzb24=' } };
    expect(latestReleases([secret('user-service', 1, 'deployed'), broken])).toBeUndefined();
    const unlabelled = { ...secret('order-service', 3, 'deployed'), metadata: { name: 'x' } };
    expect(latestReleases([unlabelled])).toBeUndefined();
    expect(latestReleases([])).toEqual(new Map());
  });
});
