import { inputError } from '../errors.js';
import type { DeployConfig, DeployRequest, Plan, PlannedService, ServiceSpec } from '../model.js';

import { DNS1123_LABEL } from './names.js';

function select(config: DeployConfig, wanted: string[]): ServiceSpec[] {
  if (wanted.length === 0) return config.services;
  const known = new Map(config.services.map((s) => [s.name, s]));
  const invalid = wanted.filter((n) => !DNS1123_LABEL.test(n) || n.length > 53);
  if (invalid.length) {
    throw inputError(`not a valid service name: ${invalid.map((n) => JSON.stringify(n)).join(', ')}`, {
      where: { key: 'services' },
      hint: 'service names are DNS-1123 labels (lower-case letters, digits, "-"), as in the deploy file',
    });
  }
  const unknown = wanted.filter((n) => !known.has(n));
  if (unknown.length) {
    throw inputError(`unknown service: ${unknown.join(', ')}`, {
      where: { file: config.file, key: 'services' },
      hint: `choose from: ${[...known.keys()].join(', ')}`,
    });
  }
  return [...new Set(wanted)].map((n) => known.get(n)!);
}

/**
 * Groups services into waves: a service runs once everything it depends on (within
 * this run) has been released. Dependencies on services outside the selection are
 * already running and impose no order.
 */
export function waves(services: ServiceSpec[], file?: string): string[][] {
  const inRun = new Set(services.map((s) => s.name));
  const pending = new Map(services.map((s) => [s.name, s.dependsOn.filter((d) => inRun.has(d))]));
  const done = new Set<string>();
  const result: string[][] = [];
  while (pending.size) {
    const wave = [...pending].filter(([, deps]) => deps.every((d) => done.has(d))).map(([n]) => n);
    if (wave.length === 0) {
      throw inputError(`dependsOn forms a cycle between: ${[...pending.keys()].join(', ')}`, {
        where: { file, key: 'services.*.dependsOn' },
        hint: 'remove one of the dependsOn entries so the services can be ordered',
      });
    }
    for (const n of wave) {
      pending.delete(n);
      done.add(n);
    }
    result.push(wave);
  }
  return result;
}

export function makePlan(request: DeployRequest, config: DeployConfig): Plan {
  const environmentValues = config.environments[request.environment];
  if (!environmentValues) {
    throw inputError(`unknown environment "${request.environment}"`, {
      where: { file: config.file, key: 'environments' },
      hint: `choose from: ${Object.keys(config.environments).join(', ') || '(the deploy file defines none)'}`,
    });
  }
  const selected = select(config, request.services);
  const order = waves(selected, config.file);
  const byName = new Map(selected.map((s) => [s.name, s]));
  const services: PlannedService[] = order.flat().map((n) => ({ ...byName.get(n)!, tag: request.imageTag }));
  return {
    request,
    config,
    namespace: request.namespace ?? config.environmentNamespaces[request.environment] ?? config.namespace,
    environmentValues,
    services,
    waves: order,
  };
}
