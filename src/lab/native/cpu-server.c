/*
 * CPU-bound victim: a service whose every request is computation (rendering, scoring, parsing),
 * paced at --rate requests per second. Latency per request is its compute time plus every wait for
 * a CPU in between: a neighbour that keeps the run queues full shows up here directly.
 *
 * --rounds=N hash rounds per request (default 1000000, about 2 ms on this VM's CPUs)
 */
#include "lab-common.h"

/* The request's work: xorshift rounds in user space. */
LAB_NOINLINE uint64_t score_request(uint64_t s, long rounds) {
  return lab_xorshift_rounds(s, rounds);
}

int main(int argc, char **argv) {
  static const char *const known[] = {"rounds", NULL};
  lab_check_args(argc, argv, known);
  long rounds = (long)lab_arg_num(argc, argv, "rounds", 1000000);
  if (rounds < 1) rounds = 1;
  lab_run run;
  lab_latencies lat;
  memset(&lat, 0, sizeof lat);
  lab_run_begin(&run, argc, argv);
  uint64_t s = 0x2545f4914f6cdd1dull ^ (uint64_t)getpid();
  long requests = 0;
  while (lab_next_op(&run)) {
    uint64_t t0 = lab_now_ns();
    s = score_request(s, rounds);
    lab_record(&lat, lab_now_ns() - t0);
    requests++;
  }
  char extra[96];
  snprintf(extra, sizeof extra, "\"requests\":%ld,\"rounds\":%ld,\"checksum\":%u", requests, rounds, (unsigned)(s & 0xffff));
  lab_write_stats(&run, "cpu-server", "requests", &lat, extra);
  return 0;
}
