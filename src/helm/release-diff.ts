/**
 * A release's target (what `helm template` rendered, and the values it was given) compared
 * with the live release (`helm get manifest` / `helm get values`), object by object.
 *
 * What counts as a change is decided here and nowhere else:
 * - the per-run traceability annotations (TRACE_ANNOTATIONS: commit, run URL, actor, image tag)
 *   are not: every run writes new ones, and they describe the run, not what runs. The image
 *   itself is compared by what the Deployment runs (`repository@digest`).
 * - `spec.replicas` of a workload an HPA scales is not: the HPA owns it.
 * - every other field of every object, the values (bar the trace annotations) and the chart
 *   version are.
 * Secret data is compared but never shown: a changed Secret has no diff.
 */
import { createHash } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { structuredPatch } from 'diff';
import * as yaml from 'js-yaml';
import type { ObjectChange, ServiceChange, ValueChange } from '../model.js';
import { manifestObjects, type ManifestObject } from './manifest.js';

/** Written by every run into deploymentAnnotations (see runValuesFile in src/pipeline/render.ts). */
const TRACE_ANNOTATIONS = [
  'ecommerce-deploy/commit',
  'ecommerce-deploy/run-url',
  'ecommerce-deploy/actor',
  'ecommerce-deploy/image-tag',
];
const IMAGE_TAG_ANNOTATION = 'ecommerce-deploy/image-tag';

type K8sObject = ManifestObject;

/** The objects of a manifest (its text, or its objects as parsed once) by `Kind/name`, in manifest order. */
function objectsOf(manifest: string | ManifestObject[]): Map<string, K8sObject> {
  const objects = new Map<string, K8sObject>();
  for (const o of typeof manifest === 'string' ? manifestObjects(manifest) : manifest)
    objects.set(`${o.kind ?? '?'}/${o.metadata?.name ?? '?'}`, o);
  return objects;
}

/** `Kind/name` of every workload an HPA in these objects scales. */
function hpaTargets(...manifests: Map<string, K8sObject>[]): Set<string> {
  const targets = new Set<string>();
  for (const objects of manifests) {
    for (const o of objects.values()) {
      const ref = o.kind === 'HorizontalPodAutoscaler' ? (o.spec?.scaleTargetRef as K8sObject) : undefined;
      if (ref?.kind && ref.name) targets.add(`${ref.kind}/${String(ref.name)}`);
    }
  }
  return targets;
}

/** The object as compared: without trace annotations, without the replicas an HPA owns. */
function normalized(key: string, o: K8sObject, scaled: Set<string>): K8sObject {
  // A JSON copy, not structuredClone: its objects must be plain ones of this realm for yaml.dump.
  const copy = JSON.parse(JSON.stringify(o)) as K8sObject;
  const annotations = copy.metadata?.annotations;
  if (annotations) {
    for (const a of TRACE_ANNOTATIONS) delete annotations[a];
    if (!Object.keys(annotations).length) delete copy.metadata!.annotations;
  }
  if (scaled.has(key) && copy.spec) delete copy.spec.replicas;
  return copy;
}

const asYaml = (o: unknown) =>
  o === undefined ? '' : yaml.dump(o, { sortKeys: true, lineWidth: -1, noRefs: true });

/** The changed lines with 3 lines of context, as `@@` hunks (no file header). */
function unifiedDiff(key: string, from: unknown, to: unknown): string {
  const patch = structuredPatch(`live/${key}`, `target/${key}`, asYaml(from), asYaml(to), '', '', {
    context: 3,
  });
  // As diff(1) writes it: an empty side starts at line 0 (`@@ -0,0 +1,15 @@` for an added object).
  const start = (line: number, count: number) => `${count ? line : line - 1},${count}`;
  return patch.hunks
    .map((h) =>
      [`@@ -${start(h.oldStart, h.oldLines)} +${start(h.newStart, h.newLines)} @@`, ...h.lines].join('\n'),
    )
    .join('\n');
}

/**
 * The diff text is written when first read (the summary, the report, a plan's output), not
 * while comparing: a deploy needs only whether an object changed before its releases start.
 * It reads as a plain property (JSON, equality) and can be replaced.
 */
function lazyDiff(entry: ObjectChange, make: () => string): void {
  let text: string | undefined;
  Object.defineProperty(entry, 'diff', {
    enumerable: true,
    configurable: true,
    get: () => (text ??= make()),
    set: (value: string | undefined) =>
      Object.defineProperty(entry, 'diff', { value, enumerable: true, configurable: true, writable: true }),
  });
}

/**
 * Added, removed and changed objects, target against live; Secrets never carry a diff.
 * Objects are compared as data (key order aside, as their sorted YAML would be); only a
 * changed one is written out as YAML for its diff.
 */
export function diffManifests(
  live: string | Map<string, K8sObject> | undefined,
  target: string | ManifestObject[],
  withDiffs = true,
): ObjectChange[] {
  const before =
    live === undefined ? new Map<string, K8sObject>() : typeof live === 'string' ? objectsOf(live) : live;
  const after = objectsOf(target);
  const scaled = hpaTargets(before, after);
  const changes: ObjectChange[] = [];
  const add = (key: string, change: ObjectChange['change'], from?: K8sObject, to?: K8sObject) => {
    const o = (to ?? from)!;
    const entry: ObjectChange = { kind: o.kind ?? '?', name: o.metadata?.name ?? '?', change };
    if (withDiffs && o.kind !== 'Secret') lazyDiff(entry, () => unifiedDiff(key, from, to));
    changes.push(entry);
  };
  for (const [key, o] of after) {
    const was = before.get(key);
    if (!was) {
      add(key, 'added', undefined, normalized(key, o, scaled));
      continue;
    }
    const [from, to] = [normalized(key, was, scaled), normalized(key, o, scaled)];
    if (!isDeepStrictEqual(from, to)) add(key, 'changed', from, to);
  }
  for (const [key, o] of before) if (!after.has(key)) add(key, 'removed', normalized(key, o, scaled));
  return changes;
}

// ---------------------------------------------------------------------------
// Values

/** A key whose value must never be shown: passwords, tokens, keys, credentials. */
const SECRET_KEY = /pass(word|wd)?|secret|token|api[-_]?key|credential|private[-_]?key|auth|cert|dsn/i;

const looksSecret = (path: string): boolean => path.split('.').some((k) => SECRET_KEY.test(k));

const isMap = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

const TRACE_PATHS = new Set(TRACE_ANNOTATIONS.map((a) => `deploymentAnnotations.${a}`));

/** Leaf values by dotted path (lists are leaves); trace annotations left out. */
function flatten(values: unknown, prefix = '', into = new Map<string, unknown>()): Map<string, unknown> {
  if (isMap(values) && (Object.keys(values).length || !prefix)) {
    for (const [k, v] of Object.entries(values)) flatten(v, prefix ? `${prefix}.${k}` : k, into);
  } else if (!TRACE_PATHS.has(prefix)) {
    into.set(prefix, values);
  }
  return into;
}

const shown = (v: unknown) => {
  const text = JSON.stringify(v) ?? 'null';
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
};

/** Key paths whose value differs; the values are shown only for keys that do not look secret. */
export function diffValues(live: unknown, target: unknown): ValueChange[] {
  const [before, after] = [flatten(live ?? {}), flatten(target ?? {})];
  const paths = [...new Set([...before.keys(), ...after.keys()])].sort();
  const changes: ValueChange[] = [];
  for (const path of paths) {
    const [had, has] = [before.has(path), after.has(path)];
    const [from, to] = [before.get(path), after.get(path)];
    if (had && has && JSON.stringify(from) === JSON.stringify(to)) continue;
    const change: ValueChange = { path, change: !had ? 'added' : !has ? 'removed' : 'changed' };
    if (!looksSecret(path)) {
      if (had) change.from = shown(from);
      if (has) change.to = shown(to);
    }
    changes.push(change);
  }
  return changes;
}

/** The values as a plan pins them: without the trace annotations, keys in a fixed order. */
function pinnedValues(values: unknown): string {
  return JSON.stringify([...flatten(values ?? {})].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** The manifest as a plan pins it: each object normalized (no trace annotations), in a fixed order. */
function pinnedManifest(manifest: string): string {
  const objects = objectsOf(manifest);
  const scaled = hpaTargets(objects);
  return [...objects]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, o]) => asYaml(normalized(key, o, scaled)))
    .join('---\n');
}

const sha256 = (text: string) => `sha256:${createHash('sha256').update(text).digest('hex')}`;
export const manifestHash = (manifest: string) => sha256(pinnedManifest(manifest));
export const valuesHash = (values: unknown) => sha256(pinnedValues(values));

// ---------------------------------------------------------------------------
// One release

export interface LiveRelease {
  revision: number;
  status: string;
  /** `<chart name>-<chart version>`, as helm lists it. */
  chart: string;
  manifest: string;
  values: unknown;
}

export interface TargetRelease {
  manifest: string;
  /** The manifest's objects, when the caller has parsed it already. */
  objects?: ManifestObject[];
  values: unknown;
  /** `<repo>:<tag>@<digest>` (or without the digest when none is known). */
  image: string;
  chartName: string;
  chartVersion: string;
}

/** The first container's image of the release's Deployment, with the tag its trace annotation names. */
function liveImage(objects: Map<string, K8sObject>): string | undefined {
  const deployment = [...objects.values()].find((o) => o.kind === 'Deployment');
  const spec = deployment?.spec as
    { template?: { spec?: { containers?: { image?: string }[] } } } | undefined;
  const image = spec?.template?.spec?.containers?.[0]?.image;
  const tag = deployment?.metadata?.annotations?.[IMAGE_TAG_ANNOTATION];
  if (!image || !tag || !image.includes('@') || /:[^/@]+@/.test(image)) return image;
  const [repo, digest] = image.split('@');
  return `${repo}:${tag}@${digest}`;
}

/** The chart version out of helm's `<name>-<version>`. */
function chartVersionOf(chart: string, name: string): string {
  return chart.startsWith(`${name}-`) ? chart.slice(name.length + 1) : chart;
}

/** How the target differs from the live release; `unchanged` only when nothing differs and the live one is deployed. */
export function compareRelease(target: TargetRelease, live: LiveRelease | undefined): ServiceChange {
  const chartTo = target.chartVersion;
  if (!live) {
    return {
      kind: 'new-install',
      image: { to: target.image },
      chart: { to: chartTo },
      values: [],
      objects: diffManifests(undefined, target.objects ?? target.manifest, false),
    };
  }
  const liveObjects = objectsOf(live.manifest);
  const objects = diffManifests(liveObjects, target.objects ?? target.manifest);
  const values = diffValues(live.values, target.values);
  const chartFrom = chartVersionOf(live.chart, target.chartName);
  const same = !objects.length && !values.length && chartFrom === chartTo;
  const healthy = live.status === 'deployed';
  return {
    kind: same && healthy ? 'unchanged' : 'changed',
    liveRevision: live.revision,
    image: { from: liveImage(liveObjects), to: target.image },
    chart: { from: chartFrom, to: chartTo },
    values,
    objects,
    ...(same && !healthy
      ? { note: `the live release is ${live.status}, not deployed: a deploy releases it again` }
      : {}),
  };
}

/** The first line shown for a service: `unchanged`, `changes N objects` or `new install`. */
export function changeHeadline(change: ServiceChange): string {
  if (change.kind === 'unchanged') return 'unchanged';
  if (change.kind === 'new-install') return 'new install';
  const n = change.objects.length;
  return `changes ${n} object${n === 1 ? '' : 's'}`;
}
