/**
 * mapBounded: Promise.all with at most `limit` calls in flight. Hosts have tens of thousands of
 * cgroup and /proc files; opening them all at once runs into the open-file limit (EMFILE).
 */
export async function mapBounded<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** Files read concurrently by snapshots: well under the usual 1024 descriptors. */
export const FILE_CONCURRENCY = 32;
