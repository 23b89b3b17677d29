/**
 * The values helm stores for a release (what `helm get values` shows), computed without a
 * cluster: the values files deep-merged in order, then each `--set` path. This is how helm
 * merges user values (maps merge key by key, anything else is replaced by the later one).
 */
import { readFile } from 'node:fs/promises';
import * as yaml from 'js-yaml';

type Values = Record<string, unknown>;

/**
 * YAML as helm reads values (go-yaml v2 through sigs.k8s.io/yaml): YAML 1.1 scalars, so `on`/`yes`
 * are booleans and `0777` is octal, merge keys work, and timestamps stay strings.
 */
const HELM_YAML = yaml.CORE_SCHEMA.withTags(
  yaml.nullYaml11Tag,
  yaml.boolYaml11Tag,
  yaml.intYaml11Tag,
  yaml.floatYaml11Tag,
  yaml.mergeTag,
);

const isMap = (v: unknown): v is Values => !!v && typeof v === 'object' && !Array.isArray(v);

function merge(base: Values, over: Values): Values {
  const out: Values = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = isMap(v) && isMap(out[k]) ? merge(out[k], v) : v;
  return out;
}

/** `a.b.c=value` as helm's --set does it for the plain keys this tool sets (no escapes, no list indexes). */
function setPath(values: Values, path: string, value: string): Values {
  const keys = path.split('.');
  const nested = keys.reduceRight<unknown>((inner, key) => ({ [key]: inner }), value) as Values;
  return merge(values, nested);
}

/** A values file, read and parsed; a reader shared by a run's services parses each file once. */
export type ValuesReader = (file: string) => Promise<unknown>;

const readValuesFile: ValuesReader = async (file) =>
  yaml.load(await readFile(file, 'utf8'), { schema: HELM_YAML });

/** Remembers each file's parse; safe to share since `merge` never changes what it is given. */
export function valuesReader(): ValuesReader {
  const parsed = new Map<string, Promise<unknown>>();
  return (file) => parsed.get(file) ?? parsed.set(file, readValuesFile(file)).get(file)!;
}

export async function userValues(
  valuesFiles: string[],
  sets: Record<string, string>,
  read: ValuesReader = readValuesFile,
): Promise<Values> {
  let values: Values = {};
  for (const file of valuesFiles) {
    const doc = await read(file);
    if (isMap(doc)) values = merge(values, doc);
  }
  for (const [path, value] of Object.entries(sets)) values = setPath(values, path, value);
  return values;
}
