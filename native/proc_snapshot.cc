#include "proc_snapshot.h"

#include "proc_util.h"

#include <fcntl.h>
#include <limits.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <utility>

namespace execwarden {
namespace {

constexpr size_t text_buffer_size = 8192;
constexpr size_t env_chunk_size = 16384;
// Longer names are never on an allow-list (the config refuses them), so a longer one is skipped.
constexpr size_t env_name_limit = 128;

// Reads from `fd` until `limit` bytes or end of file; returns the bytes read, or -errno when a
// read failed. The /proc files read here (stat, status, cgroup: one seq_file record; cmdline and
// environ: copied in a loop until the request is met) give everything they have up to the size
// asked for in one read, so a shorter read is the end, and the read that would return 0 is not
// made: a syscall saved per file, several per exec.
ssize_t read_up_to(int fd, char* buffer, size_t limit) {
  size_t used = 0;
  while (used < limit) {
    const size_t want = limit - used;
    const ssize_t got = ::read(fd, buffer + used, want);
    if (got < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    used += static_cast<size_t>(got);
    if (static_cast<size_t>(got) < want) break;
  }
  return static_cast<ssize_t>(used);
}

// One more byte to read: the file holds more than was read.
bool has_more(int fd) {
  char probe;
  ssize_t more;
  do {
    more = ::read(fd, &probe, 1);
  } while (more < 0 && errno == EINTR);
  return more > 0;
}

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
  int digits = 0;
  while (cursor < end && *cursor >= '0' && *cursor <= '9') {
    if (++digits > 18) return false;  // no /proc number this reader wants is that long
    v = v * 10 + (*cursor - '0');
    ++cursor;
  }
  value = negative ? -v : v;
  return true;
}

// Parses a hexadecimal capability mask (16 digits in status). Bits above 52 do not exist.
bool parse_hex(const char*& cursor, const char* end, int64_t& value) {
  while (cursor < end && (*cursor == ' ' || *cursor == '\t')) ++cursor;
  uint64_t v = 0;
  int digits = 0;
  for (; cursor < end; ++cursor) {
    const char c = *cursor;
    int nibble;
    if (c >= '0' && c <= '9') nibble = c - '0';
    else if (c >= 'a' && c <= 'f') nibble = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') nibble = c - 'A' + 10;
    else break;
    if (++digits > 16) return false;
    v = (v << 4) | static_cast<uint64_t>(nibble);
  }
  if (digits == 0 || v >= (1ull << 53)) return false;  // must stay exact as a JS number
  value = static_cast<int64_t>(v);
  return true;
}

bool skip_field(const char*& cursor, const char* end) {
  while (cursor < end && *cursor == ' ') ++cursor;
  if (cursor >= end) return false;
  while (cursor < end && *cursor != ' ') ++cursor;
  return true;
}

// The text after "<key>" on the line that starts with it, or nullptr.
const char* find_line(const char* text, size_t size, const char* key, const char*& line_end) {
  const size_t key_len = std::strlen(key);
  const char* end = text + size;
  for (const char* line = text; line < end;) {
    const char* eol = static_cast<const char*>(std::memchr(line, '\n', static_cast<size_t>(end - line)));
    line_end = eol ? eol : end;
    if (static_cast<size_t>(line_end - line) > key_len && std::memcmp(line, key, key_len) == 0) return line + key_len;
    line = line_end + 1;
  }
  return nullptr;
}

// "Uid:\treal\teffective\tsaved\tfs" (likewise Gid:).
bool parse_id_triple(const char* text, size_t size, const char* key, int64_t& real, int64_t& effective,
                     int64_t& saved) {
  const char* line_end = nullptr;
  const char* cursor = find_line(text, size, key, line_end);
  return cursor != nullptr && parse_int(cursor, line_end, real) && parse_int(cursor, line_end, effective) &&
         parse_int(cursor, line_end, saved);
}

bool parse_cap(const char* text, size_t size, const char* key, int64_t& mask) {
  const char* line_end = nullptr;
  const char* cursor = find_line(text, size, key, line_end);
  return cursor != nullptr && parse_hex(cursor, line_end, mask);
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
    case read_environ: return "environ";
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
  while (cursor < end && *cursor == ' ') ++cursor;
  if (cursor >= end) return false;
  const char state = *cursor;
  if (!skip_field(cursor, end)) return false;
  int64_t ppid, pgrp, session, tty;
  if (!parse_int(cursor, end, ppid) || !parse_int(cursor, end, pgrp) || !parse_int(cursor, end, session) ||
      !parse_int(cursor, end, tty)) {
    return false;
  }
  // Field 8 is tpgid, 9 the kernel's PF_* flags.
  int64_t flags;
  if (!skip_field(cursor, end) || !parse_int(cursor, end, flags)) return false;
  for (int field = 10; field < 22; ++field) {
    if (!skip_field(cursor, end)) return false;
  }
  int64_t start;
  if (!parse_int(cursor, end, start)) return false;
  out.state = state;
  out.ppid = static_cast<int32_t>(ppid);
  out.pgid = static_cast<int32_t>(pgrp);
  out.sid = static_cast<int32_t>(session);
  out.tty_nr = static_cast<int32_t>(tty);
  out.start_ticks = start;
  out.flags = flags;
  out.comm.assign(open + 1, static_cast<size_t>(close - 1 - (open + 1)));
  return true;
}

int read_stat_file(const char* path, proc_snapshot& out) {
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  char text[4096];  // stat is a few hundred bytes: 52 numbers and a 16-byte comm
  const ssize_t got = read_up_to(fd, text, sizeof text);
  ::close(fd);
  if (got < 0) return static_cast<int>(-got);
  if (got == 0) return ESRCH;  // the process was reaped between open and read
  return parse_stat(text, static_cast<size_t>(got), out) ? 0 : EINVAL;
}

bool parse_status(const char* text, size_t size, proc_snapshot& out) {
  int64_t ruid, euid, suid, rgid, egid, sgid;
  if (!parse_id_triple(text, size, "Uid:", ruid, euid, suid) || !parse_id_triple(text, size, "Gid:", rgid, egid, sgid)) {
    return false;
  }
  out.ruid = ruid;
  out.euid = euid;
  out.suid = suid;
  out.rgid = rgid;
  out.egid = egid;
  out.sgid = sgid;
  // Capability lines exist on every kernel this runs on; a missing one stays unknown (-1).
  parse_cap(text, size, "CapPrm:", out.cap_permitted);
  parse_cap(text, size, "CapEff:", out.cap_effective);
  parse_cap(text, size, "CapBnd:", out.cap_bounding);
  return true;
}

proc_snapshotter::proc_snapshotter(snapshot_options options)
    : options_(std::move(options)),
      cmdline_buffer_(options_.cmdline_max_bytes),
      text_buffer_(text_buffer_size),
      link_buffer_(PATH_MAX + 1),
      stdio_(options_.proc_root, options_.procnet_max_bytes, options_.socket_scan_budget_ns) {
  for (const std::string& name : options_.env_names) {
    if (name.size() > env_name_max_) env_name_max_ = name.size();
    if (!name.empty()) env_first_bytes_[static_cast<unsigned char>(name[0])] = true;
  }
  if (!options_.env_names.empty()) env_buffer_.resize(env_chunk_size);
  path_.reserve(options_.proc_root.size() + 32);
  tail_ring_.resize(std::min(options_.cmdline_tail_bytes, options_.cmdline_max_bytes / 2));
  cmdline_limit_ = options_.cmdline_max_bytes;
}

// "<root>/<pid>/<name>" without snprintf's format parsing.
// Runs on the reader thread.
void proc_snapshotter::format_path(pid_t pid, const char* name) {
  format_proc_path(path_, options_.proc_root, pid, name);
}

// Runs on the reader thread.
ssize_t proc_snapshotter::read_file(const char* path, std::vector<char>& buffer, size_t limit, bool& truncated) {
  truncated = false;
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  const ssize_t used = read_up_to(fd, buffer.data(), limit);
  if (used >= 0 && static_cast<size_t>(used) == limit) truncated = has_more(fd);
  ::close(fd);
  return used;
}

// A cmdline that fits cmdline_max_bytes is kept whole. A longer one keeps its head and, within
// the same cap, its last cmdline_tail_bytes (through a ring buffer as the rest streams by), so a
// payload placed after padding is still seen; the rest is read only to count its arguments
// (NULs), at most args_count_max_bytes more, so args_count stays the real count.
// Returns the bytes kept or -errno.
// Runs on the reader thread.
ssize_t proc_snapshotter::read_argv(const char* path, proc_snapshot& out) {
  bool truncated = false;
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  const size_t limit = cmdline_limit_;
  size_t used = 0;
  ssize_t result = 0;
  size_t extra = 0;
  const size_t ring_size = tail_ring_.size();
  size_t ring_pos = 0;  // next write position; bytes in the ring: min(extra, ring_size)
  bool beyond = false;  // more bytes than were read to count
  const ssize_t head_got = read_up_to(fd, cmdline_buffer_.data(), limit);
  if (head_got < 0) result = head_got;
  else used = static_cast<size_t>(head_got);
  if (result == 0 && used == limit) {
    int64_t nuls = std::count(cmdline_buffer_.begin(), cmdline_buffer_.begin() + static_cast<std::ptrdiff_t>(used), '\0');
    char last = used > 0 ? cmdline_buffer_[used - 1] : '\0';
    for (;;) {
      if (extra >= options_.args_count_max_bytes) {
        if (has_more(fd)) {
          out.args_total_exact = false;
          beyond = true;
        }
        break;
      }
      const size_t want = std::min(text_buffer_.size(), options_.args_count_max_bytes - extra);
      const ssize_t got = ::read(fd, text_buffer_.data(), want);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) break;
      extra += static_cast<size_t>(got);
      nuls += std::count(text_buffer_.begin(), text_buffer_.begin() + got, '\0');
      last = text_buffer_[static_cast<size_t>(got) - 1];
      for (size_t copied = 0; ring_size > 0 && copied < static_cast<size_t>(got);) {
        const size_t n = std::min(ring_size - ring_pos, static_cast<size_t>(got) - copied);
        std::memcpy(tail_ring_.data() + ring_pos, text_buffer_.data() + copied, n);
        copied += n;
        ring_pos = (ring_pos + n) % ring_size;
      }
      if (static_cast<size_t>(got) < want) break;  // the end (see read_up_to)
    }
    truncated = extra > 0 || beyond;
    if (truncated) out.args_total = nuls + (last != '\0' ? 1 : 0);
  }
  ::close(fd);
  if (result < 0) return result;
  if (used > 0 && extra > 0 && !tail_ring_.empty()) {
    // head: the first (cap - tail) bytes; tail: the last `tail` bytes of the whole cmdline, taken
    // from the end of the kept buffer when the rest is shorter than the tail.
    const size_t tail = tail_ring_.size();
    const size_t head = used - tail;
    const size_t from_rest = std::min(extra, tail);
    out.cmdline.reserve(used);
    out.cmdline.assign(cmdline_buffer_.data(), head);
    out.cmdline.append(cmdline_buffer_.data() + used - (tail - from_rest), tail - from_rest);
    if (from_rest == tail) {
      out.cmdline.append(tail_ring_.data() + ring_pos, tail - ring_pos);
      out.cmdline.append(tail_ring_.data(), ring_pos);
    } else {
      out.cmdline.append(tail_ring_.data(), from_rest);
    }
    out.cmdline_tail_offset = static_cast<int64_t>(head);
    out.cmdline_truncated = true;
  } else if (used > 0) {
    out.cmdline.assign(cmdline_buffer_.data(), used);
    out.cmdline_truncated = truncated;
  }
  return static_cast<ssize_t>(used);
}

// Runs on the reader thread.
ssize_t proc_snapshotter::read_link(const char* path, std::string& out) {
  const ssize_t got = ::readlink(path, link_buffer_.data(), link_buffer_.size());
  if (got < 0) return -errno;
  out.assign(link_buffer_.data(), static_cast<size_t>(got));
  return got;
}

// Runs on the reader thread.
bool proc_snapshotter::env_name_wanted(const char* name, size_t length) const {
  for (const std::string& wanted : options_.env_names) {
    if (wanted.size() == length && std::memcmp(wanted.data(), name, length) == 0) return true;
  }
  return false;
}

// Keeps a wanted entry. Past the entry cap the last slot is overwritten, so the last occurrence
// of a name (the one the dynamic loader honours for LD_PRELOAD) is never pushed out by padding.
// Runs on the reader thread.
void proc_snapshotter::keep_env(proc_snapshot& out, std::string& entry) {
  if (out.env.size() < options_.env_max_entries) {
    out.env.push_back(std::move(entry));
  } else {
    out.env.back() = std::move(entry);
    out.env_truncated = true;
  }
  entry.clear();
}

// Streams environ through a fixed buffer: an entry is "NAME=value\0"; only the name is buffered
// until it is known, and only a wanted entry's value is kept (see the header).
// Runs on the reader thread.
void proc_snapshotter::scan_environ(const char* path, proc_snapshot& out) {
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    fail(out, read_environ, errno);
    return;
  }
  enum class phase { name, keep, skip } at = phase::name;
  std::string entry;  // the name (phase::name) or the kept "NAME=value" (phase::keep)
  size_t scanned = 0;
  for (;;) {
    if (scanned >= options_.env_scan_max_bytes) {
      if (has_more(fd)) out.env_truncated = true;
      break;
    }
    const size_t want = std::min(env_buffer_.size(), options_.env_scan_max_bytes - scanned);
    const ssize_t got = ::read(fd, env_buffer_.data(), want);
    if (got < 0) {
      if (errno == EINTR) continue;
      fail(out, read_environ, errno);
      break;
    }
    if (got == 0) break;
    scanned += static_cast<size_t>(got);
    const bool last_chunk = static_cast<size_t>(got) < want;  // the end (see read_up_to)
    const char* p = env_buffer_.data();
    const char* const chunk_end = p + got;
    while (p < chunk_end) {
      const auto left = static_cast<size_t>(chunk_end - p);
      if (at == phase::skip || at == phase::keep) {
        // Jump to the entry's end; a kept value takes what fits under its cap.
        const char* nul = static_cast<const char*>(std::memchr(p, '\0', left));
        const char* stop = nul != nullptr ? nul : chunk_end;
        if (at == phase::keep) {
          const size_t room = options_.env_value_max_bytes > entry.size() ? options_.env_value_max_bytes - entry.size() : 0;
          const auto length = static_cast<size_t>(stop - p);
          entry.append(p, std::min(room, length));
          if (length > room) out.env_truncated = true;
        }
        if (nul == nullptr) break;
        if (at == phase::keep) keep_env(out, entry);
        entry.clear();
        at = phase::name;
        p = nul + 1;
        continue;
      }
      // phase::name: a name that cannot be wanted is skipped at its first byte that says so.
      const char c = *p++;
      if (c == '\0') {
        entry.clear();
      } else if (c == '=') {
        const bool wanted = env_name_wanted(entry.data(), entry.size());
        entry.push_back('=');
        at = wanted ? phase::keep : phase::skip;
        if (!wanted) entry.clear();
      } else if (entry.size() >= env_name_max_ || entry.size() >= env_name_limit ||
                 (entry.empty() && !env_first_bytes_[static_cast<unsigned char>(c)])) {
        entry.clear();
        at = phase::skip;
      } else {
        entry.push_back(c);
      }
    }
    if (last_chunk) break;
  }
  // A last entry without its NUL (cut by the scan limit) is kept as far as it was read.
  if (at == phase::keep) keep_env(out, entry);
  ::close(fd);
}

// Runs on the reader thread.
void proc_snapshotter::fail(proc_snapshot& out, snapshot_read read, int err) {
  out.failed = static_cast<uint16_t>(out.failed | (1u << read));
  if (is_gone(err)) out.gone = true;
}

// Runs on the reader thread.
void proc_snapshotter::take_urgent(pid_t pid, proc_snapshot& out) {
  out.taken_ns = monotonic_ns();

  format_path(pid, "cmdline");
  const ssize_t cmdline_got = read_argv(path_.c_str(), out);

  format_path(pid, "exe");
  ssize_t got = read_link(path_.c_str(), out.exe);
  if (got < 0) fail(out, read_exe, static_cast<int>(-got));

  // stat carries comm too (between the first '(' and the last ')'), saving an open of comm.
  format_path(pid, "stat");
  const int stat_error = read_stat_file(path_.c_str(), out);
  const bool stat_ok = stat_error == 0;
  if (!stat_ok) {
    fail(out, read_stat, stat_error);
    fail(out, read_comm, stat_error);
  }

  if (cmdline_got < 0) {
    fail(out, read_cmdline, static_cast<int>(-cmdline_got));
  } else if (cmdline_got == 0 && (!stat_ok || out.state == 'Z' || out.state == 'X')) {
    // No bytes from a zombie (or a process whose stat is gone too): its memory is released.
    fail(out, read_cmdline, ESRCH);
  }
  // Otherwise zero bytes from a live process: it was exec'd with an empty argv.

  if (options_.stdio) stdio_.read_links(pid, out.stdio);

  if (!options_.env_names.empty()) {
    out.env_read = true;
    format_path(pid, "environ");
    scan_environ(path_.c_str(), out);
  }
  out.urgent_done_ns = monotonic_ns();
}

// Runs on the reader thread.
void proc_snapshotter::keep_short_cmdlines(bool short_ones) {
  cmdline_limit_ = short_ones && !tail_ring_.empty() ? std::min(options_.cmdline_max_bytes, 2 * tail_ring_.size())
                                                     : options_.cmdline_max_bytes;
}

size_t snapshot_bytes(const proc_snapshot& snapshot) {
  size_t bytes = sizeof(proc_snapshot) + snapshot.cmdline.size() + snapshot.comm.size() + snapshot.exe.size() +
                 snapshot.cwd.size() + snapshot.cgroup.size();
  for (const std::string& entry : snapshot.env) bytes += sizeof(std::string) + entry.size();
  for (const stdio_set* set : {&snapshot.stdio, &snapshot.parent_stdio}) {
    bytes += set->netns.size();
    for (const stdio_stream& stream : set->streams) {
      bytes += stream.link.size() + stream.socket.local.address.size() + stream.socket.remote.address.size();
    }
  }
  return bytes;
}

// Runs on the reader thread.
int64_t proc_snapshotter::read_start_ticks(pid_t pid) {
  format_path(pid, "stat");
  proc_snapshot stat;
  return read_stat_file(path_.c_str(), stat) == 0 ? stat.start_ticks : -1;
}

// Runs on the reader thread.
void proc_snapshotter::take_rest(pid_t pid, proc_snapshot& out) {
  bool truncated = false;
  const size_t text_limit = text_buffer_.size() - 1;

  format_path(pid, "status");
  ssize_t got = read_file(path_.c_str(), text_buffer_, text_limit, truncated);
  const int status_error = got < 0 ? static_cast<int>(-got) : 0;
  if (got <= 0 || !parse_status(text_buffer_.data(), static_cast<size_t>(got), out)) {
    fail(out, read_status, got < 0 ? status_error : EINVAL);
  }
  // Reaped: cwd and cgroup would fail the same way, so they are not tried.
  const bool reaped = is_gone(status_error);

  if (reaped) {
    fail(out, read_cwd, status_error);
    fail(out, read_cgroup, status_error);
  } else {
    format_path(pid, "cwd");
    got = read_link(path_.c_str(), out.cwd);
    if (got < 0) fail(out, read_cwd, static_cast<int>(-got));

    // Every line: on hybrid hosts the first one is "name=systemd" and the telling path may be on
    // any of them. The text is bounded by the buffer; the consumer parses it.
    format_path(pid, "cgroup");
    got = read_file(path_.c_str(), text_buffer_, text_limit, truncated);
    if (got > 0) {
      out.cgroup.assign(text_buffer_.data(), static_cast<size_t>(got));
    } else {
      fail(out, read_cgroup, got < 0 ? static_cast<int>(-got) : EINVAL);
    }
  }

  if (options_.stdio) {
    // pid 0: gone, complete() skips the reads through its fd links (stdio_probe.h).
    stdio_.complete(reaped ? 0 : pid, out.ppid, out.stdio);
    // The parent's streams as they are now, while its child starts: a pty wrapper keeps the
    // socket on the parent and gives the shell a terminal.
    if (out.ppid > 0) read_parent_stdio(out.ppid, out.parent_stdio);
  }
}

// A reading of the same parent taken less than parent_stdio_reuse_ns ago, else a new one, kept
// for the parent's next children (see the header for why this is safe).
// Runs on the reader thread.
void proc_snapshotter::read_parent_stdio(pid_t ppid, stdio_set& out) {
  const uint64_t now = monotonic_ns();
  const auto found = parent_stdio_.find(ppid);
  if (found != parent_stdio_.end() && now - found->second.taken_ns < options_.parent_stdio_reuse_ns) {
    out = found->second.stdio;
    ++parent_stdio_reused_;
    return;
  }
  stdio_.read_links(ppid, out);
  stdio_.complete(ppid, -1, out);
  // Gone, or a zombie (its fds were closed at exit, whose event may already have been handled).
  bool any_open = false;
  for (const stdio_stream& stream : out.streams) any_open = any_open || stream.kind != stream_kind::closed;
  if (!out.read || !any_open) {
    if (found != parent_stdio_.end()) parent_stdio_.erase(found);
    return;
  }
  if (found != parent_stdio_.end()) {
    found->second.stdio = out;
    found->second.taken_ns = now;
    return;
  }
  // Bounded: expired readings go first; if every one is fresh, the map starts over.
  if (parent_stdio_.size() >= parent_stdio_max_entries) {
    for (auto it = parent_stdio_.begin(); it != parent_stdio_.end();) {
      it = now - it->second.taken_ns >= options_.parent_stdio_reuse_ns ? parent_stdio_.erase(it) : std::next(it);
    }
    if (parent_stdio_.size() >= parent_stdio_max_entries) parent_stdio_.clear();
  }
  parent_stdio_.emplace(ppid, parent_reading{out, now});
}

}  // namespace execwarden
