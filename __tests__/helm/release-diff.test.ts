/**
 * The diff engine: objects matched by kind and name, the replicas an HPA owns and the
 * per-run trace annotations ignored, Secret data and secret-looking values never shown.
 */
import * as yaml from 'js-yaml';
import {
  changeHeadline,
  compareRelease,
  diffManifests,
  diffValues,
  manifestHash,
  valuesHash,
  type LiveRelease,
  type TargetRelease,
} from '../../src/helm/release-diff.js';
import type { ManifestObject } from '../../src/helm/manifest.js';

const doc = (o: object) => yaml.dump(o);
const manifest = (...objects: object[]) => objects.map(doc).join('---\n');

function deployment(opts: { image?: string; replicas?: number; annotations?: object; env?: object[] } = {}) {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'order-service', annotations: opts.annotations ?? { team: 'shop' } },
    spec: {
      ...(opts.replicas !== undefined ? { replicas: opts.replicas } : {}),
      template: {
        spec: {
          containers: [
            { name: 'app', image: opts.image ?? 'reg/order-service@sha256:aaa', env: opts.env ?? [] },
          ],
        },
      },
    },
  };
}
const service = (port = 80) => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: 'order-service' },
  spec: { ports: [{ port }] },
});
const hpa = {
  apiVersion: 'autoscaling/v2',
  kind: 'HorizontalPodAutoscaler',
  metadata: { name: 'order-service' },
  spec: { scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'order-service' } },
};
const secret = (password: string) => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name: 'order-db' },
  data: { password: Buffer.from(password).toString('base64') },
});

describe('diffManifests', () => {
  it('matches objects by kind and name: added, removed and changed, with a diff of the changed lines', () => {
    const live = manifest(deployment(), service(80), { kind: 'ConfigMap', metadata: { name: 'old' } });
    const target = manifest(service(8080), deployment(), {
      kind: 'Ingress',
      metadata: { name: 'order-service' },
    });
    const changes = diffManifests(live, target);
    expect(changes.map((c) => `${c.change} ${c.kind}/${c.name}`)).toEqual([
      'changed Service/order-service',
      'added Ingress/order-service',
      'removed ConfigMap/old',
    ]);
    const diff = changes[0]!.diff!;
    expect(diff).toMatch(/^@@ -\d+,\d+ \+\d+,\d+ @@/);
    expect(diff).toContain('-    - port: 80');
    expect(diff).toContain('+    - port: 8080');
    // Only the changed lines and their context, not the whole object twice.
    expect(diff.split('\n').filter((l) => /^[-+]/.test(l))).toHaveLength(2);
    expect(changes[1]!.diff).toMatch(/^@@ -0,0 \+1,3 @@\n\+kind: Ingress\n/);
  });

  it('gives the diff as a plain property: in JSON and copies, the same on every read, replaceable', () => {
    const [change] = diffManifests(manifest(service(80)), manifest(service(8080)));
    const diff = change!.diff!;
    expect(diff).toContain('+    - port: 8080');
    expect(change!.diff).toBe(diff);
    expect(JSON.parse(JSON.stringify(change))).toEqual({
      kind: 'Service',
      name: 'order-service',
      change: 'changed',
      diff,
    });
    expect({ ...change }.diff).toBe(diff);
    change!.diff = 'redacted';
    expect(change!.diff).toBe('redacted');
    expect(JSON.parse(JSON.stringify(change)).diff).toBe('redacted');
  });

  it('sees nothing when only order and YAML layout differ', () => {
    expect(diffManifests(manifest(deployment(), service()), manifest(service(), deployment()))).toEqual([]);
  });

  it('compares values with their types (port 80 is not "80"), and gives the same answer for parsed objects', () => {
    const quoted = { ...service(), spec: { ports: [{ port: '80' }] } };
    expect(diffManifests(manifest(service(80)), manifest(quoted)).map((c) => c.change)).toEqual(['changed']);
    const target = manifest(service(8080), deployment());
    const parsed = yaml.loadAll(target) as ManifestObject[];
    expect(diffManifests(manifest(deployment(), service(80)), parsed)).toEqual(
      diffManifests(manifest(deployment(), service(80)), target),
    );
  });

  it('ignores the replicas of a Deployment an HPA scales, but not of one without an HPA', () => {
    const scaled = diffManifests(manifest(deployment({ replicas: 7 }), hpa), manifest(deployment(), hpa));
    expect(scaled).toEqual([]);
    const fixed = diffManifests(manifest(deployment({ replicas: 3 })), manifest(deployment({ replicas: 5 })));
    expect(fixed.map((c) => c.change)).toEqual(['changed']);
    expect(fixed[0]!.diff).toContain('+  replicas: 5');
  });

  it('ignores the per-run trace annotations, but not the image or other annotations', () => {
    const run1 = {
      team: 'shop',
      'ecommerce-deploy/commit': 'aaa',
      'ecommerce-deploy/run-url': 'https://github.com/o/r/actions/runs/1',
      'ecommerce-deploy/actor': 'ada',
      'ecommerce-deploy/image-tag': 'v1',
    };
    const run2 = {
      ...run1,
      'ecommerce-deploy/commit': 'bbb',
      'ecommerce-deploy/actor': 'bob',
      'ecommerce-deploy/image-tag': 'v1-again',
    };
    expect(
      diffManifests(manifest(deployment({ annotations: run1 })), manifest(deployment({ annotations: run2 }))),
    ).toEqual([]);
    const moved = diffManifests(
      manifest(deployment({ annotations: run1 })),
      manifest(deployment({ annotations: run2, image: 'reg/order-service@sha256:bbb' })),
    );
    expect(moved[0]!.diff).toContain('+          image: reg/order-service@sha256:bbb');
    expect(moved[0]!.diff).not.toContain('ecommerce-deploy/commit');
    const other = diffManifests(
      manifest(deployment({ annotations: run1 })),
      manifest(deployment({ annotations: { ...run1, team: 'ops' } })),
    );
    expect(other).toHaveLength(1);
  });

  it('says a Secret changed, was added or removed, and never shows its data', () => {
    const changes = diffManifests(
      manifest(secret('hunter2'), { ...secret('x'), metadata: { name: 'gone' } }),
      manifest(secret('correct-horse'), { ...secret('y'), metadata: { name: 'new' } }),
    );
    expect(changes.map((c) => `${c.change} ${c.name}`)).toEqual([
      'changed order-db',
      'added new',
      'removed gone',
    ]);
    const text = JSON.stringify(changes);
    for (const value of ['hunter2', 'correct-horse', Buffer.from('hunter2').toString('base64')]) {
      expect(text).not.toContain(value);
    }
    expect(changes.every((c) => c.diff === undefined)).toBe(true);
  });
});

describe('diffValues', () => {
  it('lists changed key paths with their values, hiding values of keys that look secret', () => {
    const changes = diffValues(
      { replicaCount: 3, db: { password: 'hunter2', host: 'a' }, apiKey: 'k1', config: { LOG: 'info' } },
      {
        replicaCount: 5,
        db: { password: 'correct-horse', host: 'a' },
        apiKey: 'k2',
        config: { LOG: 'info', NEW: 'x' },
      },
    );
    expect(changes).toEqual([
      { path: 'apiKey', change: 'changed' },
      { path: 'config.NEW', change: 'added', to: '"x"' },
      { path: 'db.password', change: 'changed' },
      { path: 'replicaCount', change: 'changed', from: '3', to: '5' },
    ]);
    expect(JSON.stringify(changes)).not.toMatch(/hunter2|correct-horse|k1|k2/);
  });

  it('does not count the trace annotations a run writes into deploymentAnnotations', () => {
    const trace = (commit: string) => ({
      deploymentAnnotations: {
        'ecommerce-deploy/commit': commit,
        'ecommerce-deploy/image-tag': commit,
        team: 'shop',
      },
    });
    expect(diffValues(trace('aaa'), trace('bbb'))).toEqual([]);
    expect(valuesHash(trace('aaa'))).toBe(valuesHash(trace('bbb')));
  });
});

describe('compareRelease', () => {
  const target = (over: Partial<TargetRelease> = {}): TargetRelease => ({
    manifest: manifest(deployment(), service()),
    values: { replicaCount: 3 },
    image: 'reg/order-service:v2@sha256:aaa',
    chartName: 'ecommerce-service',
    chartVersion: '0.3.0',
    ...over,
  });
  const live = (over: Partial<LiveRelease> = {}): LiveRelease => ({
    revision: 4,
    status: 'deployed',
    chart: 'ecommerce-service-0.3.0',
    manifest: manifest(
      deployment({ annotations: { team: 'shop', 'ecommerce-deploy/image-tag': 'v1' } }),
      service(),
    ),
    values: { replicaCount: 3 },
    ...over,
  });

  it('is unchanged when objects, values and chart are the same and the live release is deployed', () => {
    const change = compareRelease(target(), live());
    expect(change).toMatchObject({ kind: 'unchanged', liveRevision: 4, objects: [], values: [] });
    expect(change.image).toEqual({
      from: 'reg/order-service:v1@sha256:aaa',
      to: 'reg/order-service:v2@sha256:aaa',
    });
    expect(changeHeadline(change)).toBe('unchanged');
  });

  it('is changed by the chart version, a value, or a live release that is not deployed', () => {
    expect(compareRelease(target({ chartVersion: '0.4.0' }), live())).toMatchObject({
      kind: 'changed',
      chart: { from: '0.3.0', to: '0.4.0' },
    });
    expect(compareRelease(target({ values: { replicaCount: 4 } }), live()).kind).toBe('changed');
    const failed = compareRelease(target(), live({ status: 'failed' }));
    expect(failed).toMatchObject({ kind: 'changed', note: expect.stringContaining('failed') });
  });

  it('counts the objects that change, and calls a release that is not there a new install', () => {
    const change = compareRelease(
      target({ manifest: manifest(deployment({ image: 'reg/order-service@sha256:bbb' }), service(81)) }),
      live(),
    );
    expect(changeHeadline(change)).toBe('changes 2 objects');
    const fresh = compareRelease(target(), undefined);
    expect(fresh).toMatchObject({ kind: 'new-install', image: { to: 'reg/order-service:v2@sha256:aaa' } });
    expect(changeHeadline(fresh)).toBe('new install');
    expect(fresh.objects.map((o) => o.change)).toEqual(['added', 'added']);
  });

  it('hashes the manifest without trace annotations, and with every other field', () => {
    const a = manifest(deployment({ annotations: { 'ecommerce-deploy/commit': 'aaa' } }));
    const b = manifest(deployment({ annotations: { 'ecommerce-deploy/commit': 'bbb' } }));
    expect(manifestHash(a)).toBe(manifestHash(b));
    expect(manifestHash(a)).not.toBe(manifestHash(manifest(deployment({ image: 'x@sha256:1' }))));
  });
});
