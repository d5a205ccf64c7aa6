// The /proc/<pid> snapshot taken on the reader thread the moment an exec event arrives.
//
// Order matters: wrappers such as setsid and nohup replace their image within about a
// millisecond, so what their exec would change (cmdline, exe, stat with comm) is read first, for
// every exec of a burst, and only then the reads that survive an exec (status, cwd, cgroup). A
// burst of execs therefore does not delay the last one's cmdline behind the others' cgroups.
// Each read that fails is flagged in `failed` and the
// snapshot carries on; a process that is already gone (ENOENT/ESRCH, or a zombie whose memory,
// and so its cmdline, is released) is marked `gone`. Buffers are allocated once per snapshotter
// and reused; no iostreams.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

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
  snapshot_read_count
};

const char* snapshot_read_name(snapshot_read read);

struct proc_snapshot {
  std::string cmdline;  // raw bytes, NUL-separated arguments
  bool cmdline_truncated = false;
  std::string comm;
  std::string exe;
  std::string cwd;
  std::string cgroup;
  int32_t ppid = -1;
  int32_t pgid = -1;
  int32_t sid = -1;
  int32_t tty_nr = 0;
  int64_t start_ticks = -1;
  int64_t ruid = -1;
  int64_t euid = -1;
  int64_t rgid = -1;
  int64_t egid = -1;
  uint8_t failed = 0;  // bit set of snapshot_read
  bool gone = false;
  // CLOCK_MONOTONIC (the clock of the connector's timestamps) just before cmdline was read.
  uint64_t taken_ns = 0;
  // The process had already exec'd again when this was read: it describes the later image.
  bool stale = false;

  bool failed_read(snapshot_read read) const { return (failed & (1u << read)) != 0; }
};

// Parsers over file contents, exposed so they can be tested on crafted input.
// stat: fields after the last ')' (comm may hold spaces and parentheses).
bool parse_stat(const char* text, size_t size, proc_snapshot& out);
// status: the Uid: and Gid: lines (real, effective).
bool parse_status(const char* text, size_t size, proc_snapshot& out);
// cgroup: the path part of the first line ("0::/path" -> "/path").
bool parse_cgroup(const char* text, size_t size, std::string& path);

class proc_snapshotter {
 public:
  explicit proc_snapshotter(size_t cmdline_max_bytes);

  // The reads that an exec of the same pid would change (cmdline, exe, stat with comm): taken for
  // every exec of a burst before take_rest() runs for any of them, because setsid and nohup
  // replace their image within about a millisecond.
  // Runs on the reader thread.
  void take_urgent(pid_t pid, proc_snapshot& out);
  // status, cwd and cgroup: stable across the wrapper's exec.
  // Runs on the reader thread.
  void take_rest(pid_t pid, proc_snapshot& out);

 private:
  // Reads a whole small file into `buffer`; returns bytes read or -errno.
  ssize_t read_file(const char* path, std::vector<char>& buffer, size_t limit, bool& truncated);
  ssize_t read_link(const char* path, std::string& out);
  void fail(proc_snapshot& out, snapshot_read read, int err);

  size_t cmdline_max_bytes_;
  std::vector<char> cmdline_buffer_;
  std::vector<char> text_buffer_;
  std::vector<char> link_buffer_;
};

}  // namespace execwarden
