// The run store on a real temporary directory: ids, modes, atomic metadata, references, labels,
// deletion, the lock, and several processes creating runs at once.
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeFileAtomic, writeFileExclusive } from '../src/safety/atomic-file.ts';
import {
  AmbiguousRunError,
  RunNotFoundError,
  StoreLockedError,
  StoreRefusedError,
} from '../src/store/errors.ts';
import { LOCK_NAME, withStoreLock } from '../src/store/lock.ts';
import { METADATA_FILE, parseRunMetadata } from '../src/store/metadata.ts';
import { RUN_ID, RunStore, storeLocation } from '../src/store/store.ts';

let root: string;
let store: RunStore;

beforeEach(async () => {
  root = join(await mkdtemp(join(tmpdir(), 'crosstalk-store-')), 'runs');
  store = new RunStore(root);
});
afterEach(async () => {
  await rm(join(root, '..'), { recursive: true, force: true });
});

/** Marks a run complete, as the recorder does at the end. */
async function complete(dir: string, interrupted = false) {
  return store.updateMetadata(dir, (m) => ({
    ...m,
    status: 'complete',
    recording: { interrupted } as never,
  }));
}

describe('store location', () => {
  it('prefers --store, then CROSSTALK_STORE, then XDG_DATA_HOME, then ~/.local/share', () => {
    const env = { HOME: '/home/u', XDG_DATA_HOME: '/xdg', CROSSTALK_STORE: '/env/store' };
    expect(storeLocation('/flag', env)).toEqual({ root: '/flag', source: 'flag' });
    expect(storeLocation(undefined, env)).toEqual({ root: '/env/store', source: 'env' });
    expect(storeLocation(undefined, { HOME: '/home/u', XDG_DATA_HOME: '/xdg' }).root).toBe(
      '/xdg/crosstalk/runs',
    );
    // A relative XDG_DATA_HOME is invalid per the spec and ignored.
    expect(storeLocation(undefined, { HOME: '/home/u', XDG_DATA_HOME: 'rel' }).root).toBe(
      '/home/u/.local/share/crosstalk/runs',
    );
  });
});

describe('creating runs', () => {
  it('makes owner-only directories and files with sortable unique ids', async () => {
    const now = new Date('2026-11-26T04:15:00Z');
    const a = await store.createRun(now);
    const b = await store.createRun(now, ['healthy']);
    expect(a.id).toMatch(RUN_ID);
    expect(a.id.startsWith('20261126-041500-')).toBe(true);
    expect(a.id).not.toBe(b.id);
    expect((await stat(root)).mode & 0o777).toBe(0o700);
    expect((await stat(a.dir)).mode & 0o777).toBe(0o700);
    expect((await stat(join(a.dir, METADATA_FILE))).mode & 0o777).toBe(0o600);
    const m = parseRunMetadata(await readFile(join(b.dir, METADATA_FILE), 'utf8'), 'x');
    expect(m).toMatchObject({ id: b.id, status: 'recording', labels: ['healthy'], recorderPid: process.pid });
  });

  it('refuses an invalid label and never overwrites a file', async () => {
    await expect(store.createRun(new Date(), ['20261126-x'])).rejects.toBeInstanceOf(StoreRefusedError);
    const run = await store.createRun();
    await expect(writeFileExclusive(join(run.dir, METADATA_FILE), '{}')).rejects.toMatchObject({
      code: 'EEXIST',
    });
    expect(parseRunMetadata(await readFile(join(run.dir, METADATA_FILE), 'utf8'), 'x').id).toBe(run.id);
  });

  it('replaces metadata atomically, leaving no temporary file', async () => {
    const run = await store.createRun();
    await complete(run.dir);
    await writeFileAtomic(join(run.dir, 'x.json'), 'one');
    await writeFileAtomic(join(run.dir, 'x.json'), 'two');
    expect(await readFile(join(run.dir, 'x.json'), 'utf8')).toBe('two');
    expect((await stat(join(run.dir, 'x.json'))).mode & 0o777).toBe(0o600);
    expect((await readdir(run.dir)).sort()).toEqual([METADATA_FILE, 'x.json']);
    // A failed write (the target is a directory) leaves the old state and no temporary file.
    await expect(writeFileAtomic(run.dir, 'x')).rejects.toThrow();
    expect((await readdir(run.dir)).sort()).toEqual([METADATA_FILE, 'x.json']);
  });

  it('a process that exits mid-write (a second Ctrl-C) leaves no temporary file', async () => {
    const run = await store.createRun();
    const url = new URL('../src/safety/atomic-file.ts', import.meta.url).href;
    // Exits as soon as the temporary file exists, while 64 MiB are still being written to it.
    const script = `const { readdirSync } = await import('node:fs');
      const { writeFileAtomic } = await import(${JSON.stringify(url)});
      const dir = process.argv[1];
      writeFileAtomic(dir + '/big.json', new Uint8Array(64 << 20));
      const t = setInterval(() => {
        if (readdirSync(dir).some((f) => f.startsWith('.big.json.tmp-'))) process.exit(143);
      }, 1);
      setTimeout(() => { clearInterval(t); process.exit(3); }, 20000);`;
    const code = await new Promise<number | null>((resolve) => {
      const p = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, run.dir], {
        cwd: fileURLToPath(new URL('..', import.meta.url)),
        stdio: 'inherit',
      });
      p.on('close', resolve);
    });
    expect(code).toBe(143);
    expect(await readdir(run.dir)).toEqual([METADATA_FILE]);
  }, 60_000);

  it('creates unique runs from several processes at once', async () => {
    const url = new URL('../src/store/store.ts', import.meta.url).href;
    const script = `const { RunStore } = await import(${JSON.stringify(url)});
      const s = new RunStore(process.argv[1]);
      for (let i = 0; i < 15; i++) { const r = await s.createRun(); await s.addLabel(r.id, 'batch'); }`;
    const run = () =>
      new Promise<number | null>((resolve) => {
        const p = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, root], {
          cwd: fileURLToPath(new URL('..', import.meta.url)),
          stdio: 'inherit',
        });
        p.on('close', resolve);
      });
    expect(await Promise.all([run(), run(), run()])).toEqual([0, 0, 0]);
    const runs = await store.listRuns();
    expect(runs).toHaveLength(45);
    expect(new Set(runs.map((r) => r.id)).size).toBe(45);
    expect(runs.every((r) => r.labels.join() === 'batch')).toBe(true);
    expect(await readdir(root)).not.toContain(LOCK_NAME);
  }, 60_000);
});

describe('resolving runs', () => {
  it('by id, unique prefix, label (newest whole run) and path', async () => {
    const a = await store.createRun(new Date('2026-01-01T00:00:00Z'), ['healthy']);
    const b = await store.createRun(new Date('2026-01-02T00:00:00Z'), ['healthy']);
    const c = await store.createRun(new Date('2026-01-03T00:00:00Z'), ['healthy']);
    await complete(a.dir);
    await complete(b.dir, true);
    // c is still 'recording' (this process is alive): not a whole run, so the label skips it.
    expect((await store.resolveRun(a.id)).id).toBe(a.id);
    expect((await store.resolveRun(c.id.slice(0, 10))).id).toBe(c.id);
    expect((await store.resolveRun('healthy')).id).toBe(b.id);
    expect((await store.resolveRun('healthy')).state).toBe('interrupted');
    expect((await store.resolveRun(`${a.dir}/`)).id).toBe(a.id);
    await expect(store.resolveRun('2026010')).rejects.toBeInstanceOf(AmbiguousRunError);
    await expect(store.resolveRun('nosuch')).rejects.toBeInstanceOf(RunNotFoundError);
    await expect(store.resolveRun('./not/a/run')).rejects.toBeInstanceOf(RunNotFoundError);
  });

  it('refuses a label carried only by runs that are not whole', async () => {
    const a = await store.createRun(new Date(), ['broken']);
    await store.updateMetadata(a.dir, (m) => ({ ...m, status: 'incomplete' }));
    await expect(store.resolveRun('broken')).rejects.toThrow(/not whole recordings/);
  });

  it('reports a run whose recorder died as abandoned, and unreadable metadata as unreadable', async () => {
    const a = await store.createRun();
    await store.updateMetadata(a.dir, (m) => ({ ...m, recorderPid: 2 ** 22 + 1 }));
    const b = await store.createRun();
    await writeFile(join(b.dir, METADATA_FILE), 'not json');
    const states = Object.fromEntries((await store.listRuns()).map((r) => [r.id, r.state]));
    expect(states).toEqual({ [a.id]: 'abandoned', [b.id]: 'unreadable' });
  });
});

describe('labels and deletion', () => {
  it('adds and removes labels; deletes only what it is asked to', async () => {
    const a = await store.createRun();
    const b = await store.createRun();
    await complete(a.dir);
    await complete(b.dir);
    expect((await store.addLabel(a.id, 'healthy')).labels).toEqual(['healthy']);
    expect((await store.addLabel(a.id, 'healthy')).labels).toEqual(['healthy']);
    await expect(store.addLabel(a.id, 'no/slash')).rejects.toBeInstanceOf(StoreRefusedError);
    expect((await store.removeLabel('healthy', 'healthy')).labels).toEqual([]);
    await store.deleteRun(await store.resolveRun(a.id));
    expect((await store.listRuns()).map((r) => r.id)).toEqual([b.id]);
  });

  it('refuses to delete a run that is still being recorded', async () => {
    const a = await store.createRun();
    await expect(store.deleteRun(await store.resolveRun(a.id))).rejects.toThrow(/still being recorded/);
    expect((await store.listRuns()).map((r) => r.id)).toEqual([a.id]);
  });
});

describe('store lock', () => {
  it('takes over a lock whose owner is dead', async () => {
    await store.ensureRoot();
    await writeFile(join(root, LOCK_NAME), `${2 ** 22 + 1}\n`);
    expect(await withStoreLock(root, async () => 'ran')).toBe('ran');
    expect(await readdir(root)).not.toContain(LOCK_NAME);
  });

  it('waits for a live owner, then gives up with its pid', async () => {
    await store.ensureRoot();
    const sleeper = spawn('sleep', ['30']);
    try {
      await writeFile(join(root, LOCK_NAME), `${sleeper.pid}\n`);
      const t0 = Date.now();
      const err = await withStoreLock(root, async () => 'ran', { timeoutMs: 300 }).catch((e) => e);
      expect(err).toBeInstanceOf(StoreLockedError);
      expect((err as StoreLockedError).owner).toBe(sleeper.pid);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(300);
    } finally {
      sleeper.kill();
    }
  });
});
