/*
 * Shared runtime of the lab workloads: options, the run window, pacing, per-operation latency and
 * the stats file the TypeScript runner reads. Header-only so each workload is one translation unit
 * and one compiler call. Compiles as C and as C++.
 *
 * Common options (all --name=value):
 *   --duration=S     run for S seconds (0 = until SIGTERM/SIGINT)
 *   --start-at=MS    wait until this CLOCK_REALTIME instant (epoch ms) so all containers start together
 *   --rate=N         operations per second to aim for (0 = as fast as possible); a workload that falls
 *                    behind catches up without sleeping, so fixed and unfixed variants offer the same work
 *   --stats=PATH     where to write the JSON stats at exit (written to PATH.tmp, then renamed)
 *   --hostname=NAME  sethostname() first; the runner passes it only inside a private UTS namespace
 */
#ifndef CROSSTALK_LAB_COMMON_H
#define CROSSTALK_LAB_COMMON_H

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LAB_NOINLINE __attribute__((noinline))

static volatile sig_atomic_t lab_stop_requested = 0;

static void lab_on_stop_signal(int sig) {
  (void)sig;
  lab_stop_requested = 1;
}

static void lab_die(const char *what) {
  fprintf(stderr, "lab workload: %s: %s\n", what, strerror(errno));
  exit(1);
}

static void lab_usage_error(const char *msg, const char *arg) {
  fprintf(stderr, "lab workload: %s: %s\n", msg, arg);
  exit(2);
}

/* Value of --name=value, or def. */
static const char *lab_arg(int argc, char **argv, const char *name, const char *def) {
  size_t n = strlen(name);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (a[0] == '-' && a[1] == '-' && strncmp(a + 2, name, n) == 0 && a[2 + n] == '=') return a + 3 + n;
  }
  return def;
}

static double lab_arg_num(int argc, char **argv, const char *name, double def) {
  const char *v = lab_arg(argc, argv, name, NULL);
  if (v == NULL) return def;
  char *end = NULL;
  double d = strtod(v, &end);
  if (end == v || *end != '\0' || d < 0) lab_usage_error("expected a non-negative number", v);
  return d;
}

/* Rejects options the workload does not know (common ones are always known). */
static void lab_check_args(int argc, char **argv, const char *const *known) {
  static const char *const common[] = {"duration", "start-at", "rate", "stats", "hostname", NULL};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *eq = strchr(a, '=');
    int ok = 0;
    if (a[0] == '-' && a[1] == '-' && eq != NULL) {
      size_t n = (size_t)(eq - a - 2);
      for (const char *const *k = common; *k && !ok; k++) ok = strlen(*k) == n && strncmp(a + 2, *k, n) == 0;
      for (const char *const *k = known; *k && !ok; k++) ok = strlen(*k) == n && strncmp(a + 2, *k, n) == 0;
    }
    if (!ok) lab_usage_error("unknown option", a);
  }
}

static uint64_t lab_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void lab_sleep_until_ns(clockid_t clock, uint64_t t) {
  struct timespec ts;
  ts.tv_sec = (time_t)(t / 1000000000ull);
  ts.tv_nsec = (long)(t % 1000000000ull);
  while (!lab_stop_requested && clock_nanosleep(clock, TIMER_ABSTIME, &ts, NULL) == EINTR) {
  }
}

/* Per-operation latencies in nanoseconds, kept whole so percentiles are exact. */
typedef struct {
  uint64_t *ns;
  size_t n;
  size_t cap;
} lab_latencies;

static void lab_record(lab_latencies *l, uint64_t ns) {
  if (l->n == l->cap) {
    l->cap = l->cap ? l->cap * 2 : 65536;
    l->ns = (uint64_t *)realloc(l->ns, l->cap * sizeof(uint64_t));
    if (l->ns == NULL) lab_die("realloc");
  }
  l->ns[l->n++] = ns;
}

/* The run window: options parsed, hostname set, start instant awaited. */
typedef struct {
  uint64_t started_ns;
  uint64_t deadline_ns; /* 0: until a stop signal */
  uint64_t period_ns;   /* 0: unpaced */
  uint64_t next_ns;
  const char *stats_path;
} lab_run;

static void lab_install_stop_handlers(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = lab_on_stop_signal; /* no SA_RESTART: sleeps return EINTR and the loop sees the flag */
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
}

static void lab_run_begin(lab_run *r, int argc, char **argv) {
  lab_install_stop_handlers();
  const char *host = lab_arg(argc, argv, "hostname", NULL);
  if (host != NULL && sethostname(host, strlen(host)) != 0) lab_die("sethostname");
  double start_at_ms = lab_arg_num(argc, argv, "start-at", 0);
  if (start_at_ms > 0) lab_sleep_until_ns(CLOCK_REALTIME, (uint64_t)(start_at_ms * 1e6));
  double duration = lab_arg_num(argc, argv, "duration", 0);
  double rate = lab_arg_num(argc, argv, "rate", 0);
  r->started_ns = lab_now_ns();
  r->deadline_ns = duration > 0 ? r->started_ns + (uint64_t)(duration * 1e9) : 0;
  r->period_ns = rate > 0 ? (uint64_t)(1e9 / rate) : 0;
  r->next_ns = r->started_ns;
  r->stats_path = lab_arg(argc, argv, "stats", NULL);
}

/* Waits for the next paced slot; returns 0 when the run is over. */
static int lab_next_op(lab_run *r) {
  if (lab_stop_requested) return 0;
  if (r->period_ns) {
    if (lab_now_ns() < r->next_ns) lab_sleep_until_ns(CLOCK_MONOTONIC, r->next_ns);
    r->next_ns += r->period_ns;
  }
  return !lab_stop_requested && (r->deadline_ns == 0 || lab_now_ns() < r->deadline_ns);
}

/* Pure user-space computation for the CPU workloads: xorshift rounds, no memory, no syscalls.
   Inline, so the calling workload function is the frame the samples name. */
static inline uint64_t lab_xorshift_rounds(uint64_t s, long rounds) {
  for (long i = 0; i < rounds; i++) {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    s += (uint64_t)i;
  }
  return s;
}

static int lab_cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* Nearest-rank percentile in microseconds of sorted latencies. */
static double lab_percentile_us(const lab_latencies *l, double p) {
  if (l->n == 0) return 0;
  size_t rank = (size_t)(p * (double)l->n + 0.999999);
  if (rank < 1) rank = 1;
  if (rank > l->n) rank = l->n;
  return (double)l->ns[rank - 1] / 1000.0;
}

/* Writes the stats JSON; extra is a JSON object body ("\"k\":1") or "". */
static void lab_write_stats(lab_run *r, const char *workload, const char *variant, lab_latencies *l,
                            const char *extra) {
  double elapsed = (double)(lab_now_ns() - r->started_ns) / 1e9;
  qsort(l->ns, l->n, sizeof(uint64_t), lab_cmp_u64);
  double sum = 0;
  for (size_t i = 0; i < l->n; i++) sum += (double)l->ns[i];
  char tmp[4096];
  FILE *f = stdout;
  if (r->stats_path != NULL) {
    snprintf(tmp, sizeof tmp, "%s.tmp", r->stats_path);
    f = fopen(tmp, "w");
    if (f == NULL) lab_die(tmp);
  }
  fprintf(f,
          "{\"workload\":\"%s\",\"variant\":\"%s\",\"pid\":%d,\"ops\":%zu,\"elapsed_s\":%.6f,"
          "\"throughput_per_s\":%.3f,\"latency_us\":{\"mean\":%.3f,\"p50\":%.3f,\"p90\":%.3f,"
          "\"p99\":%.3f,\"max\":%.3f},\"extra\":{%s}}\n",
          workload, variant, (int)getpid(), l->n, elapsed, elapsed > 0 ? (double)l->n / elapsed : 0,
          l->n ? sum / (double)l->n / 1000.0 : 0, lab_percentile_us(l, 0.50), lab_percentile_us(l, 0.90),
          lab_percentile_us(l, 0.99), lab_percentile_us(l, 1.0), extra);
  if (f != stdout) {
    if (fclose(f) != 0) lab_die(tmp);
    if (rename(tmp, r->stats_path) != 0) lab_die(r->stats_path);
  }
}

#endif
