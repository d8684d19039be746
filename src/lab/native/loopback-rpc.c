/*
 * A service calling its local sidecar over loopback TCP. A forked child of the same container
 * answers each request (echo); the parent measures each request's latency.
 *
 * --connect=per-request  the bug: a new TCP connection for every request (open_upstream_connection:
 *                        socket, connect, request, reply, close with RST), so the host's TCP stack
 *                        sets up and tears down a connection per call: handshake, hash tables,
 *                        socket allocation, softirq work, all kernel time
 * --connect=persistent   the fix: one connection, the same requests and bytes over it
 * --request-bytes=N (default 64), --rate=N requests per second (0: as fast as it can)
 */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "lab-common.h"
#include "lab-syscall.h"

LAB_INLINE long lab_connect(int fd, const struct sockaddr_in *a) {
  return lab_syscall4(SYS_connect, fd, (long)a, sizeof *a, 0);
}
LAB_INLINE long lab_read(int fd, void *buf, unsigned long len) {
  return lab_syscall4(SYS_read, fd, (long)buf, (long)len, 0);
}

static char request[4096];

/* The sidecar: answers every request on a connection until the peer closes or resets it. */
static void serve_forever(int listener, size_t bytes) {
  char buf[4096];
  for (;;) {
    int c = accept(listener, NULL, NULL);
    if (c < 0) continue;
    int one = 1;
    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    for (;;) {
      size_t got = 0;
      while (got < bytes) {
        long r = lab_read(c, buf + got, bytes - got);
        if (r <= 0) break;
        got += (size_t)r;
      }
      if (got < bytes || lab_write(c, buf, bytes) != (long)bytes) break;
    }
    lab_close(c);
  }
}

/* The call site of the churn: a fresh connection for one request. */
LAB_NOINLINE int open_upstream_connection(const struct sockaddr_in *addr) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) lab_die("socket");
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  /* RST on close: no TIME_WAIT, so the ephemeral ports never run out however fast it churns. */
  struct linger lg = {1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  if (lab_connect(fd, addr) != 0) lab_die("connect");
  return fd;
}

/* One request and its reply. */
LAB_NOINLINE int send_request(int fd, size_t bytes) {
  char buf[4096];
  if (lab_write(fd, request, bytes) != (long)bytes) return -1;
  size_t got = 0;
  while (got < bytes) {
    long r = lab_read(fd, buf + got, bytes - got);
    if (r <= 0) return -1;
    got += (size_t)r;
  }
  return 0;
}

int main(int argc, char **argv) {
  static const char *const known[] = {"connect", "request-bytes", NULL};
  lab_check_args(argc, argv, known);
  const char *mode = lab_arg(argc, argv, "connect", "persistent");
  if (strcmp(mode, "per-request") != 0 && strcmp(mode, "persistent") != 0)
    lab_usage_error("--connect must be per-request or persistent", mode);
  int per_request = strcmp(mode, "per-request") == 0;
  size_t bytes = (size_t)lab_arg_num(argc, argv, "request-bytes", 64);
  if (bytes < 1 || bytes > sizeof request) lab_usage_error("--request-bytes must be 1..4096", "");
  memset(request, 'q', sizeof request);

  int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listener < 0) lab_die("socket");
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (bind(listener, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(listener, 128) != 0 ||
      getsockname(listener, (struct sockaddr *)&addr, &len) != 0)
    lab_die("listen on 127.0.0.1");
  pid_t sidecar = fork();
  if (sidecar < 0) lab_die("fork");
  if (sidecar == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    signal(SIGTERM, SIG_DFL);
    serve_forever(listener, bytes);
    _exit(0);
  }
  lab_close(listener);

  lab_run run;
  lab_latencies lat;
  memset(&lat, 0, sizeof lat);
  long connections = 0, failures = 0;
  int fd = -1;
  lab_run_begin(&run, argc, argv);
  while (lab_next_op(&run)) {
    uint64_t t0 = lab_now_ns();
    if (fd < 0) {
      fd = open_upstream_connection(&addr);
      connections++;
    }
    if (send_request(fd, bytes) != 0) failures++;
    if (per_request) {
      lab_close(fd);
      fd = -1;
    }
    lab_record(&lat, lab_now_ns() - t0);
  }
  if (fd >= 0) lab_close(fd);
  kill(sidecar, SIGKILL);
  waitpid(sidecar, NULL, 0);
  char extra[160];
  snprintf(extra, sizeof extra, "\"connections\":%ld,\"failures\":%ld,\"request_bytes\":%zu", connections,
           failures, bytes);
  lab_write_stats(&run, "loopback-rpc", mode, &lat, extra);
  return 0;
}
