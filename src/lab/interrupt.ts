/**
 * SIGINT/SIGTERM while a lab run is active. The first signal kills every lab container at once
 * (synchronously, so nothing keeps loading the host) and aborts the run, whose own cleanup then
 * finishes; afterwards the signal is re-raised so the process ends with 130/143. A second signal
 * exits immediately after the same synchronous cleanup.
 */
import { constants } from 'node:os';
import { closeAllRuns } from './lab-run.ts';

export class LabInterruptedError extends Error {
  override name = 'LabInterruptedError';
  constructor(readonly signal: NodeJS.Signals) {
    super(`lab run interrupted by ${signal}; its containers were stopped and removed`);
  }
}

export interface InterruptGuard {
  /** Aborted on the first signal, or when the caller's own signal aborts. */
  readonly signal: AbortSignal;
  /** The signal received, if any. */
  received(): NodeJS.Signals | null;
  /** Removes the handlers. */
  release(): void;
}

const handled: NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];

export function exitCodeOf(signal: NodeJS.Signals): number {
  return 128 + (constants.signals[signal] ?? 0);
}

export function guardInterrupts(outer?: AbortSignal): InterruptGuard {
  const controller = new AbortController();
  let got: NodeJS.Signals | null = null;
  const onSignal = (sig: NodeJS.Signals) => {
    closeAllRuns();
    if (got !== null) process.exit(exitCodeOf(sig));
    got = sig;
    controller.abort(new LabInterruptedError(sig));
  };
  const onOuterAbort = () => controller.abort(outer?.reason);
  for (const sig of handled) process.on(sig, onSignal);
  if (outer?.aborted) controller.abort(outer.reason);
  else outer?.addEventListener('abort', onOuterAbort, { once: true });
  return {
    signal: controller.signal,
    received: () => got,
    release() {
      for (const sig of handled) process.off(sig, onSignal);
      outer?.removeEventListener('abort', onOuterAbort);
    },
  };
}

/**
 * Ends the process the way the signal would have: by the signal itself when nobody else listens,
 * else with exit code 128 + signal number.
 */
export function reraise(signal: NodeJS.Signals): never {
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  process.exit(exitCodeOf(signal));
}
