import type { Profile } from './profile.ts';

/** A finished profile broke an invariant: a bug in an importer, never the user's input. */
export class ProfileIntegrityError extends Error {
  override name = 'ProfileIntegrityError';
}

/** Checks the invariants analysis relies on: no dangling index, parents before children. */
export interface ValidateOptions {
  /** A diff profile holds the baseline's samples with negative weights. Default false. */
  allowNegativeWeights?: boolean;
}

export function validateProfile(p: Profile, opts: ValidateOptions = {}): void {
  const nStrings = p.strings.length;
  const { frames, stacks, samples } = p;
  const fail = (what: string, i: number): never => {
    throw new ProfileIntegrityError(`profile integrity: ${what} at index ${i}`);
  };
  for (let i = 0; i < frames.length; i++) {
    if (frames.name[i] < 0 || frames.name[i] >= nStrings) fail('frame name out of range', i);
    if (frames.module[i] < 0 || frames.module[i] >= nStrings) fail('frame module out of range', i);
    if (frames.kind[i] > 3) fail('frame kind out of range', i);
    if (frames.address[i] < -1 || frames.address[i] >= nStrings) fail('frame address out of range', i);
  }
  for (let i = 0; i < stacks.length; i++) {
    const pre = stacks.prefix[i];
    if (pre < -1 || pre >= i) fail('stack prefix not before its child', i);
    if (stacks.frame[i] < 0 || stacks.frame[i] >= frames.length) fail('stack frame out of range', i);
    if (stacks.depth[i] !== (pre === -1 ? 0 : stacks.depth[pre] + 1)) fail('stack depth inconsistent', i);
  }
  for (let i = 0; i < samples.length; i++) {
    const s = samples.stack[i];
    if (s < -1 || s >= stacks.length) fail('sample stack out of range', i);
    if (samples.comm[i] < 0 || samples.comm[i] >= nStrings) fail('sample comm out of range', i);
    if (samples.cgroup[i] < 0 || samples.cgroup[i] >= nStrings) fail('sample cgroup out of range', i);
    if (samples.host[i] < 0 || samples.host[i] >= nStrings) fail('sample host out of range', i);
    const w = samples.weight[i];
    if (Number.isNaN(w) || (w < 0 && !opts.allowNegativeWeights)) fail('sample weight negative or NaN', i);
  }
  const sw = p.switches;
  if (sw) {
    for (let i = 0; i < sw.length; i++) {
      if (sw.stack[i] < -1 || sw.stack[i] >= stacks.length) fail('switch stack out of range', i);
      if (sw.comm[i] < 0 || sw.comm[i] >= nStrings) fail('switch comm out of range', i);
      if (sw.cgroup[i] < 0 || sw.cgroup[i] >= nStrings) fail('switch cgroup out of range', i);
      if (sw.host[i] < 0 || sw.host[i] >= nStrings) fail('switch host out of range', i);
    }
  }
}
