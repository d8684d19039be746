// The unprivileged local user of the root-safety tests: `nobody` (created when missing), acting
// through runuser, against a crosstalk that runs as root (the test process).
import { execFileSync, spawnSync } from 'node:child_process';

export const attackerName = 'nobody';

/** Why the attacker tests cannot run here, or null. They need root to act as another user. */
export function attackerUnavailable(): string | null {
  if (process.geteuid?.() !== 0) return 'needs root (to act as the unprivileged user nobody via runuser)';
  if (spawnSync('id', ['-u', attackerName]).status !== 0) {
    const made = spawnSync('useradd', ['-M', '-r', '-s', '/usr/sbin/nologin', attackerName]);
    if (made.status !== 0) return `no user ${attackerName} and useradd failed: ${made.stderr}`;
  }
  if (spawnSync('runuser', ['-u', attackerName, '--', 'true']).status !== 0) return 'runuser is not usable';
  return null;
}

export function attackerUid(): number {
  return Number(execFileSync('id', ['-u', attackerName], { encoding: 'utf8' }).trim());
}

/** Runs a command as the attacker; throws when it fails. */
export function asAttacker(cmd: string, args: string[]): string {
  return execFileSync('runuser', ['-u', attackerName, '--', cmd, ...args], { encoding: 'utf8' });
}

/** Runs a shell snippet as the attacker (arguments as $1...). */
export function attackerShell(script: string, ...args: string[]): string {
  return asAttacker('sh', ['-c', script, 'attacker', ...args]);
}

/** A fresh directory owned by the attacker under /tmp. */
export function attackerDir(): string {
  return asAttacker('mktemp', ['-d', '/tmp/crosstalk-attacker.XXXXXX']).trim();
}
