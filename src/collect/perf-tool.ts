/**
 * Finding perf and asking it what it is: the binary on PATH, its version, its build options.
 */
import { access, constants } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { spawnCommand } from './command-runner.ts';

/** The first executable `name` on env.PATH, or null. */
export async function findOnPath(name: string, env: NodeJS.ProcessEnv = process.env): Promise<string | null> {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not here.
    }
  }
  return null;
}

/** `perf version` prints `perf version 6.1.187`; returns `6.1.187`, or null when it will not run. */
export async function perfVersion(
  perfPath: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string | null> {
  const r = await spawnCommand(perfPath, ['version'], { timeoutMs: 10_000, env });
  if (r.kind !== 'exited' || r.code !== 0) return null;
  const m = /perf version (\S+)/.exec(r.stdout);
  return m ? m[1] : null;
}

/** [major, minor] of a version string like `6.1.187` or `5.10.0-rc1`. */
export function versionNumbers(version: string): [number, number] | null {
  const m = /^(\d+)\.(\d+)/.exec(version);
  return m ? [Number(m[1]), Number(m[2])] : null;
}

/** True when `perf version --build-options` shows the option on, false off, null unknown. */
export async function perfBuildOption(
  perfPath: string,
  option: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<boolean | null> {
  const r = await spawnCommand(perfPath, ['version', '--build-options'], { timeoutMs: 10_000, env });
  if (r.kind !== 'exited' || r.code !== 0) return null;
  // `   libdw-dwarf-unwind: [ on  ]  # HAVE_DWARF_SUPPORT`
  const m = new RegExp(`^\\s*${option.replace(/[-]/g, '\\-')}:\\s*\\[\\s*(on|OFF)\\s*\\]`, 'm').exec(
    r.stdout,
  );
  return m ? m[1] === 'on' : null;
}
