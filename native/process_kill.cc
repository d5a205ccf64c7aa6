#include "process_kill.h"

#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "proc_snapshot.h"
#include "proc_util.h"

namespace execwarden {
namespace {

constexpr int64_t pf_kthread = 0x00200000;  // include/linux/sched.h

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

class fd_guard {
 public:
  explicit fd_guard(int fd) : fd_(fd) {}
  ~fd_guard() {
    if (fd_ >= 0) ::close(fd_);
  }
  fd_guard(const fd_guard&) = delete;
  fd_guard& operator=(const fd_guard&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};


}  // namespace

const char* kill_outcome_name(kill_outcome outcome) {
  switch (outcome) {
    case kill_outcome::killed: return "killed";
    case kill_outcome::gone: return "gone";
    case kill_outcome::reused: return "pid_reused";
    case kill_outcome::kernel_thread: return "kernel_thread";
    case kill_outcome::unsupported: return "unsupported";
    case kill_outcome::failed: return "failed";
  }
  return "failed";
}

kill_result kill_if_same_process(const std::string& proc_root, pid_t pid, int64_t start_ticks) {
  kill_result result;
  if (pid <= 1 || start_ticks < 0) {
    result.error = EINVAL;
    return result;
  }
  const fd_guard pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (pidfd.get() < 0) {
    result.error = errno;
    result.outcome = errno == ENOSYS ? kill_outcome::unsupported : is_gone(errno) ? kill_outcome::gone : kill_outcome::failed;
    return result;
  }
  // The start time of the process the pidfd pinned: read after the open, so it is that process's
  // (or, if it has been reaped since, nothing: ENOENT/ESRCH).
  std::string path;
  format_proc_path(path, proc_root, pid, "stat");
  proc_snapshot stat;
  const int err = read_stat_file(path.c_str(), stat);
  if (err != 0) {
    result.error = err;
    result.outcome = is_gone(err) ? kill_outcome::gone : kill_outcome::failed;
    return result;
  }
  if (stat.start_ticks != start_ticks) {
    result.outcome = kill_outcome::reused;
    return result;
  }
  if (stat.flags >= 0 && (stat.flags & pf_kthread) != 0) {
    result.outcome = kill_outcome::kernel_thread;
    return result;
  }
  if (::syscall(SYS_pidfd_send_signal, pidfd.get(), SIGKILL, nullptr, 0) != 0) {
    result.error = errno;
    result.outcome = errno == ENOSYS ? kill_outcome::unsupported : is_gone(errno) ? kill_outcome::gone : kill_outcome::failed;
    return result;
  }
  result.outcome = kill_outcome::killed;
  return result;
}

}  // namespace execwarden
