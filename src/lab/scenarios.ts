/** The lab's scenarios, in the order `lab list` shows them. */
import type { ScenarioDefinition } from './scenario.ts';
import { connectionChurn } from './scenario-connection-churn.ts';
import { cpuHog } from './scenario-cpu-hog.ts';
import { negativeDentries } from './scenario-dentries.ts';
import { fadviseLogger } from './scenario-fadvise.ts';
import { fsyncStorm } from './scenario-fsync.ts';

const all: readonly ScenarioDefinition[] = [
  fadviseLogger,
  negativeDentries,
  fsyncStorm,
  connectionChurn,
  cpuHog,
];

export interface ScenarioInfo {
  name: string;
  title: string;
  summary: string;
  defaults: ScenarioDefinition['defaults'];
  minContainers: number;
}

export function listScenarios(): ScenarioInfo[] {
  return all.map((s) => ({
    name: s.name,
    title: s.title,
    summary: s.summary,
    defaults: { ...s.defaults },
    minContainers: s.minContainers,
  }));
}

export function findScenario(name: string): ScenarioDefinition | undefined {
  return all.find((s) => s.name === name);
}
