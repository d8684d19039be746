// Where tests and benchmarks find the shared corpus (../shared/corpus, see its README):
//   1. $CROSSTALK_CORPUS, when set (then only there);
//   2. shared/corpus beside this checkout;
//   3. shared/corpus beside the checkout this one was cloned from, when its origin is a local
//      path: `git clone . /tmp/fresh` still finds the corpus of the checkout it came from.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('../..', import.meta.url));

/** The local checkout `origin` points to, or null (no git, no origin, or a remote URL). */
function originCheckout() {
  let url;
  try {
    url = execFileSync('git', ['-C', repo, 'config', '--get', 'remote.origin.url'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return null;
  }
  if (url.startsWith('file://')) return fileURLToPath(url);
  if (/^[\w+.-]+:\/\//.test(url) || /^[^/]+@[^/]+:/.test(url)) return null;
  return isAbsolute(url) ? url : resolve(repo, url);
}

function candidates() {
  if (process.env.CROSSTALK_CORPUS) return [process.env.CROSSTALK_CORPUS];
  const beside = join(repo, '..', 'shared', 'corpus');
  if (existsSync(beside)) return [beside];
  const origin = originCheckout();
  return origin === null ? [beside] : [beside, join(origin, '..', 'shared', 'corpus')];
}

const looked = candidates();

/** The corpus directory, or null when none of the places holds it. */
export const CORPUS_DIR = looked.find((d) => existsSync(d)) ?? null;

/** Why corpus tests cannot run here, or null when the corpus was found. */
export const corpusMissing =
  CORPUS_DIR === null
    ? `the test corpus is not in ${looked.join(' nor ')}; set CROSSTALK_CORPUS to its directory`
    : null;

/** Path of a corpus file; throws the reason above when there is no corpus. */
export function corpusFile(relative) {
  if (CORPUS_DIR === null) throw new Error(corpusMissing ?? 'no corpus');
  return join(CORPUS_DIR, relative);
}
