/*
 * Negative-dentry neighbour: a service that checks an on-disk cache before computing, and almost
 * always misses. Each probe is a stat() of <dir>/<2 hex>/<key>.json that does not exist.
 *
 * --keys=unique   the bug: every key is new, so every miss leaves one more negative dentry behind
 *                 (millions per minute, never reclaimed while memory is plentiful)
 * --keys=bounded  the fix: keys come from a bounded set (--key-space, default 4096), so the same
 *                 number of stat() calls hits negative dentries that already exist
 * --dir=PATH (must exist, with subdirectories 00..ff), --batch=N probes per operation (default 256),
 * --max-keys=N stop creating new names after N (unique mode; default 0 = no limit)
 */
#include <fcntl.h>
#include <sys/stat.h>

#include "lab-common.h"
#include "lab-syscall.h"

typedef struct {
  int dirfd;
  int unique;
  uint64_t key_space;
  uint64_t max_keys;
  uint64_t next_key;
  long misses;
  long hits;
} CacheProbe;

static uint64_t mix64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  return x ^ (x >> 33);
}

/* The call site of the miss storm: one stat() per cache key. */
LAB_NOINLINE int probe_cache_entry(CacheProbe *c, uint64_t key) {
  char path[64];
  uint64_t h = mix64(key);
  snprintf(path, sizeof path, "%02x/%016llx.json", (unsigned)(h & 0xff), (unsigned long long)h);
  struct stat st;
  long r = lab_fstatat(c->dirfd, path, &st, 0);
  if (r == 0) c->hits++;
  else c->misses++;
  return r == 0;
}

static uint64_t next_key(CacheProbe *c) {
  uint64_t k = c->next_key++;
  if (!c->unique) return k % c->key_space;
  if (c->max_keys && k >= c->max_keys) return k % c->max_keys;
  return k;
}

LAB_NOINLINE void lookup_cached_results(CacheProbe *c, int batch) {
  for (int i = 0; i < batch; i++) probe_cache_entry(c, next_key(c));
}

int main(int argc, char **argv) {
  static const char *const known[] = {"dir", "keys", "key-space", "batch", "max-keys", "seed", NULL};
  lab_check_args(argc, argv, known);
  const char *dir = lab_arg(argc, argv, "dir", NULL);
  const char *keys = lab_arg(argc, argv, "keys", "unique");
  if (dir == NULL) lab_usage_error("required", "--dir=PATH");
  if (strcmp(keys, "unique") != 0 && strcmp(keys, "bounded") != 0)
    lab_usage_error("--keys must be unique or bounded", keys);
  CacheProbe c;
  memset(&c, 0, sizeof c);
  c.dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (c.dirfd < 0) lab_die(dir);
  c.unique = strcmp(keys, "unique") == 0;
  c.key_space = (uint64_t)lab_arg_num(argc, argv, "key-space", 4096);
  c.max_keys = (uint64_t)lab_arg_num(argc, argv, "max-keys", 0);
  /* Distinct seeds keep several probers (and successive runs) from sharing names. */
  c.next_key = (uint64_t)lab_arg_num(argc, argv, "seed", (double)getpid()) * 1000000000ull;
  if (c.key_space < 1) c.key_space = 1;
  int batch = (int)lab_arg_num(argc, argv, "batch", 256);
  lab_run run;
  lab_latencies lat;
  memset(&lat, 0, sizeof lat);
  lab_run_begin(&run, argc, argv);
  while (lab_next_op(&run)) {
    uint64_t t0 = lab_now_ns();
    lookup_cached_results(&c, batch);
    lab_record(&lat, lab_now_ns() - t0);
  }
  char extra[160];
  snprintf(extra, sizeof extra, "\"stat_calls\":%ld,\"misses\":%ld,\"batch\":%d", c.misses + c.hits, c.misses, batch);
  lab_write_stats(&run, "cache-prober", keys, &lat, extra);
  return 0;
}
