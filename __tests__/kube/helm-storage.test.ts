import { gzipSync } from 'node:zlib';
import { decodeStoredRelease, secretDriver } from '../../src/kube/helm-storage.js';

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
