#include "stdio_probe.h"

#include "proc_util.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

namespace execwarden {
namespace {

constexpr size_t chunk_size = 16384;
constexpr size_t diag_buffer_size = 8192;

bool starts_with(const std::string& text, const char* prefix) {
  return text.compare(0, std::strlen(prefix), prefix) == 0;
}

// "<prefix><digits>]" -> the number, or 0.
uint64_t bracketed_inode(const std::string& link, size_t prefix_length) {
  uint64_t value = 0;
  size_t i = prefix_length;
  for (; i < link.size() && link[i] >= '0' && link[i] <= '9' && i - prefix_length < 20; ++i) {
    value = value * 10 + static_cast<uint64_t>(link[i] - '0');
  }
  return i < link.size() && link[i] == ']' ? value : 0;
}

// What the link text alone tells. Paths are taken for files until complete() looks closer.
void classify_link(stdio_stream& stream) {
  const std::string& link = stream.link;
  if (starts_with(link, "socket:[")) {
    stream.kind = stream_kind::socket;
    stream.inode = bracketed_inode(link, 8);
  } else if (starts_with(link, "pipe:[")) {
    stream.kind = stream_kind::pipe;
    stream.inode = bracketed_inode(link, 6);
  } else if (starts_with(link, "anon_inode:")) {
    stream.kind = stream_kind::anon;
  } else if (link == "/dev/null") {
    stream.kind = stream_kind::null;
  } else if (starts_with(link, "/dev/pts/") || starts_with(link, "/dev/tty") || link == "/dev/console") {
    stream.kind = stream_kind::tty;
  } else if (!link.empty() && link[0] == '/') {
    stream.kind = stream_kind::file;
  } else {
    stream.kind = stream_kind::other;
  }
}

bool is_tty_major(unsigned major_number) {
  // 4: tty0-63 and ttyS; 5: /dev/tty, console, ptmx; 136-143: the Unix98 pty slaves.
  return major_number == 4 || major_number == 5 || (major_number >= 136 && major_number <= 143);
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

bool parse_hex_u32(const char* text, size_t digits, uint32_t& out) {
  uint32_t value = 0;
  for (size_t i = 0; i < digits; ++i) {
    const int d = hex_digit(text[i]);
    if (d < 0) return false;
    value = (value << 4) | static_cast<uint32_t>(d);
  }
  out = value;
  return true;
}

// "<hex address>:<hex port>" as the kernel prints it: the address words in host byte order.
bool parse_endpoint(const char* text, size_t size, bool ipv6, socket_endpoint& out, bool& zero) {
  const size_t address_digits = ipv6 ? 32 : 8;
  if (size != address_digits + 5 || text[address_digits] != ':') return false;
  unsigned char bytes[16] = {};
  for (size_t word = 0; word < address_digits / 8; ++word) {
    uint32_t value;
    if (!parse_hex_u32(text + word * 8, 8, value)) return false;
    std::memcpy(bytes + word * 4, &value, 4);
  }
  uint32_t port;
  if (!parse_hex_u32(text + address_digits + 1, 4, port)) return false;
  char printed[INET6_ADDRSTRLEN];
  if (::inet_ntop(ipv6 ? AF_INET6 : AF_INET, bytes, printed, sizeof printed) == nullptr) return false;
  out.address = printed;
  out.port = static_cast<int32_t>(port);
  zero = port == 0;
  for (size_t i = 0; i < address_digits / 2 && zero; ++i) zero = bytes[i] == 0;
  return true;
}

}  // namespace

const char* stream_kind_name(stream_kind kind) {
  switch (kind) {
    case stream_kind::unknown: return "unknown";
    case stream_kind::closed: return "closed";
    case stream_kind::socket: return "socket";
    case stream_kind::pipe: return "pipe";
    case stream_kind::fifo: return "fifo";
    case stream_kind::tty: return "tty";
    case stream_kind::file: return "file";
    case stream_kind::null: return "null";
    case stream_kind::device: return "device";
    case stream_kind::anon: return "anon";
    case stream_kind::other: return "other";
    case stream_kind::count: break;
  }
  return "unknown";
}

const char* socket_family_name(socket_family family) {
  switch (family) {
    case socket_family::unknown: return "unknown";
    case socket_family::ipv4: return "ipv4";
    case socket_family::ipv6: return "ipv6";
    case socket_family::unix_local: return "unix";
    case socket_family::count: break;
  }
  return "unknown";
}

// Tokens: sl, local, remote, st, tx:rx, tr:when, retrnsmt, uid, timeout, inode, ...
bool parse_procnet_inet_line(const char* line, size_t size, bool ipv6, uint64_t inode, socket_details& out) {
  const char* tokens[10];
  size_t lengths[10];
  size_t count = 0;
  for (size_t i = 0; i < size && count < 10;) {
    while (i < size && (line[i] == ' ' || line[i] == '\t')) ++i;
    if (i >= size) break;
    const size_t start = i;
    while (i < size && line[i] != ' ' && line[i] != '\t') ++i;
    tokens[count] = line + start;
    lengths[count] = i - start;
    ++count;
  }
  if (count < 10 || lengths[9] > 20) return false;
  uint64_t value = 0;
  for (size_t i = 0; i < lengths[9]; ++i) {
    const char c = tokens[9][i];
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  if (value != inode) return false;
  bool local_zero = false;
  bool remote_zero = false;
  socket_details found;
  if (!parse_endpoint(tokens[1], lengths[1], ipv6, found.local, local_zero) ||
      !parse_endpoint(tokens[2], lengths[2], ipv6, found.remote, remote_zero)) {
    return false;
  }
  found.connected = !remote_zero;
  if (!found.connected) found.remote = socket_endpoint{};
  found.family = ipv6 ? socket_family::ipv6 : socket_family::ipv4;
  found.found = true;
  out = std::move(found);
  return true;
}

stdio_prober::stdio_prober(std::string proc_root, size_t procnet_max_bytes, uint64_t scan_budget_ns)
    : proc_root_(std::move(proc_root)),
      procnet_max_bytes_(procnet_max_bytes),
      scan_budget_ns_(scan_budget_ns),
      scan_budget_left_ns_(static_cast<int64_t>(scan_budget_ns)),
      link_buffer_(PATH_MAX + 1),
      chunk_(chunk_size),
      diag_buffer_(diag_buffer_size) {
  path_.reserve(proc_root_.size() + 32);
}

stdio_prober::~stdio_prober() {
  if (diag_fd_ >= 0) ::close(diag_fd_);
}

// Runs on the reader thread.
void stdio_prober::format_path(pid_t pid, const char* tail) {
  format_proc_path(path_, proc_root_, pid, tail);
}

// Runs on the reader thread.
void stdio_prober::read_links(pid_t pid, stdio_set& out) {
  static const char* const names[3] = {"fd/0", "fd/1", "fd/2"};
  out.read = true;
  bool any_socket = false;
  for (int fd = 0; fd < 3; ++fd) {
    stdio_stream& stream = out.streams[fd];
    format_path(pid, names[fd]);
    const ssize_t got = ::readlink(path_.c_str(), link_buffer_.data(), link_buffer_.size());
    if (got >= 0) {
      stream.link.assign(link_buffer_.data(), static_cast<size_t>(got));
      classify_link(stream);
      any_socket = any_socket || stream.kind == stream_kind::socket;
    } else if (errno == ENOENT) {
      // No such descriptor, or no such process: the fd directory tells which.
      format_path(pid, "fd");
      if (::access(path_.c_str(), F_OK) == 0) {
        stream.kind = stream_kind::closed;
      } else {
        out.read = false;
        return;
      }
    } else if (errno == ESRCH) {
      out.read = false;
      return;
    } else {
      stream.kind = stream_kind::unknown;
    }
  }
  if (any_socket) {
    format_path(pid, "ns/net");
    const ssize_t got = ::readlink(path_.c_str(), link_buffer_.data(), link_buffer_.size());
    if (got > 0) out.netns.assign(link_buffer_.data(), static_cast<size_t>(got));
  }
}

// The process whose /proc/<pid>/net listings describe `pid`'s network namespace: itself while it
// is there, else its parent or the agent when in the same namespace; -1 when none is. `pid` 0:
// the process is known to be gone.
// Runs on the reader thread.
pid_t stdio_prober::listing_pid(pid_t pid, pid_t parent, const std::string& netns) {
  if (pid > 0) {
    format_path(pid, "net");
    if (::access(path_.c_str(), F_OK) == 0) return pid;
  }
  if (netns.empty()) return -1;
  for (const pid_t candidate : {parent, ::getpid()}) {
    if (candidate <= 0) continue;
    format_path(candidate, "ns/net");
    const ssize_t got = ::readlink(path_.c_str(), link_buffer_.data(), link_buffer_.size());
    if (got > 0 && netns.compare(0, std::string::npos, link_buffer_.data(), static_cast<size_t>(got)) == 0) return candidate;
  }
  return -1;
}

// `pid` 0: the process is known to be gone (its /proc directory reaped).
// Runs on the reader thread.
void stdio_prober::complete(pid_t pid, pid_t parent, stdio_set& out) {
  if (!out.read) return;
  pid_t listing = 0;  // looked for at the first socket
  static const char* const names[3] = {"fd/0", "fd/1", "fd/2"};
  for (int fd = 0; fd < 3; ++fd) {
    stdio_stream& stream = out.streams[fd];
    if (stream.kind == stream_kind::file || (stream.kind == stream_kind::tty && !starts_with(stream.link, "/dev/pts/"))) {
      // Gone: the statx would fail and leave the kind as the link gave it.
      if (pid == 0) continue;
      // Cached attributes only (AT_STATX_DONT_SYNC): the type of an inode never changes, and
      // this way no filesystem is asked anything.
      format_path(pid, names[fd]);
      struct statx info {};
      if (::statx(AT_FDCWD, path_.c_str(), AT_STATX_DONT_SYNC, STATX_TYPE, &info) == 0) {
        const mode_t type = info.stx_mode & S_IFMT;
        if (type == S_IFIFO) stream.kind = stream_kind::fifo;
        else if (type == S_IFCHR) stream.kind = is_tty_major(info.stx_rdev_major) ? stream_kind::tty : stream_kind::device;
        else if (type == S_IFBLK) stream.kind = stream_kind::device;
        else if (type == S_IFREG) stream.kind = stream_kind::file;
        else stream.kind = stream_kind::other;
      }
    } else if (stream.kind == stream_kind::socket && stream.inode != 0) {
      bool shared = false;
      for (int earlier = 0; earlier < fd; ++earlier) {
        if (out.streams[earlier].kind == stream_kind::socket && out.streams[earlier].inode == stream.inode) {
          stream.socket = out.streams[earlier].socket;
          shared = true;
          break;
        }
      }
      if (!shared) resolve_socket(pid, parent, out.netns, listing, stream);
    }
  }
}

// Spends from the per-second scan budget; false when it is spent. A scan already started is not
// cut short, so the budget can go negative by one scan, repaid by the next refills.
// Runs on the reader thread.
bool stdio_prober::take_scan_budget(uint64_t now) {
  if (budget_refilled_ns_ == 0) budget_refilled_ns_ = now;
  // budget_ns per second elapsed, up to one second's worth (the cap keeps the product in range).
  const uint64_t elapsed = std::min<uint64_t>(now - budget_refilled_ns_, 1'000'000'000);
  const auto refill = static_cast<int64_t>(elapsed * scan_budget_ns_ / 1'000'000'000);
  scan_budget_left_ns_ = std::min(scan_budget_left_ns_ + refill, static_cast<int64_t>(scan_budget_ns_));
  budget_refilled_ns_ = now;
  return scan_budget_left_ns_ > 0;
}

// Bounded: expired entries go first; if every entry is live, the cache starts over.
// Runs on the reader thread.
void stdio_prober::remember(uint64_t key, const socket_details& details, uint64_t now) {
  if (socket_cache_.size() >= socket_cache_entries) {
    for (auto it = socket_cache_.begin(); it != socket_cache_.end();) {
      it = it->second.expires_ns <= now ? socket_cache_.erase(it) : std::next(it);
    }
    if (socket_cache_.size() >= socket_cache_entries) socket_cache_.clear();
  }
  cached_socket& entry = socket_cache_[key];
  entry.details = details;
  entry.expires_ns = now + (details.found ? found_ttl_ns : missing_ttl_ns);
}

// The cache key: the network namespace's inode ("net:[<n>]") and the socket's, 32 bits each
// (both are handed out by the kernel's 32-bit get_next_ino counter); 0 when either does not fit.
// Runs on the reader thread.
void stdio_prober::resolve_socket(pid_t pid, pid_t parent, const std::string& netns, pid_t& listing,
                                  stdio_stream& stream) {
  const uint64_t ns_inode = bracketed_inode(netns, 5);
  const uint64_t key = ns_inode != 0 && ns_inode <= UINT32_MAX && stream.inode <= UINT32_MAX
                           ? ns_inode << 32 | stream.inode
                           : 0;
  const uint64_t now = monotonic_ns();
  if (key != 0) {
    const auto cached = socket_cache_.find(key);
    if (cached != socket_cache_.end() && cached->second.expires_ns > now) {
      ++stats_.socket_cache_hits;
      stream.socket = cached->second.details;
      return;
    }
  }
  if (!lookup_socket(pid, parent, netns, listing, stream, now)) return;  // over budget: not remembered
  if (key != 0) remember(key, stream.socket, now);
}

// False when the listings were not scanned for want of budget.
// Runs on the reader thread.
bool stdio_prober::lookup_socket(pid_t pid, pid_t parent, const std::string& netns, pid_t& listing,
                                 stdio_stream& stream, uint64_t now) {
  uint64_t peer = 0;
  if (unix_lookup(stream.inode, stream.socket, &peer)) {
    if (peer != 0) {
      socket_details peer_details;
      if (unix_lookup(peer, peer_details, nullptr)) stream.socket.remote.address = peer_details.local.address;
      stream.socket.connected = true;
    }
    return true;
  }
  if (listing == 0) listing = listing_pid(pid, parent, netns);
  // -1: no process describes the namespace; the unix lookup above still ran.
  if (listing <= 0) return true;
  if (!take_scan_budget(now)) {
    ++stats_.lookups_over_budget;
    return false;
  }
  ++stats_.listing_scans;
  if (!procnet_lookup(listing, "net/tcp", false, "tcp", SOCK_STREAM, stream.inode, stream.socket) &&
      !procnet_lookup(listing, "net/tcp6", true, "tcp", SOCK_STREAM, stream.inode, stream.socket) &&
      !procnet_lookup(listing, "net/udp", false, "udp", SOCK_DGRAM, stream.inode, stream.socket)) {
    procnet_lookup(listing, "net/udp6", true, "udp", SOCK_DGRAM, stream.inode, stream.socket);
  }
  scan_budget_left_ns_ -= static_cast<int64_t>(monotonic_ns() - now);
  return true;
}

// sock_diag's exact lookup of a unix socket by inode, in the agent's network namespace. Never
// waits: the kernel answers within sendmsg, and the reply is taken with MSG_DONTWAIT.
// Runs on the reader thread.
bool stdio_prober::unix_lookup(uint64_t inode, socket_details& out, uint64_t* peer_inode) {
  if (inode == 0 || inode > UINT32_MAX) return false;
  if (diag_fd_ == -2) return false;
  if (diag_fd_ < 0) {
    diag_fd_ = ::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (diag_fd_ < 0) {
      diag_fd_ = -2;
      return false;
    }
  }
  struct {
    nlmsghdr header;
    unix_diag_req request;
  } message{};
  message.header.nlmsg_len = sizeof message;
  message.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  message.header.nlmsg_flags = NLM_F_REQUEST;
  message.header.nlmsg_seq = ++diag_seq_;
  message.request.sdiag_family = AF_UNIX;
  message.request.udiag_states = ~0u;
  message.request.udiag_ino = static_cast<uint32_t>(inode);
  message.request.udiag_show = UDIAG_SHOW_NAME | UDIAG_SHOW_PEER;
  message.request.udiag_cookie[0] = ~0u;  // no cookie to check
  message.request.udiag_cookie[1] = ~0u;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(diag_fd_, &message, sizeof message, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) < 0) {
    return false;
  }
  for (;;) {
    sockaddr_nl from{};
    socklen_t from_length = sizeof from;
    const ssize_t got = ::recvfrom(diag_fd_, diag_buffer_.data(), diag_buffer_.size(), MSG_DONTWAIT,
                                   reinterpret_cast<sockaddr*>(&from), &from_length);
    if (got < 0) return false;
    if (from.nl_pid != 0) continue;
    unsigned int left = static_cast<unsigned int>(got);
    for (auto* header = reinterpret_cast<nlmsghdr*>(diag_buffer_.data()); NLMSG_OK(header, left);
         header = NLMSG_NEXT(header, left)) {
      if (header->nlmsg_seq != diag_seq_) continue;  // a reply to an earlier request
      if (header->nlmsg_type != SOCK_DIAG_BY_FAMILY) return false;  // NLMSG_ERROR: not a unix socket here
      if (header->nlmsg_len < NLMSG_LENGTH(sizeof(unix_diag_msg))) return false;
      const auto* reply = static_cast<const unix_diag_msg*>(NLMSG_DATA(header));
      if (reply->udiag_ino != inode) return false;
      socket_details found;
      found.family = socket_family::unix_local;
      found.type = reply->udiag_type;
      found.found = true;
      int attributes_length = static_cast<int>(header->nlmsg_len - NLMSG_LENGTH(sizeof(unix_diag_msg)));
      for (auto* attribute = reinterpret_cast<rtattr*>(const_cast<unix_diag_msg*>(reply) + 1);
           RTA_OK(attribute, attributes_length); attribute = RTA_NEXT(attribute, attributes_length)) {
        const auto* data = static_cast<const char*>(RTA_DATA(attribute));
        const size_t length = RTA_PAYLOAD(attribute);
        if (attribute->rta_type == UNIX_DIAG_NAME && length > 0) {
          // An abstract name starts with a NUL: shown with '@', as ss does. Bounded by sun_path.
          const size_t kept = length < 108 ? length : 108;
          if (data[0] == '\0') found.local.address = "@" + std::string(data + 1, kept - 1);
          else found.local.address.assign(data, strnlen(data, kept));
        } else if (attribute->rta_type == UNIX_DIAG_PEER && length >= sizeof(uint32_t) && peer_inode != nullptr) {
          uint32_t peer;
          std::memcpy(&peer, data, sizeof peer);
          *peer_inode = peer;
        }
      }
      out = std::move(found);
      return true;
    }
  }
}

// Scans one listing of the process's network namespace for the inode, a chunk at a time.
// Runs on the reader thread.
bool stdio_prober::procnet_lookup(pid_t pid, const char* file, bool ipv6, const char* protocol, int type,
                                  uint64_t inode, socket_details& out) {
  format_path(pid, file);
  const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  size_t total = 0;
  size_t carried = 0;  // bytes of an unfinished line at the start of chunk_
  bool header = true;
  bool found = false;
  while (!found && total < procnet_max_bytes_) {
    const size_t want = std::min(chunk_.size() - carried, procnet_max_bytes_ - total);
    const ssize_t got = ::read(fd, chunk_.data() + carried, want);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    total += static_cast<size_t>(got);
    const size_t end = carried + static_cast<size_t>(got);
    size_t start = 0;
    for (size_t i = 0; i < end && !found; ++i) {
      if (chunk_[i] != '\n') continue;
      if (!header && parse_procnet_inet_line(chunk_.data() + start, i - start, ipv6, inode, out)) found = true;
      header = false;
      start = i + 1;
    }
    carried = end - start;
    if (carried == chunk_.size()) carried = 0;  // a line longer than a chunk is no listing line
    std::memmove(chunk_.data(), chunk_.data() + start, carried);
  }
  ::close(fd);
  if (found) {
    out.type = type;
    out.protocol = protocol;
  }
  return found;
}

}  // namespace execwarden
