// Issue 16, items 5, 6, 7, 9, 11, 12: run stores and output files against a local user (nobody)
// while crosstalk runs as root. A store or run directory someone else controls is refused (77);
// outputs are never written through a link, over a device or into someone else's file (73 without
// --force; a fresh 0600 file with it); an empty run reference names nothing; a full disk leaves no
// empty metadata.json; a --store that is a file is a clear error. No perf: folded input, the API.
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reportError } from '../src/cli/errors.ts';
import { exitCodeOf } from '../src/cli/record.ts';
import type { RunInfo } from '../src/collect/recorder.ts';
import { RunStore } from '../src/store/store.ts';
import { attackerDir, attackerShell, attackerUid, attackerUnavailable } from './support/attacker.ts';
import { runCli } from './support/cli.ts';

const skip = attackerUnavailable();
const FOLDED = 'app;main;work 5\napp;main;idle 2\n';

describe.skipIf(skip !== null)(
  `run store and outputs against a local user${skip ? ` (skipped: ${skip})` : ''}`,
  () => {
    let scratch = '';
    let input = '';
    let evil = '';
    beforeAll(() => {
      scratch = mkdtempSync(join(tmpdir(), 'crosstalk-i16-store-'));
      input = join(scratch, 'in.folded');
      writeFileSync(input, FOLDED);
      evil = attackerDir();
      attackerShell('chmod 0755 "$1"', evil);
    });
    afterAll(() => {
      rmSync(scratch, { recursive: true, force: true });
      if (evil) rmSync(evil, { recursive: true, force: true });
    });

    describe('item 5: stores someone else controls', () => {
      it('refuses a store directory the user owns: one line, exit 77, nothing written', async () => {
        const store = join(evil, 'store');
        attackerShell('mkdir -m 0777 "$1"', store);
        const r = await runCli(['runs', '--store', store]);
        expect(r.code).toBe(77);
        expect(r.stderr.trim().split('\n')).toHaveLength(1);
        expect(r.stderr).toMatch(/owned by uid \d+/);
        await expect(new RunStore(store).createRun()).rejects.toThrow(/refusing a run store/);
        expect(readdirSync(store)).toEqual([]);
      });

      it("refuses a --store reached through the user's symbolic link to a root directory", async () => {
        const target = join(scratch, 'root-owned');
        mkdirSync(target, { mode: 0o700 });
        const link = join(evil, 'link');
        attackerShell('ln -s "$1" "$2"', target, link);
        const r = await runCli(['runs', '--store', link]);
        expect(r.code).toBe(77);
        await expect(new RunStore(link).createRun()).rejects.toThrow(/owned by uid/);
        expect(readdirSync(target)).toEqual([]);
      });

      it('refuses a root-owned store that every user can write', async () => {
        const open = join(scratch, 'open-store');
        mkdirSync(open);
        spawnSync('chmod', ['0777', open]);
        const r = await runCli(['runs', '--store', open]);
        expect(r.code).toBe(77);
        expect(r.stderr).toMatch(/writable by every user/);
      });
    });

    describe('items 6 and 7: output files', () => {
      it('--html over a device node refuses (73) and leaves the device alone', async () => {
        const dev = join(scratch, 'full');
        expect(spawnSync('mknod', [dev, 'c', '1', '7']).status).toBe(0);
        const r = await runCli(['analyze', input, '--html', dev, '--force']);
        expect(r.code).toBe(73);
        expect(r.stderr).toMatch(/not a regular file/);
        expect(lstatSync(dev).isCharacterDevice()).toBe(true);
      });

      it("export -o through the user's link to a root file refuses (73), the file keeps its content", async () => {
        const secret = join(scratch, 'secret');
        writeFileSync(secret, 'root only', { mode: 0o600 });
        const link = join(evil, 'out.folded');
        attackerShell('ln -s "$1" "$2"', secret, link);
        for (const args of [[], ['--force']]) {
          const r = await runCli(['export', input, '--format', 'folded', '-o', link, ...args]);
          expect(r.code).toBe(73);
          expect(r.stderr).toMatch(/symbolic link/);
        }
        expect(readFileSync(secret, 'utf8')).toBe('root only');
      });

      it("export -o over the user's 0666 file: 73 without --force; with it a fresh root 0600 file they cannot read", async () => {
        const file = join(evil, 'mine.folded');
        attackerShell('echo old > "$1" && chmod 0666 "$1"', file);
        const r = await runCli(['export', input, '--format', 'folded', '-o', file]);
        expect(r.code).toBe(73);
        expect(r.stderr).toMatch(/already exists; .*--force/);
        expect(readFileSync(file, 'utf8')).toBe('old\n');
        const f = await runCli(['export', input, '--format', 'folded', '-o', file, '--force']);
        expect(f.code).toBe(0);
        const st = statSync(file);
        expect(st.mode & 0o777).toBe(0o600);
        expect(st.uid).toBe(0);
        expect(readFileSync(file, 'utf8')).toContain('main;work');
        expect(spawnSync('runuser', ['-u', 'nobody', '--', 'cat', file]).status).not.toBe(0);
      });

      it('a new export file is 0600 whatever the umask', async () => {
        const file = join(scratch, 'new.folded');
        const r = await runCli(['export', input, '--format', 'folded', '-o', file]);
        expect(r.code).toBe(0);
        expect(statSync(file).mode & 0o777).toBe(0o600);
      });
    });

    describe('low items 9, 11, 12', () => {
      it('item 9: an empty run reference names no run (delete and analyze)', async () => {
        const store = join(scratch, 'store9');
        const run = await new RunStore(store).createRun();
        const del = await runCli(['runs', 'delete', '--yes', '', '--store', store]);
        expect(del.code).not.toBe(0);
        expect(existsSync(run.dir)).toBe(true);
        const an = await runCli(['analyze', '', '--store', store]);
        expect(an.code).not.toBe(0);
        expect(an.code).not.toBe(70);
      });

      it('item 12: a --store that is a regular file is a clear error, not an internal one', async () => {
        const file = join(scratch, 'not-a-dir');
        writeFileSync(file, 'x');
        for (const args of [['runs'], ['runs', 'label', 'abc', 'lbl']]) {
          const r = await runCli([...args, '--store', file]);
          expect(r.code).not.toBe(70);
          expect(r.code).not.toBe(0);
          expect(r.stderr).toMatch(/not a directory/);
          expect(r.stderr.trim().split('\n')).toHaveLength(1);
        }
      });

      it('item 10: a FIFO as input is refused at once (it used to hang)', async () => {
        const fifo = join(scratch, 'profile.fifo');
        expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
        const r = await runCli(['analyze', fifo], { timeoutMs: 20_000 });
        expect(r.signal).toBeNull();
        expect(r.code).toBe(66);
        expect(r.stderr).toMatch(/is a FIFO, not a regular file/);
      });

      it('item 11: a full disk before metadata leaves no run with an empty metadata.json, and exits 73', async () => {
        const mnt = join(scratch, 'tiny');
        mkdirSync(mnt);
        if (spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mnt]).status !== 0) {
          console.warn('item 11 not exercised: cannot mount a tmpfs here');
          return;
        }
        try {
          const store = join(mnt, 'store');
          const rs = new RunStore(store);
          await rs.ensureRoot();
          spawnSync('sh', ['-c', `cat /dev/zero > ${join(mnt, 'fill')}`]);
          const err = await rs.createRun().catch((e: unknown) => e);
          expect((err as NodeJS.ErrnoException).code).toBe('ENOSPC');
          expect(readdirSync(store)).toEqual([]);
          expect(reportError(err)).toBe(73);
        } finally {
          spawnSync('umount', [mnt]);
        }
      });
    });
  },
);

it('item 14: README and code agree on Ctrl-C: one ends a recording (0, run kept), a second aborts (130)', () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8').replace(/\s+/g, ' ');
  expect(readme).toContain('one Ctrl-C during `record` or `doctor` only ends the recording early');
  const info = { status: 'complete', interrupted: true, incompleteReason: null } as unknown as RunInfo;
  expect(exitCodeOf(info)).toBe(0);
  const aborted = {
    status: 'incomplete',
    interrupted: true,
    incompleteReason: 'interrupted twice: aborted',
  } as unknown as RunInfo;
  expect(exitCodeOf(aborted)).toBe(130);
});

it('the attacker is a different user', () => {
  if (skip !== null) return;
  expect(attackerUid()).not.toBe(0);
});
