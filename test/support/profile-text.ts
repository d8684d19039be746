/**
 * Builds a Profile from short text, one stack per line, root first:
 *
 *   [/cgroup/path] comm[:pid] frame;frame;frame WEIGHT
 *
 * A frame is `name`, `name@module` (user code in that module), `name_[k]` (kernel) or
 * `name@module_[i]` (inlined). Used by analysis tests instead of binary fixtures.
 */
import { ProfileBuilder } from '../../src/model/builder.ts';
import { type CallGraphMode, FrameKind, type Profile } from '../../src/model/profile.ts';

export function profileFromText(
  text: string,
  callGraph: CallGraphMode = 'dwarf',
  hasCgroups = true,
): Profile {
  const b = new ProfileBuilder('test', 'perf-script');
  b.meta.callGraph = callGraph;
  b.meta.hasCgroups = hasCgroups;
  b.meta.event = 'cpu-clock:ppp';
  let n = 0;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(?:(\/\S*)\s+)?(\S+?)(?::(-?\d+))?\s+(.*?)\s*(\d+)$/.exec(line);
    if (!m) throw new Error(`bad profile text line: ${line}`);
    const [, cgroup = '', comm, pid = '100', stackText, weight] = m;
    let stack = -1;
    for (const spec of stackText === '' ? [] : stackText.split(';')) {
      stack = b.stack(stack, frameOf(b, spec));
    }
    b.addSample({
      stack,
      time: n++ * 0.001,
      weight: Number(weight),
      pid: Number(pid),
      tid: Number(pid),
      cpu: 0,
      comm: b.strings.intern(comm),
      cgroup: b.strings.intern(cgroup),
    });
  }
  b.meta.events = [{ name: 'cpu-clock:ppp', samples: n }];
  return b.finish();
}

/** The frame of one spec (`name`, `name@module`, `name_[k]`, `name@module_[i]`). */
export function frameOf(b: ProfileBuilder, spec: string): number {
  if (spec.endsWith('_[k]'))
    return b.frame(spec.slice(0, -4), '[kernel.kallsyms]', FrameKind.kernel, false, null);
  const inlined = spec.endsWith('_[i]');
  const s = inlined ? spec.slice(0, -4) : spec;
  const at = s.lastIndexOf('@');
  const name = at === -1 ? s : s.slice(0, at);
  const module = at === -1 ? '/usr/bin/app' : s.slice(at + 1);
  const kind = name === '[unknown]' && module === '[unknown]' ? FrameKind.unknown : FrameKind.user;
  return b.frame(name, module, kind, inlined, null);
}
