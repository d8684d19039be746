/** Number formatting shared by the report's sections. */

export function percent(x: number, digits = 1): string {
  if (x > 0 && x < 0.0005) return '<0.1%';
  return `${(100 * x).toFixed(digits)}%`;
}

/** A signed change in percentage points: "+1.2 pts". */
export function points(delta: number): string {
  const v = (100 * delta).toFixed(2);
  return `${delta >= 0 ? '+' : ''}${v} pts`;
}

export function thousands(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** A weight as time when the unit is ns, else as a count. */
export function weightText(w: number, unit: 'ns' | 'events'): string {
  if (unit === 'events') return `${thousands(w)} events`;
  const s = w / 1e9;
  if (s >= 1) return `${s.toFixed(2)} s CPU`;
  return `${(s * 1000).toFixed(1)} ms CPU`;
}

export function microseconds(us: number): string {
  if (us >= 1000) return `${(us / 1000).toFixed(2)} ms`;
  return `${us.toFixed(0)} µs`;
}

/** Long kernel paths keep the entry and the last frames, where the time is. */
export function shortPath(frames: string[], keep = 5): string {
  if (frames.length === 0) return '(sampled in the entry code itself)';
  if (frames.length <= keep + 2) return frames.join(' › ');
  return `${frames.slice(0, 2).join(' › ')} › … › ${frames.slice(-keep).join(' › ')}`;
}

export function basename(p: string): string {
  const i = p.lastIndexOf('/');
  return i === -1 ? p : p.slice(i + 1);
}
