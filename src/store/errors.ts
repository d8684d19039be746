/** Errors of the run store; neutral messages, the CLI picks exit codes and adds advice. */

/** No run matches a reference (id, id prefix, label or path). */
export class RunNotFoundError extends Error {
  override name = 'RunNotFoundError';
  constructor(
    readonly ref: string,
    detail: string,
  ) {
    super(`no run matches "${ref}": ${detail}`);
  }
}

/** A reference matches more than one run (an id prefix shared by several runs). */
export class AmbiguousRunError extends Error {
  override name = 'AmbiguousRunError';
  constructor(
    readonly ref: string,
    readonly candidates: readonly string[],
  ) {
    const shown = candidates.slice(0, 5).join(', ') + (candidates.length > 5 ? ', ...' : '');
    super(`"${ref}" matches ${candidates.length} runs (${shown}); give more of the id`);
  }
}

/** Another process holds the store lock for longer than we wait. */
export class StoreLockedError extends Error {
  override name = 'StoreLockedError';
  constructor(
    readonly lockPath: string,
    readonly owner: number | undefined,
  ) {
    super(`run store is locked by ${owner === undefined ? 'another process' : `pid ${owner}`} (${lockPath})`);
  }
}

/** A request the store refuses: an invalid label, deleting a run that is still recording... */
export class StoreRefusedError extends Error {
  override name = 'StoreRefusedError';
}
