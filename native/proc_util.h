// Small helpers the reader thread's /proc readers share.
#pragma once

#include <cerrno>

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <ctime>
#include <string>

namespace execwarden {

// "<proc_root>/<pid>/<name>" into a string kept by the caller, without allocating once the
// string has grown to its longest path (the reader thread builds one for every /proc read).
inline void format_proc_path(std::string& out, const std::string& proc_root, pid_t pid, const char* name) {
  char digits[16];
  size_t n = 0;
  auto value = static_cast<unsigned long>(pid);
  do {
    digits[n++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value != 0 && n < sizeof digits);
  out.assign(proc_root);
  out.push_back('/');
  while (n > 0) out.push_back(digits[--n]);
  out.push_back('/');
  out.append(name);
}

// errno of a read that found the process gone (its /proc directory reaped, or no such task).
inline bool is_gone(int err) { return err == ENOENT || err == ESRCH; }

inline uint64_t monotonic_ns() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<uint64_t>(now.tv_sec) * 1000000000ull + static_cast<uint64_t>(now.tv_nsec);
}

}  // namespace execwarden
