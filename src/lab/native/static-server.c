/*
 * Path-lookup victim: a static file server resolving request paths. Each operation is one request
 * that stats --batch files (default 64) chosen at random from a tree <dir>/dNN/dNN/dNN/page-NN.html
 * (all of which exist) and opens one of them; the latency is per request.
 *
 * --dir=PATH (the tree, made by the runner), --fanout=N (entries per level, default 8),
 * --batch=N lookups per request
 */
#include <fcntl.h>
#include <sys/stat.h>

#include "lab-common.h"
#include "lab-syscall.h"

typedef struct {
  int rootfd;
  int fanout;
  uint64_t rng;
  long lookups;
  long failures;
} StaticSite;

static uint64_t next_random(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

static void random_page(StaticSite *s, char *path, size_t size) {
  uint64_t r = next_random(&s->rng);
  unsigned f = (unsigned)s->fanout;
  snprintf(path, size, "d%02u/d%02u/d%02u/page-%02u.html", (unsigned)(r % f), (unsigned)(r / f % f),
           (unsigned)(r / f / f % f), (unsigned)(r / f / f / f % f));
}

/* The call site of the path walks: stat() of a page that exists. */
LAB_NOINLINE void resolve_static_path(StaticSite *s, const char *path) {
  struct stat st;
  if (lab_fstatat(s->rootfd, path, &st, 0) != 0) s->failures++;
  s->lookups++;
}

LAB_NOINLINE void serve_request(StaticSite *s, int batch) {
  char path[96];
  for (int i = 0; i < batch; i++) {
    random_page(s, path, sizeof path);
    resolve_static_path(s, path);
  }
  long fd = lab_openat(s->rootfd, path, O_RDONLY | O_CLOEXEC, 0);
  if (fd >= 0) lab_close((int)fd);
}

int main(int argc, char **argv) {
  static const char *const known[] = {"dir", "fanout", "batch", NULL};
  lab_check_args(argc, argv, known);
  const char *dir = lab_arg(argc, argv, "dir", NULL);
  if (dir == NULL) lab_usage_error("required", "--dir=PATH");
  StaticSite s;
  memset(&s, 0, sizeof s);
  s.rootfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (s.rootfd < 0) lab_die(dir);
  s.fanout = (int)lab_arg_num(argc, argv, "fanout", 8);
  if (s.fanout < 1 || s.fanout > 99) lab_usage_error("--fanout must be 1..99", lab_arg(argc, argv, "fanout", ""));
  s.rng = 0x2545f4914f6cdd1dull ^ (uint64_t)getpid();
  int batch = (int)lab_arg_num(argc, argv, "batch", 64);
  lab_run run;
  lab_latencies lat;
  memset(&lat, 0, sizeof lat);
  lab_run_begin(&run, argc, argv);
  while (lab_next_op(&run)) {
    uint64_t t0 = lab_now_ns();
    serve_request(&s, batch);
    lab_record(&lat, lab_now_ns() - t0);
  }
  char extra[128];
  snprintf(extra, sizeof extra, "\"lookups\":%ld,\"failures\":%ld,\"batch\":%d", s.lookups, s.failures, batch);
  lab_write_stats(&run, "static-server", "lookup", &lat, extra);
  return 0;
}
