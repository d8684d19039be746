/*
 * A query server that logs like a glog-based product: per query a little CPU (score a record), a
 * small pread of a table file, a log line through LogMessage::Flush -> LogFileObject::Write.
 *
 * --drop-log-memory=always     the bug: after every write, posix_fadvise(fd, 0, len, DONTNEED) over
 *                              the whole file (glog's --drop_log_memory before its rate limit)
 * --drop-log-memory=ratelimit  the fix (glog PR 145): drop only when at least 2 MiB more can be
 *                              dropped, and keep the newest 1 MiB cached for tailers
 * --drop-log-memory=off        no drop at all
 * --data=PATH (table file, read 4 KiB at a time), --log=PATH, --cpu-rounds=N (hash passes per query),
 * --log-lines=N (log lines per query: request, response, ...; each one a Write like LOG(INFO))
 *
 * Built with g++ the frames demangle as LogFileObject::Write(...), LogMessage::Flush(...),
 * QueryServer::HandleQuery(...); built with gcc (no g++) as LogFileObject_Write and so on.
 */
#include <fcntl.h>
#include <sys/stat.h>

#include "lab-common.h"
#include "lab-syscall.h"

#define LAB_PAGE 4096L
#define LAB_MIB (1L << 20)

enum DropMode { DROP_ALWAYS, DROP_RATELIMIT, DROP_OFF };

typedef struct {
  int fd;
  enum DropMode mode;
  long file_length;
  long dropped_length;
  long fadvise_calls;
} LogFile;

typedef struct {
  int fd;
  long blocks;
  uint64_t rng;
  unsigned char block[LAB_PAGE];
} Table;

#ifdef __cplusplus
struct LogFileObject {
  static void Write(LogFile *file, bool force_flush, time_t timestamp, const char *message, size_t len);
};
struct LogMessage {
  static void Flush(LogFile *file, const char *line, size_t len);
};
struct QueryServer {
  static void HandleQuery(Table *table, LogFile *log, long query_id, int cpu_rounds, int log_lines);
};
struct TableReader {
  static void ReadBlock(Table *table, long block);
};
#define LOGFILEOBJECT_WRITE LogFileObject::Write
#define LOGMESSAGE_FLUSH LogMessage::Flush
#define QUERYSERVER_HANDLEQUERY QueryServer::HandleQuery
#define TABLE_READBLOCK TableReader::ReadBlock
#else
#include <stdbool.h>
#define LOGFILEOBJECT_WRITE LogFileObject_Write
#define LOGMESSAGE_FLUSH LogMessage_Flush
#define QUERYSERVER_HANDLEQUERY QueryServer_HandleQuery
#define TABLE_READBLOCK TableReader_ReadBlock
#endif

/* The rate-limited drop: facts from glog PR 145 (2 MiB minimum drop, newest 1 MiB kept). */
static long drop_range_end(const LogFile *f) {
  if (f->mode == DROP_ALWAYS) return f->file_length & ~(LAB_PAGE - 1);
  long keep_from = (f->file_length & ~(LAB_MIB - 1)) - LAB_MIB;
  return keep_from - f->dropped_length >= 2 * LAB_MIB ? keep_from : -1;
}

LAB_NOINLINE void LOGFILEOBJECT_WRITE(LogFile *file, bool force_flush, time_t timestamp, const char *message,
                                      size_t len) {
  (void)force_flush;
  (void)timestamp;
  if (lab_write(file->fd, message, len) != (long)len) {
    errno = EIO;
    lab_die("write log");
  }
  file->file_length += (long)len;
  if (file->mode == DROP_OFF) return;
  long end = drop_range_end(file);
  if (end <= 0) return;
  long start = file->mode == DROP_ALWAYS ? 0 : file->dropped_length;
  lab_fadvise(file->fd, start, end - start, 4 /* POSIX_FADV_DONTNEED */);
  file->fadvise_calls++;
  file->dropped_length = end;
}

LAB_NOINLINE void LOGMESSAGE_FLUSH(LogFile *file, const char *line, size_t len) {
  LOGFILEOBJECT_WRITE(file, false, time(NULL), line, len);
}

LAB_NOINLINE void TABLE_READBLOCK(Table *table, long block) {
  if (lab_pread(table->fd, table->block, LAB_PAGE, block * LAB_PAGE) < 0) {
    errno = EIO;
    lab_die("pread table");
  }
}

static LAB_NOINLINE uint64_t ScoreRecord(const unsigned char *block, int rounds) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  for (int r = 0; r < rounds; r++)
    for (long i = 0; i < LAB_PAGE; i++) h = (h ^ block[i]) * 1099511628211ull;
  return h;
}

static uint64_t next_random(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

LAB_NOINLINE void QUERYSERVER_HANDLEQUERY(Table *table, LogFile *log, long query_id, int cpu_rounds,
                                          int log_lines) {
  long block = (long)(next_random(&table->rng) % (uint64_t)table->blocks);
  TABLE_READBLOCK(table, block);
  uint64_t score = ScoreRecord(table->block, cpu_rounds);
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  struct tm tm;
  localtime_r(&now.tv_sec, &tm);
  char line[256];
  for (int i = 0; i < log_lines; i++) {
    int n = snprintf(line, sizeof line,
                     "I%02d%02d %02d:%02d:%02d.%06ld %7d query_server.cc:%d] query=%ld block=%ld "
                     "score=%016llx part=%d status=OK\n",
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, now.tv_nsec / 1000,
                     (int)getpid(), 142 + i, query_id, block, (unsigned long long)score, i);
    LOGMESSAGE_FLUSH(log, line, (size_t)n);
  }
}

static enum DropMode parse_drop_mode(const char *v) {
  if (strcmp(v, "always") == 0) return DROP_ALWAYS;
  if (strcmp(v, "ratelimit") == 0) return DROP_RATELIMIT;
  if (strcmp(v, "off") == 0) return DROP_OFF;
  lab_usage_error("--drop-log-memory must be always, ratelimit or off", v);
  return DROP_OFF;
}

static void open_files(int argc, char **argv, Table *table, LogFile *log) {
  const char *data = lab_arg(argc, argv, "data", NULL);
  const char *log_path = lab_arg(argc, argv, "log", NULL);
  if (data == NULL || log_path == NULL) lab_usage_error("required", "--data=PATH --log=PATH");
  table->fd = open(data, O_RDONLY | O_CLOEXEC);
  if (table->fd < 0) lab_die(data);
  struct stat st;
  if (fstat(table->fd, &st) != 0) lab_die(data);
  table->blocks = st.st_size / LAB_PAGE;
  if (table->blocks < 1) lab_usage_error("table file smaller than 4 KiB", data);
  table->rng = 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid();
  log->fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_TRUNC | O_CLOEXEC, 0644);
  if (log->fd < 0) lab_die(log_path);
}

int main(int argc, char **argv) {
  static const char *const known[] = {"data", "log", "drop-log-memory", "cpu-rounds", "log-lines", NULL};
  lab_check_args(argc, argv, known);
  static Table table;
  LogFile log;
  memset(&log, 0, sizeof log);
  open_files(argc, argv, &table, &log);
  const char *mode = lab_arg(argc, argv, "drop-log-memory", "always");
  log.mode = parse_drop_mode(mode);
  int cpu_rounds = (int)lab_arg_num(argc, argv, "cpu-rounds", 4);
  int log_lines = (int)lab_arg_num(argc, argv, "log-lines", 2);
  lab_run run;
  lab_latencies lat;
  memset(&lat, 0, sizeof lat);
  lab_run_begin(&run, argc, argv);
  for (long q = 0; lab_next_op(&run); q++) {
    uint64_t t0 = lab_now_ns();
    QUERYSERVER_HANDLEQUERY(&table, &log, q, cpu_rounds, log_lines);
    lab_record(&lat, lab_now_ns() - t0);
  }
  char extra[256];
  snprintf(extra, sizeof extra, "\"log_bytes\":%ld,\"fadvise_calls\":%ld", log.file_length, log.fadvise_calls);
  lab_write_stats(&run, "query-server", mode, &lat, extra);
  return 0;
}
