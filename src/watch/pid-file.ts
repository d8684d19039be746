/** One watch per state directory: the pid file that says which process holds it. */
import { open, readFile, unlink } from 'node:fs/promises';
import { isAlive } from '../store/lock.ts';

/** Another watch holds the state directory. */
export class WatchBusyError extends Error {
  override name = 'WatchBusyError';
}

export /** One watch per state directory: a pid file, taken over when its owner is dead. */
async function takePidFile(path: string): Promise<() => Promise<void>> {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const f = await open(path, 'wx', 0o600);
      await f.writeFile(`${process.pid}\n`);
      await f.close();
      return () => unlink(path).catch(() => {});
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const owner = Number.parseInt(await readFile(path, 'utf8').catch(() => ''), 10);
      if (owner > 0 && owner !== process.pid && isAlive(owner))
        throw new WatchBusyError(
          `another crosstalk watch (pid ${owner}) uses this state directory (${path})`,
        );
      await unlink(path).catch(() => {});
    }
  }
  throw new WatchBusyError(`could not take ${path}`);
}
