/*
 * fsync-storm neighbour: a message spool that makes every accepted message durable. Each operation
 * writes one small message (--message-bytes, default 2048) into the current spool file; a new
 * spool file is started every --file-messages messages (default 64, older files are removed so
 * the spool stays small).
 *
 * --sync-every=1   the bug: fsync() after every message (a journal commit per message)
 * --sync-every=N   the fix: group commit, one fsync() per N messages; same writes, same bytes
 * --dir=PATH (the spool directory, must exist)
 */
#include <fcntl.h>
#include <sys/stat.h>

#include "lab-common.h"
#include "lab-syscall.h"

typedef struct {
  int dirfd;
  int fd;
  long file_no;
  long in_file;
  long file_messages;
  long sync_every;
  long pending;
  long messages;
  long fsyncs;
  char message[65536];
  size_t message_bytes;
} Spool;

static void spool_rotate(Spool *s) {
  char name[64];
  if (s->fd >= 0) lab_close(s->fd);
  if (s->file_no >= 2) {
    snprintf(name, sizeof name, "spool-%06ld.msg", s->file_no - 2);
    unlinkat(s->dirfd, name, 0);
  }
  snprintf(name, sizeof name, "spool-%06ld.msg", s->file_no++);
  s->fd = (int)lab_openat(s->dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
  if (s->fd < 0) {
    errno = (int)-s->fd;
    lab_die(name);
  }
  s->in_file = 0;
}

/* The call site of the storm: the message is durable when this returns. */
LAB_NOINLINE void spool_commit_message(Spool *s) {
  if (lab_fsync(s->fd) != 0) {
    errno = EIO;
    lab_die("fsync spool");
  }
  s->fsyncs++;
  s->pending = 0;
}

LAB_NOINLINE void spool_accept_message(Spool *s) {
  if (s->fd < 0 || s->in_file == s->file_messages) {
    if (s->pending) spool_commit_message(s);
    spool_rotate(s);
  }
  snprintf(s->message, 64, "message %ld\n", s->messages);
  if (lab_write(s->fd, s->message, s->message_bytes) != (long)s->message_bytes) {
    errno = EIO;
    lab_die("write spool");
  }
  s->in_file++;
  s->messages++;
  if (++s->pending >= s->sync_every) spool_commit_message(s);
}

int main(int argc, char **argv) {
  static const char *const known[] = {"dir", "sync-every", "message-bytes", "file-messages", NULL};
  lab_check_args(argc, argv, known);
  const char *dir = lab_arg(argc, argv, "dir", NULL);
  if (dir == NULL) lab_usage_error("required", "--dir=PATH");
  static Spool s;
  s.dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (s.dirfd < 0) lab_die(dir);
  s.fd = -1;
  s.sync_every = (long)lab_arg_num(argc, argv, "sync-every", 1);
  s.file_messages = (long)lab_arg_num(argc, argv, "file-messages", 64);
  s.message_bytes = (size_t)lab_arg_num(argc, argv, "message-bytes", 2048);
  if (s.sync_every < 1 || s.file_messages < 1 || s.message_bytes < 64 || s.message_bytes > sizeof s.message)
    lab_usage_error("bad sizes", "--sync-every>=1 --file-messages>=1 --message-bytes=64..65536");
  memset(s.message, 'm', sizeof s.message);
  lab_run run;
  lab_latencies lat;
  memset(&lat, 0, sizeof lat);
  lab_run_begin(&run, argc, argv);
  while (lab_next_op(&run)) {
    uint64_t t0 = lab_now_ns();
    spool_accept_message(&s);
    lab_record(&lat, lab_now_ns() - t0);
  }
  if (s.pending) spool_commit_message(&s);
  char extra[128];
  snprintf(extra, sizeof extra, "\"messages\":%ld,\"fsyncs\":%ld,\"sync_every\":%ld", s.messages, s.fsyncs,
           s.sync_every);
  char variant[32];
  snprintf(variant, sizeof variant, "sync-every-%ld", s.sync_every);
  lab_write_stats(&run, "spool-writer", variant, &lat, extra);
  return 0;
}
