/**
 * What a sample's weight measures. perf gives cpu-clock and task-clock samples a period in
 * nanoseconds of CPU time, in every spelling perf prints or records the event
 * (`cpu-clock`, `cpu-clock:pppH`, `cpu-clock/freq=99/`, `task-clock:u`); crosstalk's off-CPU
 * profiles weigh waits in nanoseconds too. Every other event (cycles, page-faults, tracepoints)
 * counts occurrences.
 */
export type WeightUnit = 'ns' | 'events';

export function weightUnitOf(event: string): WeightUnit {
  return /^(?:cpu-clock|task-clock|off-cpu)(?::|\/|$| )/.test(event) ? 'ns' : 'events';
}
