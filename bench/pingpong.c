/*
 * Context-switch-heavy workload for bench/record-overhead.mjs: two processes bounce one byte
 * through two pipes, so every round trip is two blocking reads and two context switches. Both
 * run on CPU 0: across two CPUs the rate is set by how fast an idle CPU wakes up for the other
 * side, which any recording changes (it keeps CPUs out of idle) more than its own cost does.
 * Usage: pingpong SECONDS; prints round trips per second.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static double since(const struct timespec *t0) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

int main(int argc, char **argv) {
  double seconds = argc > 1 ? atof(argv[1]) : 4;
  int there[2], back[2];
  char c = 0;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(0, &one);
  if (sched_setaffinity(0, sizeof one, &one) != 0) return 1;
  if (pipe(there) != 0 || pipe(back) != 0) return 1;
  if (fork() == 0) {
    close(there[1]);
    close(back[0]);
    while (read(there[0], &c, 1) == 1)
      if (write(back[1], &c, 1) != 1) break;
    _exit(0);
  }
  close(there[0]);
  close(back[1]);
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  long trips = 0;
  double elapsed = 0;
  for (;;) {
    if (write(there[1], &c, 1) != 1 || read(back[0], &c, 1) != 1) return 1;
    if ((++trips & 1023) == 0 && (elapsed = since(&t0)) >= seconds) break;
  }
  printf("%.0f\n", trips / elapsed);
  return 0;
}
