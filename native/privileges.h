// Dropping capabilities the agent no longer needs. Linux keeps capabilities per thread: each
// thread that should lose them calls drop_capabilities() itself (the reader thread at its start,
// the JS thread after start-up). The ambient set is cleared as well, so a child the thread spawns
// (the logger of the syslog output) inherits none of them.
//
// Plain C++: no Node-API here. Failures are std::system_error with the errno of the failing call.
#pragma once

#include <cstdint>

namespace execwarden {

// Removes the capabilities whose bits are set in `mask` from this thread's effective, permitted
// and inheritable sets, and clears this thread's ambient set. Irreversible.
// Runs on the calling thread only.
void drop_capabilities(uint64_t mask);

}  // namespace execwarden
