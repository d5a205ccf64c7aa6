// What a process's standard streams (fds 0, 1 and 2) are at exec, and the same for its parent.
//
// A shell whose stdin and stdout are a TCP connection is a reverse or bind shell however it was
// spelled, and a pty wrapper (python's pty.spawn, script) leaves the socket on the parent. So the
// reader records, per stream: what the descriptor is (socket, pipe, fifo, tty, file, /dev/null,
// ...) and, for a socket, its family, type, protocol and local and remote addresses.
//
// Two halves, like the rest of the snapshot:
// - read_links() (urgent half): readlink of /proc/<pid>/fd/{0,1,2}. A process can replace its
//   descriptors right after exec, so the links are read with the cmdline. readlink only formats
//   the path the kernel holds; it never calls into the file's filesystem.
// - complete() (second half): what the link text cannot tell. An absolute path is a file, a fifo
//   or a device: statx with AT_STATX_DONT_SYNC and only STATX_TYPE answers from the inode the
//   kernel already holds, so a file on a hostile FUSE or a hung network mount cannot stall the
//   reader thread. A socket ("socket:[<inode>]") is resolved without ever touching the descriptor
//   itself (taking a copy with pidfd_getfd would mean closing it here, and a descriptor swapped
//   for a FUSE file in between would make that close wait on its server):
//     1. sock_diag's exact unix-socket lookup by inode (one netlink round trip; the peer is looked
//        up the same way for its name). Most socket stdio is unix: journald's stdout stream,
//        libuv's socketpairs for a Node parent's children.
//     2. otherwise /proc/<pid>/net/{tcp,tcp6,udp,udp6}, the listing of the process's own network
//        namespace, scanned line by line for the inode, at most `procnet_max_bytes` of each.
//   A socket found in neither (netlink, packet, a unix socket in another network namespace, a
//   listing cut at its cap) is reported as a socket with its family unknown. A process already
//   gone (a short-lived one, under load) is looked up in the listing of its parent or of the
//   agent, whichever is in the network namespace the process was in (ns/net, read with the links).
// Streams 1 and 2 that name the same inode as an earlier one share its resolution.
//
// Cost. A listing is a seq_file: each read() returns at most a page and walks the kernel's socket
// hash from its start (measured on a 23 GiB VM: 262,144 TCP buckets, 0.6 ms per page, 3.7 ms for
// a 137-socket /proc/net/tcp). So lookups are cached by (network namespace, socket inode), found or
// not, for a few seconds: a service whose children all inherit one TCP socket costs one scan, not
// one per exec. And scans spend from a time budget (`scan_budget_ns` per second): a local user who
// hands every exec a new socket cannot make the reader thread scan instead of reading events. A
// socket over budget is reported with its family unknown, and counted.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace execwarden {

enum class stream_kind : uint8_t {
  unknown = 0,  // the link could not be read (permission, process gone)
  closed,       // no such descriptor
  socket,
  pipe,
  fifo,
  tty,
  file,
  null,  // /dev/null
  device,
  anon,   // anon_inode:[eventfd] and the like
  other,  // a directory, or a path whose type could not be told
  count
};

const char* stream_kind_name(stream_kind kind);

enum class socket_family : uint8_t { unknown = 0, ipv4, ipv6, unix_local, count };
const char* socket_family_name(socket_family family);

struct socket_endpoint {
  std::string address;  // inet: the textual IP; unix: the path ("@name" for the abstract namespace)
  int32_t port = -1;    // inet only
};

struct socket_details {
  socket_family family = socket_family::unknown;
  int type = 0;          // SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET, ... (0: unknown)
  const char* protocol = nullptr;  // "tcp" or "udp" for inet sockets
  socket_endpoint local;
  socket_endpoint remote;
  bool connected = false;  // remote is set
  bool found = false;      // resolved by either lookup
};

struct stdio_stream {
  stream_kind kind = stream_kind::unknown;
  std::string link;  // the readlink text (a path, "pipe:[n]", "socket:[n]", ...)
  uint64_t inode = 0;  // of "socket:[n]" and "pipe:[n]"
  socket_details socket;
};

struct stdio_set {
  bool read = false;  // the links were read (the process was there)
  stdio_stream streams[3];
  // readlink of ns/net, read with the links when one of them is a socket: a process gone by the
  // second half is looked up in the listing of another process of the same network namespace.
  std::string netns;
};

// Parses one line of /proc/net/{tcp,udp}{,6}; true when its inode is `inode`, with `out` filled.
bool parse_procnet_inet_line(const char* line, size_t size, bool ipv6, uint64_t inode, socket_details& out);

struct stdio_probe_stats {
  uint64_t socket_cache_hits = 0;
  uint64_t listing_scans = 0;
  uint64_t lookups_over_budget = 0;  // sockets left unresolved: the scan budget was spent
};

class stdio_prober {
 public:
  // Socket lookups remembered, and for how long (a socket's addresses are fixed once connected;
  // a socket not found may appear in a listing once its connect completes).
  static constexpr size_t socket_cache_entries = 4096;
  static constexpr uint64_t found_ttl_ns = 10'000'000'000;
  static constexpr uint64_t missing_ttl_ns = 2'000'000'000;

  stdio_prober(std::string proc_root, size_t procnet_max_bytes, uint64_t scan_budget_ns = 100'000'000);
  ~stdio_prober();
  stdio_prober(const stdio_prober&) = delete;
  stdio_prober& operator=(const stdio_prober&) = delete;

  // Urgent half: the three links. Runs on the reader thread.
  void read_links(pid_t pid, stdio_set& out);
  // Second half: types of paths, sockets resolved; `parent` is the first stand-in for a process
  // that is gone. `pid` 0: the process is known to be gone (its /proc directory reaped): paths
  // keep the kind their link gave (their statx would go through its fd links) and sockets are
  // looked up in the listing of `parent` or of the agent. Runs on the reader thread.
  void complete(pid_t pid, pid_t parent, stdio_set& out);

  const stdio_probe_stats& stats() const { return stats_; }

 private:
  struct cached_socket {
    socket_details details;
    uint64_t expires_ns = 0;
  };
  // `pid` 0 in these: the process is gone (see complete()). `listing` is found at the first socket
  // that needs a scan and shared by the set's streams.
  void resolve_socket(pid_t pid, pid_t parent, const std::string& netns, pid_t& listing, stdio_stream& stream);
  bool lookup_socket(pid_t pid, pid_t parent, const std::string& netns, pid_t& listing, stdio_stream& stream,
                     uint64_t now);
  bool take_scan_budget(uint64_t now_ns);
  void remember(uint64_t key, const socket_details& details, uint64_t now_ns);
  pid_t listing_pid(pid_t pid, pid_t parent, const std::string& netns);
  bool unix_lookup(uint64_t inode, socket_details& out, uint64_t* peer_inode);
  bool procnet_lookup(pid_t pid, const char* file, bool ipv6, const char* protocol, int type, uint64_t inode,
                      socket_details& out);
  void format_path(pid_t pid, const char* tail);

  std::string proc_root_;
  size_t procnet_max_bytes_;
  uint64_t scan_budget_ns_;
  int64_t scan_budget_left_ns_;
  uint64_t budget_refilled_ns_ = 0;
  std::unordered_map<uint64_t, cached_socket> socket_cache_;
  stdio_probe_stats stats_;
  int diag_fd_ = -1;  // NETLINK_SOCK_DIAG, opened on first use; -2 once it failed
  uint32_t diag_seq_ = 0;
  std::string path_;
  std::vector<char> link_buffer_;
  std::vector<char> chunk_;
  std::vector<char> diag_buffer_;
};

}  // namespace execwarden
