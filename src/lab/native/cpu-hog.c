/*
 * CPU noisy neighbour: --threads busy threads that never sleep and make no syscalls, pure user CPU
 * (a batch job, a video encoder, a spinning thread pool). More busy threads than CPUs keep every
 * CPU's run queue full, so a neighbour's runnable tasks wait behind them. Each operation is one
 * batch of hash rounds; throughput counts batches of all threads.
 *
 * --threads=N busy threads (default 4), --rounds=N hash rounds per batch (default 1000000)
 */
#include <pthread.h>

#include "lab-common.h"

typedef struct {
  lab_run *run;
  long rounds;
  long batches;
  uint64_t sink;
  lab_latencies lat;
} HogThread;

/* The hot loop: xorshift rounds, nothing the kernel is asked for. */
LAB_NOINLINE uint64_t spin_hash_rounds(uint64_t s, long rounds) {
  return lab_xorshift_rounds(s, rounds);
}

static void *hog_thread(void *arg) {
  HogThread *t = (HogThread *)arg;
  uint64_t s = 0x9e3779b97f4a7c15ull ^ (uint64_t)(uintptr_t)t;
  while (!lab_stop_requested && (t->run->deadline_ns == 0 || lab_now_ns() < t->run->deadline_ns)) {
    uint64_t t0 = lab_now_ns();
    s = spin_hash_rounds(s, t->rounds);
    lab_record(&t->lat, lab_now_ns() - t0);
    t->batches++;
  }
  t->sink = s;
  return NULL;
}

int main(int argc, char **argv) {
  static const char *const known[] = {"threads", "rounds", NULL};
  lab_check_args(argc, argv, known);
  int threads = (int)lab_arg_num(argc, argv, "threads", 4);
  if (threads < 1 || threads > 256) lab_usage_error("--threads must be 1..256", lab_arg(argc, argv, "threads", ""));
  long rounds = (long)lab_arg_num(argc, argv, "rounds", 1000000);
  if (rounds < 1) rounds = 1;
  lab_run run;
  lab_latencies lat;
  memset(&lat, 0, sizeof lat);
  lab_run_begin(&run, argc, argv);
  HogThread *ts = (HogThread *)calloc((size_t)threads, sizeof(HogThread));
  pthread_t *ids = (pthread_t *)calloc((size_t)threads, sizeof(pthread_t));
  if (ts == NULL || ids == NULL) lab_die("calloc");
  for (int i = 0; i < threads; i++) {
    ts[i].run = &run;
    ts[i].rounds = rounds;
    if (pthread_create(&ids[i], NULL, hog_thread, &ts[i]) != 0) lab_die("pthread_create");
  }
  /* The main thread only waits: it wakes every 100 ms to see the deadline or a stop signal. */
  run.period_ns = 100000000ull;
  run.next_ns = run.started_ns;
  while (lab_next_op(&run)) {
  }
  long batches = 0;
  for (int i = 0; i < threads; i++) {
    pthread_join(ids[i], NULL);
    batches += ts[i].batches;
    for (size_t k = 0; k < ts[i].lat.n; k++) lab_record(&lat, ts[i].lat.ns[k]);
  }
  char extra[128];
  snprintf(extra, sizeof extra, "\"threads\":%d,\"batches\":%ld", threads, batches);
  lab_write_stats(&run, "cpu-hog", threads == 1 ? "one-thread" : "oversubscribed", &lat, extra);
  return 0;
}
