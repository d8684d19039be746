/**
 * The events log: one JSON line per event (src/report/watch-event-schema.ts), appended to a file
 * (rotated to `.1` past maxBytes, so it stays bounded) and, with `--events -`, written to stdout.
 * A write that fails (full disk) is reported once through `onError` and the event still goes to
 * stdout; watch keeps running.
 */
import { appendFile, rename, stat } from 'node:fs/promises';
import {
  WATCH_EVENT_SCHEMA_VERSION,
  type WatchEvent,
  type WatchEventBody,
} from '../report/watch-event-schema.ts';
import { FILE_MODE } from '../safety/atomic-file.ts';

export interface EventLogOptions {
  file: string;
  stdout: boolean;
  /** Default 16 MiB: the file is renamed to FILE.1 (replacing it) past this size. */
  maxBytes?: number;
  onError?: (e: unknown) => void;
}

export class EventLog {
  private chain: Promise<void> = Promise.resolve();
  private failing = false;

  constructor(private readonly opts: EventLogOptions) {}

  emit(body: WatchEventBody): WatchEvent {
    const event = {
      schemaVersion: WATCH_EVENT_SCHEMA_VERSION,
      time: new Date().toISOString(),
      ...body,
    } as WatchEvent;
    const line = `${JSON.stringify(event)}\n`;
    if (this.opts.stdout) process.stdout.write(line);
    this.chain = this.chain.then(() => this.append(line));
    return event;
  }

  /** Resolves when every event emitted so far is on disk (or failed). */
  flush(): Promise<void> {
    return this.chain;
  }

  private async append(line: string): Promise<void> {
    try {
      const size = await stat(this.opts.file).then(
        (s) => s.size,
        () => 0,
      );
      if (size > (this.opts.maxBytes ?? 16 * 1024 * 1024))
        await rename(this.opts.file, `${this.opts.file}.1`);
      await appendFile(this.opts.file, line, { mode: FILE_MODE });
      this.failing = false;
    } catch (e) {
      if (!this.failing) this.opts.onError?.(e);
      this.failing = true;
    }
  }
}
