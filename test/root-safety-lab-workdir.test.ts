// Issue 16, item 2: the lab's work root. It used to be /var/tmp/crosstalk-lab, a fixed name in a
// world-writable directory: a local user pre-created it 0777, swapped a run's directory for a
// link, and root deleted and wrote where the link pointed. Now the work root is root's own, run
// directories have mkdtemp names, and removal never follows a link. No cgroups are created: the
// refusal comes before anything else, the rest works on directories.
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createWorkDir, defaultWorkRoot, openRun } from '../src/lab/lab-run.ts';
import { sweepStaleRuns } from '../src/lab/run-state.ts';
import { removeTreeNoFollow } from '../src/safety/safe-remove.ts';
import { untrustedReason } from '../src/safety/trusted-path.ts';
import { attackerDir, attackerShell, attackerUnavailable } from './support/attacker.ts';

const skip = attackerUnavailable();
const scratch = mkdtempSync(join(tmpdir(), 'crosstalk-i16-work-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe.skipIf(skip !== null)(
  `lab work root against a local user${skip ? ` (skipped: ${skip})` : ''}`,
  () => {
    it('the default work root lies in a path only root can write', () => {
      expect(defaultWorkRoot.startsWith('/var/tmp/')).toBe(false);
      expect(defaultWorkRoot.startsWith('/tmp/')).toBe(false);
      expect(untrustedReason(dirname(defaultWorkRoot))).toBeNull();
    });

    it('refuses a work root the user pre-created world-writable, before taking the lock or making cgroups', async () => {
      const evil = attackerDir();
      attackerShell('chmod 0777 "$1"', evil);
      const cgroupRoot = join(scratch, 'cgroups');
      const stateDir = join(scratch, 'state');
      try {
        await expect(openRun({ scenario: 'x', cgroupRoot, workRoot: evil, stateDir })).rejects.toThrow(
          /owned by uid \d+|writable by every user/,
        );
        expect(existsSync(stateDir)).toBe(false);
        expect(existsSync(cgroupRoot)).toBe(false);
        expect(readdirSync(evil)).toEqual([]);
      } finally {
        rmSync(evil, { recursive: true, force: true });
      }
    });

    it('run directories get unpredictable 0700 names in a private root', () => {
      const root = join(scratch, 'private');
      const a = createWorkDir(root, 'run-1-2-ab');
      const b = createWorkDir(root, 'run-1-2-ab');
      expect(a).not.toBe(b);
      expect(a).toMatch(/\/run-1-2-ab\.[A-Za-z0-9]{6}$/);
      expect(statSync(a).mode & 0o777).toBe(0o700);
      expect(statSync(root).mode & 0o077).toBe(0);
    });

    it('removal and the stale-run sweep unlink a planted link and never touch its target', () => {
      // The victim: a directory of root's the attacker wants deleted.
      const victim = join(scratch, 'victim');
      mkdirSync(victim);
      writeFileSync(join(victim, 'precious'), 'keep');
      const link = join(scratch, 'link-run');
      symlinkSync(victim, link);
      removeTreeNoFollow(link);
      expect(existsSync(link)).toBe(false);
      expect(existsSync(join(victim, 'precious'))).toBe(true);

      // A dead run's work directory replaced by a link, inside a work root (as before the fix).
      const root = join(scratch, 'sweep');
      const work = join(root, 'work');
      mkdirSync(work, { recursive: true });
      mkdirSync(join(root, 'cg'));
      mkdirSync(join(root, 'st'));
      const dead = 'run-999999-1-aa';
      symlinkSync(victim, join(work, `${dead}.AbC123`));
      sweepStaleRuns(join(root, 'cg'), work, join(root, 'st'));
      expect(readdirSync(work)).toEqual([]);
      expect(existsSync(join(victim, 'precious'))).toBe(true);
    });

    it('refuses to remove a directory another user owns', () => {
      const evil = attackerDir();
      try {
        expect(() => removeTreeNoFollow(evil)).toThrow(/owned by uid/);
        expect(existsSync(evil)).toBe(true);
      } finally {
        rmSync(evil, { recursive: true, force: true });
      }
    });
  },
);
