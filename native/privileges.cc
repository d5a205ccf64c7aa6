#include "privileges.h"

#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace execwarden {

// Runs on the calling thread only.
void drop_capabilities(uint64_t mask) {
  __user_cap_header_struct header{};
  header.version = _LINUX_CAPABILITY_VERSION_3;
  header.pid = 0;  // this thread
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (::syscall(SYS_capget, &header, data) != 0) throw std::system_error(errno, std::generic_category(), "capget");
  for (int word = 0; word < _LINUX_CAPABILITY_U32S_3; ++word) {
    const auto keep = ~static_cast<uint32_t>(mask >> (32 * word));
    data[word].effective &= keep;
    data[word].permitted &= keep;
    data[word].inheritable &= keep;
  }
  if (::syscall(SYS_capset, &header, data) != 0) throw std::system_error(errno, std::generic_category(), "capset");
  // Absent ambient support (kernels before 4.3) there is nothing to clear.
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) {
    throw std::system_error(errno, std::generic_category(), "prctl(PR_CAP_AMBIENT_CLEAR_ALL)");
  }
}

}  // namespace execwarden
