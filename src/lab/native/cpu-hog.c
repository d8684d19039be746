/*
 * CPU noisy neighbour: --workers busy worker processes that never sleep and make no syscalls, pure
 * user CPU (a batch job's worker pool, a build running make -j with more jobs than CPUs). Each
 * worker starts its own session, as daemonised workers do: the scheduler then weighs each one as
 * a group of its own (autogroup, when no cpu controller groups them), so more workers than CPUs
 * keep every run queue full and a neighbour's runnable tasks wait behind them. Each operation is
 * one batch of hash rounds; throughput counts the batches of all workers.
 *
 * --workers=N busy worker processes (default 4), --rounds=N hash rounds per batch (default 1000000)
 */
#include <sys/mman.h>
#include <sys/wait.h>

#include "lab-common.h"

/* The hot loop: xorshift rounds, nothing the kernel is asked for. */
LAB_NOINLINE uint64_t spin_hash_rounds(uint64_t s, long rounds) {
  return lab_xorshift_rounds(s, rounds);
}

/* One worker: batches until the deadline or a stop signal; its count goes to shared memory. */
static void hog_worker(lab_run *run, long rounds, volatile long *batches, int index) {
  setsid();
  uint64_t s = 0x9e3779b97f4a7c15ull ^ (uint64_t)index;
  while (!lab_stop_requested && (run->deadline_ns == 0 || lab_now_ns() < run->deadline_ns)) {
    s = spin_hash_rounds(s, rounds);
    (*batches)++;
  }
  _exit(s == 42 ? 3 : 0);
}

int main(int argc, char **argv) {
  static const char *const known[] = {"workers", "rounds", NULL};
  lab_check_args(argc, argv, known);
  int workers = (int)lab_arg_num(argc, argv, "workers", 4);
  if (workers < 1 || workers > 256) lab_usage_error("--workers must be 1..256", lab_arg(argc, argv, "workers", ""));
  long rounds = (long)lab_arg_num(argc, argv, "rounds", 1000000);
  if (rounds < 1) rounds = 1;
  volatile long *counts = (volatile long *)mmap(NULL, sizeof(long) * (size_t)workers, PROT_READ | PROT_WRITE,
                                                MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (counts == MAP_FAILED) lab_die("mmap");
  lab_run run;
  lab_latencies lat;
  memset(&lat, 0, sizeof lat);
  lab_run_begin(&run, argc, argv);
  pid_t *pids = (pid_t *)calloc((size_t)workers, sizeof(pid_t));
  if (pids == NULL) lab_die("calloc");
  for (int i = 0; i < workers; i++) {
    pids[i] = fork();
    if (pids[i] < 0) lab_die("fork");
    if (pids[i] == 0) hog_worker(&run, rounds, &counts[i], i);
  }
  /* The parent only waits: it wakes every 100 ms to see the deadline or a stop signal. */
  run.period_ns = 100000000ull;
  run.next_ns = run.started_ns;
  uint64_t t0 = lab_now_ns();
  while (lab_next_op(&run)) {
  }
  for (int i = 0; i < workers; i++) kill(pids[i], SIGTERM);
  long batches = 0;
  for (int i = 0; i < workers; i++) {
    waitpid(pids[i], NULL, 0);
    batches += counts[i];
  }
  /* One "operation" per batch, each taking the workers' average batch time. */
  uint64_t per = batches > 0 ? (lab_now_ns() - t0) * (uint64_t)workers / (uint64_t)batches : 0;
  for (long b = 0; b < batches && b < 1000000; b++) lab_record(&lat, per);
  char extra[128];
  snprintf(extra, sizeof extra, "\"workers\":%d,\"batches\":%ld", workers, batches);
  lab_write_stats(&run, "cpu-hog", workers == 1 ? "one-worker" : "oversubscribed", &lat, extra);
  return 0;
}
