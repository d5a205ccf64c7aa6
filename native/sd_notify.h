// systemd's notification protocol (sd_notify(3)): one datagram of "KEY=value" lines to the
// AF_UNIX socket named by $NOTIFY_SOCKET (a path, or an abstract name written with a leading '@').
// Written here rather than linked from libsystemd so the addon needs no extra library on hosts.
//
// Plain C++: no Node-API here.
#pragma once

#include <string>

namespace execwarden {

// Sends `state` to $NOTIFY_SOCKET. Returns 0 when sent, 1 when there is no $NOTIFY_SOCKET (not
// started by systemd as Type=notify), or -errno.
int sd_notify_send(const std::string& state);

}  // namespace execwarden
