/**
 * `crosstalk runs`: list, show, label and delete recorded runs. Runs are named by id, unique id
 * prefix, label (the newest whole run carrying it) or a path containing `/`. Deleting asks for
 * confirmation on a terminal and needs --yes otherwise; nothing else removes a run.
 */
import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import { jsonText } from '../report/json.ts';
import { type RunStore, type RunSummary, RunStore as Store, storeLocation } from '../store/store.ts';
import { CliError, oneLine, storeErrorToCli } from './errors.ts';
import { ExitCode } from './exit-codes.ts';

interface StoreFlag {
  store?: string;
}

const STORE_OPTION = [
  '--store <dir>',
  'run store directory (default: $CROSSTALK_STORE, else $XDG_DATA_HOME/crosstalk/runs)',
] as const;

export function registerRuns(program: Command): void {
  const runs = program.command('runs').description('list, show, label and delete recorded runs');
  runs
    .command('list', { isDefault: true })
    .description('list runs, oldest first')
    .option(...STORE_OPTION)
    .option('--json', 'print JSON')
    .action((flags: StoreFlag & { json?: boolean }) =>
      withStore(flags, (store) => listCommand(store, flags.json === true)),
    );
  runs
    .command('show')
    .description("print a run's metadata")
    .argument('<run>', 'id, id prefix, label or path')
    .option(...STORE_OPTION)
    .action((ref: string, flags: StoreFlag) => withStore(flags, (store) => showCommand(store, ref)));
  runs
    .command('path')
    .description("print a run's directory (for scripts: crosstalk analyze $(crosstalk runs path healthy))")
    .argument('<run>', 'id, id prefix, label or path')
    .option(...STORE_OPTION)
    .action((ref: string, flags: StoreFlag) =>
      withStore(flags, async (store) => {
        process.stdout.write(`${(await store.resolveRun(ref)).dir}\n`);
      }),
    );
  registerLabel(runs);
  registerDelete(runs);
}

function registerLabel(runs: Command): void {
  runs
    .command('label')
    .description('add a label to a run (e.g. healthy), or remove it with --remove')
    .argument('<run>', 'id, id prefix, label or path')
    .argument('<name>', 'label: letters, digits, . _ -, starting with a letter')
    .option('--remove', 'remove the label instead')
    .option(...STORE_OPTION)
    .action((ref: string, name: string, flags: StoreFlag & { remove?: boolean }) =>
      withStore(flags, async (store) => {
        const m = flags.remove ? await store.removeLabel(ref, name) : await store.addLabel(ref, name);
        process.stdout.write(`run ${m.id}: labels ${m.labels.length ? m.labels.join(', ') : '(none)'}\n`);
      }),
    );
}

function registerDelete(runs: Command): void {
  runs
    .command('delete')
    .description('delete a run and its files (asks first; --yes for scripts)')
    .argument('<run>', 'id, id prefix, label or path')
    .option('--yes', 'do not ask for confirmation')
    .option(...STORE_OPTION)
    .action((ref: string, flags: StoreFlag & { yes?: boolean }) =>
      withStore(flags, async (store) => {
        const run = await store.resolveRun(ref);
        if (!flags.yes && !(await confirm(`delete run ${describe(run)}? [y/N] `))) {
          throw new CliError(
            `run ${run.id} not deleted${process.stdin.isTTY ? '' : ' (not a terminal: pass --yes to delete)'}`,
            ExitCode.usage,
          );
        }
        await store.deleteRun(run);
        process.stdout.write(`deleted run ${run.id}\n`);
      }),
    );
}

async function withStore(flags: StoreFlag, fn: (store: RunStore) => Promise<void>): Promise<void> {
  try {
    await fn(new Store(storeLocation(flags.store).root));
  } catch (e) {
    throw storeErrorToCli(e);
  }
}

async function confirm(question: string): Promise<boolean> {
  if (!process.stdin.isTTY) return false;
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

function describe(run: RunSummary): string {
  const labels = run.labels.length ? ` [${run.labels.join(', ')}]` : '';
  return `${run.id}${labels} (${run.state}, ${mib(run.bytes)} MiB)`;
}

const mib = (bytes: number): string => (bytes / 1024 / 1024).toFixed(1);

/** One row of `runs list` / `runs --json`. */
export function runRow(run: RunSummary) {
  const r = run.metadata?.recording ?? null;
  return {
    id: run.id,
    state: run.state,
    labels: run.labels,
    createdAt: run.metadata?.createdAt ?? null,
    seconds: r?.window?.actualSeconds ?? null,
    callGraph: r?.options?.callGraph ?? null,
    frequency: r?.options?.frequency ?? null,
    bytes: run.bytes,
    dir: run.dir,
    problem: r?.incompleteReason ?? run.metadata?.failure ?? run.problem ?? null,
  };
}

async function listCommand(store: RunStore, json: boolean): Promise<void> {
  const rows = (await store.listRuns()).map(runRow);
  if (json) {
    process.stdout.write(jsonText(rows));
    return;
  }
  if (rows.length === 0) {
    process.stdout.write(`no runs in ${store.root} (record one with: crosstalk record)\n`);
    return;
  }
  process.stdout.write(
    `${'ID'.padEnd(21)} ${'STATE'.padEnd(11)} ${'SECONDS'.padStart(7)} MODE  ${'MIB'.padStart(7)}  LABELS\n`,
  );
  for (const r of rows) {
    const seconds = r.seconds === null ? '-' : r.seconds.toFixed(1);
    const line = `${r.id.padEnd(21)} ${r.state.padEnd(11)} ${seconds.padStart(7)} ${(r.callGraph ?? '-').padEnd(5)} ${mib(r.bytes).padStart(7)}  ${r.labels.join(',')}`;
    process.stdout.write(`${oneLine(line)}${r.problem ? `  (${oneLine(r.problem)})` : ''}\n`);
  }
}

async function showCommand(store: RunStore, ref: string): Promise<void> {
  const run = await store.resolveRun(ref);
  process.stdout.write(jsonText({ ...runRow(run), metadata: run.metadata }));
}
