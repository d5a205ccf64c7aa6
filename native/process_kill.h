// Killing the process a rule caught, and only that one.
//
// A pid names whatever process holds it now: the one caught may have exited and its pid been
// handed to another by the time a response runs. So the kill goes through a pidfd: pidfd_open
// pins the process that holds the pid at that moment, and its /proc/<pid>/stat start time (read
// after the open) is compared with the caught process's. While the pidfd is open the pid cannot
// pass to another process unless the pinned one is reaped first, and then pidfd_send_signal
// fails with ESRCH instead of reaching the newcomer. A start time that differs means the pidfd
// pinned a newcomer: nothing is sent. Kernel threads (PF_KTHREAD) are never signalled. Without
// pidfds (before Linux 5.3) nothing is killed: there is no safe fallback by pid alone.
//
// The pidfd is opened when the kill is decided, not at every exec: holding one per live process
// would cost up to the process table's 32,768 descriptors, and a user could exhaust them by
// forking. Checking the start time after the open gives the same guarantee (pid and start time
// name one process for the life of the system), for one open per kill.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

namespace execwarden {

enum class kill_outcome {
  killed,         // SIGKILL sent to the process that started at `start_ticks`
  gone,           // no process holds the pid, or it exited before the signal
  reused,         // the pid belongs to a process with another start time
  kernel_thread,  // refused
  unsupported,    // no pidfd_open or pidfd_send_signal on this kernel
  failed,         // another error (errno in kill_result)
};

const char* kill_outcome_name(kill_outcome outcome);

struct kill_result {
  kill_outcome outcome = kill_outcome::failed;
  int error = 0;
};

// Sends SIGKILL to `pid` if it is still the process that started at `start_ticks` (clock ticks
// since boot, stat field 22). `proc_root` is "/proc" outside tests.
kill_result kill_if_same_process(const std::string& proc_root, pid_t pid, int64_t start_ticks);

}  // namespace execwarden
