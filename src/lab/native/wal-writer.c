/*
 * fsync-storm victim: a database appending to its write-ahead log, like an LSM store's WAL. Each
 * operation is one transaction: append --txn-records records (default 4, --record-bytes each,
 * default 512), then commit with fdatasync(). Appends grow the file, so each commit also needs the
 * filesystem journal to record the new size: the journal the neighbours are storming.
 * The latency is per transaction (the appends plus the commit).
 *
 * --dir=PATH (where wal.log is created), --max-bytes=N (start over at N bytes, default 64 MiB)
 */
#include <fcntl.h>
#include <sys/stat.h>

#include "lab-common.h"
#include "lab-syscall.h"

typedef struct {
  int dirfd;
  int fd;
  long txn_records;
  long records;
  long commits;
  long bytes;
  long max_bytes;
  char record[8192];
  size_t record_bytes;
} WriteAheadLog;

static void wal_open(WriteAheadLog *w) {
  if (w->fd >= 0) lab_close(w->fd);
  w->fd = (int)lab_openat(w->dirfd, "wal.log", O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
  if (w->fd < 0) {
    errno = (int)-w->fd;
    lab_die("wal.log");
  }
  w->bytes = 0;
}

/* The call site of the victim's commits. */
LAB_NOINLINE void wal_sync(WriteAheadLog *w) {
  if (lab_fdatasync(w->fd) != 0) {
    errno = EIO;
    lab_die("fdatasync wal");
  }
  w->commits++;
}

LAB_NOINLINE void wal_append_record(WriteAheadLog *w) {
  if (w->bytes + (long)w->record_bytes > w->max_bytes) wal_open(w);
  snprintf(w->record, 64, "txn %ld\n", w->records);
  if (lab_write(w->fd, w->record, w->record_bytes) != (long)w->record_bytes) {
    errno = EIO;
    lab_die("write wal");
  }
  w->bytes += (long)w->record_bytes;
  w->records++;
}

LAB_NOINLINE void wal_commit_transaction(WriteAheadLog *w) {
  for (long i = 0; i < w->txn_records; i++) wal_append_record(w);
  wal_sync(w);
}

int main(int argc, char **argv) {
  static const char *const known[] = {"dir", "txn-records", "record-bytes", "max-bytes", NULL};
  lab_check_args(argc, argv, known);
  const char *dir = lab_arg(argc, argv, "dir", NULL);
  if (dir == NULL) lab_usage_error("required", "--dir=PATH");
  static WriteAheadLog w;
  w.dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (w.dirfd < 0) lab_die(dir);
  w.fd = -1;
  w.txn_records = (long)lab_arg_num(argc, argv, "txn-records", 4);
  w.record_bytes = (size_t)lab_arg_num(argc, argv, "record-bytes", 512);
  w.max_bytes = (long)lab_arg_num(argc, argv, "max-bytes", 64 << 20);
  if (w.txn_records < 1 || w.record_bytes < 64 || w.record_bytes > sizeof w.record)
    lab_usage_error("bad sizes", "--txn-records>=1 --record-bytes=64..8192");
  memset(w.record, 'r', sizeof w.record);
  wal_open(&w);
  lab_run run;
  lab_latencies lat;
  memset(&lat, 0, sizeof lat);
  lab_run_begin(&run, argc, argv);
  while (lab_next_op(&run)) {
    uint64_t t0 = lab_now_ns();
    wal_commit_transaction(&w);
    lab_record(&lat, lab_now_ns() - t0);
  }
  char extra[128];
  snprintf(extra, sizeof extra, "\"records\":%ld,\"commits\":%ld,\"txn_records\":%ld", w.records, w.commits,
           w.txn_records);
  lab_write_stats(&run, "wal-writer", "wal", &lat, extra);
  return 0;
}
