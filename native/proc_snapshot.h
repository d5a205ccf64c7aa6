// The /proc/<pid> snapshot taken on the reader thread the moment an exec event arrives.
//
// Order matters: wrappers such as setsid and nohup replace their image within about a
// millisecond, so what their exec would change (cmdline, exe, stat with comm, environ) is read
// first, for every exec of a burst, and only then the reads that survive an exec (status, cwd,
// cgroup). A burst of execs therefore does not delay the last one's cmdline behind the others'
// cgroups (reading /proc/<pid>/cgroup takes a global kernel lock).
//
// Each read that fails is flagged in `failed` and the snapshot carries on; a process that is
// already gone (ENOENT/ESRCH, or a zombie whose memory, and so its cmdline, is released) is marked
// `gone`. An empty cmdline of a live process that is not a zombie is an exec with an empty argv,
// not a loss. Buffers are allocated once per snapshotter and reused; no iostreams.
//
// The environment is never copied whole (it holds secrets): environ is scanned in fixed-size
// chunks and only variables whose name is on the allow-list are kept, each cut at
// `env_value_max_bytes`, at most `env_max_entries` of them (the last slot always holds the latest
// one, so padding with duplicates cannot push out the occurrence that counts), and the scan stops after
// `env_scan_max_bytes` (padding the environment cannot make the reader read without end; a scan
// cut short is flagged so the event says what it may have missed).
//
// A process found gone at the second half's first read (status: ENOENT or ESRCH, its /proc
// directory reaped) gets cwd and cgroup flagged as failed without trying them, and its own stdio
// completed without the reads through its fd links: the same snapshot those failing reads gave.
//
// The parent's stdio (fds 0-2, read in the second half) serves the parent's other children for a
// short while: in a fork storm one parent spawns thousands of children, and each would read the
// same three links again (plus statx and socket lookups). The last reading per parent pid is kept
// (at most parent_stdio_max_entries) and reused for another child's snapshot taken less than
// `parent_stdio_reuse_ns` (2 ms) after it: the reading is then no further from the child's exec
// than the second half itself may be, since a batch waits up to 2 ms for it. Safe against pid
// reuse: the parent's exit event, which comes before any event of a process that reuses its pid,
// drops its entry (forget_parent), and a reading of a parent already gone or a zombie (no fds
// left; its exit may have been handled already) is not kept. The only staleness: a parent that
// changes its own fds 0-2 (`exec 0<&5`) and spawns another child within 2 ms of the reading; its
// later children show the change.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "stdio_probe.h"

namespace execwarden {

// Bit positions in proc_snapshot::failed, in the order of SnapshotRead in raw-event.ts.
enum snapshot_read : uint8_t {
  read_cmdline = 0,
  read_comm,
  read_stat,
  read_status,
  read_exe,
  read_cwd,
  read_cgroup,
  read_environ,
  snapshot_read_count
};

const char* snapshot_read_name(snapshot_read read);

struct proc_snapshot {
  std::string cmdline;  // raw bytes, NUL-separated arguments
  bool cmdline_truncated = false;
  // When cmdline was cut: where in `cmdline` the kept tail of the whole cmdline begins (the
  // bytes between the head and the tail were not kept); -1 when there is no tail.
  int64_t cmdline_tail_offset = -1;
  // When cmdline was cut: how many arguments the whole of it holds (the rest is counted, not
  // kept), and whether the count reached the end (false: it stopped at args_count_max_bytes).
  int64_t args_total = -1;
  bool args_total_exact = true;
  std::string comm;
  std::string exe;
  std::string cwd;
  std::string cgroup;  // the whole /proc/<pid>/cgroup text (every hierarchy, one per line)
  std::vector<std::string> env;  // "NAME=value" for allow-listed names, in environ order
  bool env_truncated = false;    // the scan or a kept value was cut short
  bool env_read = false;         // environ was read (there is an allow-list)
  char state = '\0';             // stat field 3
  int32_t ppid = -1;
  int32_t pgid = -1;
  int32_t sid = -1;
  int32_t tty_nr = 0;
  int64_t start_ticks = -1;
  int64_t flags = -1;  // stat field 9, the kernel's PF_* flags (PF_KTHREAD marks a kernel thread)
  // From status: Uid/Gid lines (real, effective, saved) and the capability sets.
  int64_t ruid = -1;
  int64_t euid = -1;
  int64_t suid = -1;
  int64_t rgid = -1;
  int64_t egid = -1;
  int64_t sgid = -1;
  int64_t cap_permitted = -1;
  int64_t cap_effective = -1;
  int64_t cap_bounding = -1;
  uint16_t failed = 0;  // bit set of snapshot_read
  bool gone = false;
  // CLOCK_MONOTONIC (the clock of the connector's timestamps) just before cmdline was read, and
  // just after the urgent reads ended.
  uint64_t taken_ns = 0;
  uint64_t urgent_done_ns = 0;
  // The process had already exec'd again when this was read: it describes the later image.
  bool stale = false;
  // The process read started after the exec event: the pid was reused by another process.
  bool started_after_event = false;
  // The process renamed itself (prctl PR_SET_NAME, /proc/self/comm) before comm was read: comm
  // is not the name the kernel gave it at exec.
  bool comm_renamed = false;
  // fds 0-2 of the process (links read in the urgent half) and of its parent at this exec.
  stdio_set stdio;
  stdio_set parent_stdio;

  bool failed_read(snapshot_read read) const { return (failed & (1u << read)) != 0; }
};

// Parsers over file contents, exposed so they can be tested on crafted input.
// What a snapshot holds in memory, its texts and its own size: what a batch counts against the
// bound on bytes waiting for JS (reader_options::max_queued_bytes).
size_t snapshot_bytes(const proc_snapshot& snapshot);

// stat: fields after the last ')' (comm may hold spaces and parentheses).
bool parse_stat(const char* text, size_t size, proc_snapshot& out);
// Reads and parses a stat file (its fields land in `out`); 0, or the errno (ESRCH: reaped).
int read_stat_file(const char* path, proc_snapshot& out);
// status: the Uid: and Gid: lines (real, effective, saved) and CapPrm/CapEff/CapBnd.
bool parse_status(const char* text, size_t size, proc_snapshot& out);

struct snapshot_options {
  std::string proc_root = "/proc";
  size_t cmdline_max_bytes = 128 * 1024;
  // Of a cut cmdline, this many bytes of its end are kept within cmdline_max_bytes, so a payload
  // placed after padding is still seen (at most half the cap).
  size_t cmdline_tail_bytes = 16 * 1024;
  // Bytes of cmdline read past the kept ones only to count the arguments.
  size_t args_count_max_bytes = 16 * 1024 * 1024;
  std::vector<std::string> env_names;  // the allow-list; empty: environ is not read
  size_t env_scan_max_bytes = 1024 * 1024;
  size_t env_value_max_bytes = 1024;
  size_t env_max_entries = 16;
  // Standard streams of the process and its parent; socket listings scanned at most this far.
  bool stdio = true;
  size_t procnet_max_bytes = 4 * 1024 * 1024;
  // Time the reader may spend scanning socket listings, per second (stdio_probe.h).
  uint64_t socket_scan_budget_ns = 100'000'000;
  // How long a parent's stdio reading serves its other children (see above); 0: never reused.
  uint64_t parent_stdio_reuse_ns = 2'000'000;
};

class proc_snapshotter {
 public:
  static constexpr size_t parent_stdio_max_entries = 64;

  explicit proc_snapshotter(snapshot_options options);

  // The reads that an exec of the same pid would change (cmdline, exe, stat with comm, environ),
  // and the stdio links, which the new image may change right away:
  // taken for every exec of a burst before take_rest() runs for any of them, because setsid and
  // nohup replace their image within about a millisecond.
  // Runs on the reader thread.
  void take_urgent(pid_t pid, proc_snapshot& out);
  // status, cwd and cgroup: stable across the wrapper's exec; then what the stdio links did not
  // tell, and the parent's stdio.
  // Runs on the reader thread.
  void take_rest(pid_t pid, proc_snapshot& out);

  const stdio_probe_stats& stdio_stats() const { return stdio_.stats(); }
  // Parent stdio readings reused for another child, and readings kept now.
  uint64_t parent_stdio_reused() const { return parent_stdio_reused_; }
  size_t parent_stdio_entries() const { return parent_stdio_.size(); }

  // The process exited: its stdio reading must not serve a later process with its pid.
  // Runs on the reader thread.
  void forget_parent(pid_t pid) { parent_stdio_.erase(pid); }

  // stat field 22 of a process (clock ticks since boot), or -1 when it cannot be read.
  // Runs on the reader thread.
  int64_t read_start_ticks(pid_t pid);

  // Keep less of each cmdline from now on (short: twice its tail, head and end as with any cut),
  // or the configured cap again. The reader asks for it while JS is behind (reader.h).
  // Runs on the reader thread.
  void keep_short_cmdlines(bool short_ones);

 private:
  // Reads a whole small file into `buffer`; returns bytes read or -errno.
  ssize_t read_file(const char* path, std::vector<char>& buffer, size_t limit, bool& truncated);
  ssize_t read_link(const char* path, std::string& out);
  ssize_t read_argv(const char* path, proc_snapshot& out);
  void scan_environ(const char* path, proc_snapshot& out);
  bool env_name_wanted(const char* name, size_t length) const;
  void keep_env(proc_snapshot& out, std::string& entry);
  void format_path(pid_t pid, const char* name);
  void fail(proc_snapshot& out, snapshot_read read, int err);
  void read_parent_stdio(pid_t ppid, stdio_set& out);

  struct parent_reading {
    stdio_set stdio;
    uint64_t taken_ns = 0;  // CLOCK_MONOTONIC, just before the links were read
  };

  snapshot_options options_;
  size_t env_name_max_ = 0;
  bool env_first_bytes_[256] = {};  // first bytes of the wanted names
  std::vector<char> cmdline_buffer_;
  std::vector<char> text_buffer_;
  std::vector<char> link_buffer_;
  std::vector<char> env_buffer_;
  std::vector<char> tail_ring_;
  size_t cmdline_limit_ = 0;  // cmdline_max_bytes, or twice the tail while JS is behind
  std::string path_;
  stdio_prober stdio_;
  std::unordered_map<pid_t, parent_reading> parent_stdio_;
  uint64_t parent_stdio_reused_ = 0;
};

}  // namespace execwarden
