#include "proc_snapshot.h"

#include <fcntl.h>
#include <limits.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>

namespace execwarden {
namespace {

constexpr size_t text_buffer_size = 8192;
constexpr size_t path_buffer_size = 64;

// "/proc/<pid>/<name>" without snprintf's format parsing.
void format_path(char (&buffer)[path_buffer_size], pid_t pid, const char* name) {
  char digits[16];
  size_t n = 0;
  auto value = static_cast<unsigned long>(pid);
  do {
    digits[n++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value != 0 && n < sizeof digits);
  char* p = buffer;
  std::memcpy(p, "/proc/", 6);
  p += 6;
  while (n > 0) *p++ = digits[--n];
  *p++ = '/';
  const size_t name_len = std::strlen(name);
  std::memcpy(p, name, name_len + 1);
}

bool is_gone(int err) { return err == ENOENT || err == ESRCH; }

// Parses a decimal (optionally negative) integer at *cursor and advances past it.
bool parse_int(const char*& cursor, const char* end, int64_t& value) {
  while (cursor < end && (*cursor == ' ' || *cursor == '\t')) ++cursor;
  bool negative = false;
  if (cursor < end && *cursor == '-') {
    negative = true;
    ++cursor;
  }
  if (cursor >= end || *cursor < '0' || *cursor > '9') return false;
  int64_t v = 0;
  while (cursor < end && *cursor >= '0' && *cursor <= '9') {
    v = v * 10 + (*cursor - '0');
    ++cursor;
  }
  value = negative ? -v : v;
  return true;
}

bool skip_field(const char*& cursor, const char* end) {
  while (cursor < end && *cursor == ' ') ++cursor;
  if (cursor >= end) return false;
  while (cursor < end && *cursor != ' ') ++cursor;
  return true;
}

// Finds "\n<key>" (or <key> at the start) and parses the first two numbers after it.
bool parse_id_pair(const char* text, size_t size, const char* key, int64_t& real, int64_t& effective) {
  const size_t key_len = std::strlen(key);
  const char* end = text + size;
  for (const char* line = text; line < end;) {
    const char* eol = static_cast<const char*>(std::memchr(line, '\n', static_cast<size_t>(end - line)));
    const char* line_end = eol ? eol : end;
    if (static_cast<size_t>(line_end - line) > key_len && std::memcmp(line, key, key_len) == 0) {
      const char* cursor = line + key_len;
      return parse_int(cursor, line_end, real) && parse_int(cursor, line_end, effective);
    }
    line = line_end + 1;
  }
  return false;
}

}  // namespace

const char* snapshot_read_name(snapshot_read read) {
  switch (read) {
    case read_cmdline: return "cmdline";
    case read_comm: return "comm";
    case read_stat: return "stat";
    case read_status: return "status";
    case read_exe: return "exe";
    case read_cwd: return "cwd";
    case read_cgroup: return "cgroup";
    case snapshot_read_count: break;
  }
  return "unknown";
}

bool parse_stat(const char* text, size_t size, proc_snapshot& out) {
  const char* end = text + size;
  const char* close = nullptr;
  for (const char* p = end; p > text; --p) {
    if (p[-1] == ')') {
      close = p;
      break;
    }
  }
  if (close == nullptr) return false;
  const char* open = static_cast<const char*>(std::memchr(text, '(', static_cast<size_t>(close - text)));
  if (open == nullptr) return false;
  const char* cursor = close;
  // Field 3 is the state letter; fields 4-7 are ppid, pgrp, session, tty_nr; 22 is starttime.
  if (!skip_field(cursor, end)) return false;
  int64_t ppid, pgrp, session, tty;
  if (!parse_int(cursor, end, ppid) || !parse_int(cursor, end, pgrp) || !parse_int(cursor, end, session) ||
      !parse_int(cursor, end, tty)) {
    return false;
  }
  for (int field = 8; field < 22; ++field) {
    if (!skip_field(cursor, end)) return false;
  }
  int64_t start;
  if (!parse_int(cursor, end, start)) return false;
  out.ppid = static_cast<int32_t>(ppid);
  out.pgid = static_cast<int32_t>(pgrp);
  out.sid = static_cast<int32_t>(session);
  out.tty_nr = static_cast<int32_t>(tty);
  out.start_ticks = start;
  out.comm.assign(open + 1, static_cast<size_t>(close - 1 - (open + 1)));
  return true;
}

bool parse_status(const char* text, size_t size, proc_snapshot& out) {
  int64_t ruid, euid, rgid, egid;
  if (!parse_id_pair(text, size, "Uid:", ruid, euid) || !parse_id_pair(text, size, "Gid:", rgid, egid)) {
    return false;
  }
  out.ruid = ruid;
  out.euid = euid;
  out.rgid = rgid;
  out.egid = egid;
  return true;
}

bool parse_cgroup(const char* text, size_t size, std::string& path) {
  const char* end = static_cast<const char*>(std::memchr(text, '\n', size));
  if (end == nullptr) end = text + size;
  // "hierarchy-id:controllers:path"; the path may itself contain ':'.
  const char* first = static_cast<const char*>(std::memchr(text, ':', static_cast<size_t>(end - text)));
  if (first == nullptr) return false;
  const char* second = static_cast<const char*>(std::memchr(first + 1, ':', static_cast<size_t>(end - first - 1)));
  if (second == nullptr) return false;
  path.assign(second + 1, end);
  return true;
}

proc_snapshotter::proc_snapshotter(size_t cmdline_max_bytes)
    : cmdline_max_bytes_(cmdline_max_bytes),
      cmdline_buffer_(cmdline_max_bytes),
      text_buffer_(text_buffer_size),
      link_buffer_(PATH_MAX + 1) {}

// Runs on the reader thread.
ssize_t proc_snapshotter::read_file(const char* path, std::vector<char>& buffer, size_t limit, bool& truncated) {
  truncated = false;
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  size_t used = 0;
  ssize_t result = 0;
  while (used < limit) {
    const ssize_t got = ::read(fd, buffer.data() + used, limit - used);
    if (got < 0) {
      if (errno == EINTR) continue;
      result = -errno;
      break;
    }
    if (got == 0) break;
    used += static_cast<size_t>(got);
  }
  if (result == 0 && used == limit) {
    char probe;
    ssize_t more;
    do {
      more = ::read(fd, &probe, 1);
    } while (more < 0 && errno == EINTR);
    truncated = more > 0;
  }
  ::close(fd);
  return result < 0 ? result : static_cast<ssize_t>(used);
}

// Runs on the reader thread.
ssize_t proc_snapshotter::read_link(const char* path, std::string& out) {
  const ssize_t got = ::readlink(path, link_buffer_.data(), link_buffer_.size());
  if (got < 0) return -errno;
  out.assign(link_buffer_.data(), static_cast<size_t>(got));
  return got;
}

// Runs on the reader thread.
void proc_snapshotter::fail(proc_snapshot& out, snapshot_read read, int err) {
  out.failed = static_cast<uint8_t>(out.failed | (1u << read));
  if (is_gone(err)) out.gone = true;
}

// Runs on the reader thread.
void proc_snapshotter::take_urgent(pid_t pid, proc_snapshot& out) {
  char path[path_buffer_size];
  bool truncated = false;
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  out.taken_ns = static_cast<uint64_t>(now.tv_sec) * 1000000000ull + static_cast<uint64_t>(now.tv_nsec);

  format_path(path, pid, "cmdline");
  ssize_t got = read_file(path, cmdline_buffer_, cmdline_max_bytes_, truncated);
  if (got > 0) {
    out.cmdline.assign(cmdline_buffer_.data(), static_cast<size_t>(got));
    out.cmdline_truncated = truncated;
  } else {
    // Zero bytes after an exec means the memory is already released: the process is a zombie.
    fail(out, read_cmdline, got == 0 ? ESRCH : static_cast<int>(-got));
  }

  format_path(path, pid, "exe");
  got = read_link(path, out.exe);
  if (got < 0) fail(out, read_exe, static_cast<int>(-got));

  // stat carries comm too (between the first '(' and the last ')'), saving an open of comm.
  const size_t text_limit = text_buffer_.size() - 1;
  format_path(path, pid, "stat");
  got = read_file(path, text_buffer_, text_limit, truncated);
  if (got <= 0 || !parse_stat(text_buffer_.data(), static_cast<size_t>(got), out)) {
    const int err = got < 0 ? static_cast<int>(-got) : EINVAL;
    fail(out, read_stat, err);
    fail(out, read_comm, err);
  }
}

// Runs on the reader thread.
void proc_snapshotter::take_rest(pid_t pid, proc_snapshot& out) {
  char path[path_buffer_size];
  bool truncated = false;
  const size_t text_limit = text_buffer_.size() - 1;

  format_path(path, pid, "status");
  ssize_t got = read_file(path, text_buffer_, text_limit, truncated);
  if (got <= 0 || !parse_status(text_buffer_.data(), static_cast<size_t>(got), out)) {
    fail(out, read_status, got < 0 ? static_cast<int>(-got) : EINVAL);
  }

  format_path(path, pid, "cwd");
  got = read_link(path, out.cwd);
  if (got < 0) fail(out, read_cwd, static_cast<int>(-got));

  format_path(path, pid, "cgroup");
  got = read_file(path, text_buffer_, text_limit, truncated);
  if (got <= 0 || !parse_cgroup(text_buffer_.data(), static_cast<size_t>(got), out.cgroup)) {
    fail(out, read_cgroup, got < 0 ? static_cast<int>(-got) : EINVAL);
  }
}

}  // namespace execwarden
