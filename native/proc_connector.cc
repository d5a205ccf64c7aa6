#include "proc_connector.h"

#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/filter.h>
#include <linux/netlink.h>
#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <system_error>

namespace execwarden {
namespace {

// struct proc_event: what, cpu, timestamp_ns, then the per-kind union.
constexpr size_t event_header_size = 16;
constexpr size_t receive_buffer_size = 64 * 1024;
constexpr uint32_t max_tracked_cpus = 8192;

uint32_t read_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

int32_t read_i32(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

uint64_t read_u64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

[[noreturn]] void throw_errno(int err, const char* what) {
  throw std::system_error(err, std::generic_category(), what);
}

// Decodes one proc_event payload; false when it is too short for its kind or of unknown kind.
bool decode_event(const uint8_t* ev, size_t size, const cn_msg& cn, std::vector<proc_event_record>& events,
                  std::vector<proc_ack>& acks) {
  const uint32_t what = read_u32(ev);
  const uint8_t* data = ev + event_header_size;
  const size_t data_size = size - event_header_size;

  if (what == proc_event::PROC_EVENT_NONE) {
    if (data_size < 4) return false;
    acks.push_back(proc_ack{read_u32(ev + 4), cn.seq, cn.ack, read_u32(data)});
    return true;
  }

  proc_event_record r;
  r.cpu = read_u32(ev + 4);
  r.timestamp_ns = read_u64(ev + 8);
  size_t needed = 8;
  switch (what) {
    case proc_event::PROC_EVENT_FORK:
      r.kind = event_kind::fork;
      needed = 16;
      break;
    case proc_event::PROC_EVENT_EXEC:
      r.kind = event_kind::exec;
      break;
    case proc_event::PROC_EVENT_UID:
      r.kind = event_kind::uid;
      needed = 16;
      break;
    case proc_event::PROC_EVENT_GID:
      r.kind = event_kind::gid;
      needed = 16;
      break;
    case proc_event::PROC_EVENT_SID:
      r.kind = event_kind::sid;
      break;
    case proc_event::PROC_EVENT_PTRACE:
      r.kind = event_kind::ptrace;
      needed = 16;
      break;
    case proc_event::PROC_EVENT_COMM:
      r.kind = event_kind::comm;
      needed = 24;
      break;
    case proc_event::PROC_EVENT_COREDUMP:
      r.kind = event_kind::coredump;
      break;
    case proc_event::PROC_EVENT_EXIT:
      r.kind = event_kind::exit;
      needed = 16;
      break;
    default:
      return false;
  }
  if (data_size < needed) return false;

  if (r.kind == event_kind::fork) {
    r.has_parent = true;
    r.parent_pid = read_i32(data);
    r.parent_tgid = read_i32(data + 4);
    r.pid = read_i32(data + 8);
    r.tgid = read_i32(data + 12);
  } else {
    r.pid = read_i32(data);
    r.tgid = read_i32(data + 4);
  }
  switch (r.kind) {
    case event_kind::uid:
    case event_kind::gid:
      r.real_id = read_u32(data + 8);
      r.effective_id = read_u32(data + 12);
      break;
    case event_kind::ptrace:
      r.tracer_pid = read_i32(data + 8);
      r.tracer_tgid = read_i32(data + 12);
      break;
    case event_kind::comm:
      std::memcpy(r.comm, data + 8, 16);
      r.comm[16] = '\0';
      break;
    case event_kind::coredump:
      // Older kernels stop after the subject; the parent was added later.
      r.has_parent = true;
      if (data_size >= 16) {
        r.parent_pid = read_i32(data + 8);
        r.parent_tgid = read_i32(data + 12);
      }
      break;
    case event_kind::exit:
      r.exit_code = read_u32(data + 8);
      r.exit_signal = read_u32(data + 12);
      r.has_parent = true;
      if (data_size >= 24) {
        r.parent_pid = read_i32(data + 16);
        r.parent_tgid = read_i32(data + 20);
      }
      break;
    default:
      break;
  }
  events.push_back(r);
  return true;
}

}  // namespace

decode_result decode_datagram(const uint8_t* data, size_t size, uint32_t sender_port,
                              std::vector<proc_event_record>& events, std::vector<proc_ack>& acks) {
  decode_result result;
  if (sender_port != 0) {
    // Only the kernel may speak on this socket; a user-space sender is refused wholesale.
    result.rejected = 1;
    return result;
  }
  size_t offset = 0;
  // offset can pass size when the last message's length is not aligned; size - offset would wrap.
  while (offset < size && size - offset >= sizeof(nlmsghdr)) {
    nlmsghdr nlh;
    std::memcpy(&nlh, data + offset, sizeof nlh);
    if (nlh.nlmsg_len < NLMSG_HDRLEN || nlh.nlmsg_len > size - offset) {
      // The framing itself is broken: nothing after this point can be located reliably.
      ++result.rejected;
      return result;
    }
    const uint8_t* payload = data + offset + NLMSG_HDRLEN;
    const size_t payload_size = nlh.nlmsg_len - NLMSG_HDRLEN;
    // Aligned in size_t: NLMSG_ALIGN works in 32 bits and wraps a length near 4 GiB to 0.
    offset += (static_cast<size_t>(nlh.nlmsg_len) + NLMSG_ALIGNTO - 1) & ~static_cast<size_t>(NLMSG_ALIGNTO - 1);

    if (nlh.nlmsg_type == NLMSG_NOOP || nlh.nlmsg_type == NLMSG_OVERRUN) continue;
    if (nlh.nlmsg_type != NLMSG_DONE || payload_size < sizeof(cn_msg)) {
      ++result.rejected;
      continue;
    }
    cn_msg cn;
    std::memcpy(&cn, payload, sizeof cn);
    const bool is_proc = cn.id.idx == CN_IDX_PROC && cn.id.val == CN_VAL_PROC;
    if (!is_proc || cn.len < event_header_size || cn.len > payload_size - sizeof(cn_msg)) {
      ++result.rejected;
      continue;
    }
    const size_t before = events.size();
    if (!decode_event(payload + sizeof(cn_msg), cn.len, cn, events, acks)) {
      ++result.rejected;
      continue;
    }
    if (events.size() > before) events.back().seq = cn.seq;
    ++result.accepted;
    if (offset >= size) break;
  }
  return result;
}

int64_t sequence_tracker::observe(uint32_t cpu, uint32_t seq, uint64_t now_ns) {
  if (cpu >= max_tracked_cpus) return 0;
  if (cpu >= cpus_.size()) cpus_.resize(cpu + 1);
  cpu_state& state = cpus_[cpu];
  if (!state.seen) {
    state.seen = true;
    state.next = seq + 1;
    return 0;
  }
  const auto ahead = static_cast<int32_t>(seq - state.next);
  if (ahead == 0) {
    state.next = seq + 1;
    return 0;
  }
  if (ahead > 0) {
    state.next = seq + 1;
    if (grace_ns_ == 0) {
      state.outstanding += static_cast<uint32_t>(ahead);
      missing_ += static_cast<uint32_t>(ahead);
      return ahead;
    }
    int64_t counted = 0;
    if (state.open.size() == max_unsettled_per_cpu) {
      // Too many gaps at once to wait for: the oldest counts now.
      counted = count_open(state, 1);
    }
    state.open.push_back(gap{static_cast<uint32_t>(ahead), now_ns + grace_ns_});
    unsettled_ += static_cast<uint32_t>(ahead);
    return counted;
  }
  // A late arrival: it fills a gap still in its grace period first, which was never counted.
  if (!state.open.empty()) {
    gap& oldest = state.open.front();
    --unsettled_;
    if (--oldest.count == 0) state.open.erase(state.open.begin());
    return 0;
  }
  if (state.outstanding > 0) {
    --state.outstanding;
    --missing_;
    return -1;
  }
  return 0;
}

int64_t sequence_tracker::settle(uint64_t now_ns) {
  if (unsettled_ == 0) return 0;
  int64_t counted = 0;
  for (cpu_state& state : cpus_) {
    size_t due = 0;
    while (due < state.open.size() && state.open[due].due_ns <= now_ns) ++due;
    counted += count_open(state, due);
  }
  return counted;
}

// Counts a CPU's `gaps` oldest open gaps as missing. Returns how many events that is.
int64_t sequence_tracker::count_open(cpu_state& state, size_t gaps) {
  uint64_t counted = 0;
  for (size_t i = 0; i < gaps; ++i) counted += state.open[i].count;
  state.open.erase(state.open.begin(), state.open.begin() + static_cast<std::ptrdiff_t>(gaps));
  state.outstanding += counted;
  missing_ += counted;
  unsettled_ -= counted;
  return static_cast<int64_t>(counted);
}

uint64_t sequence_tracker::next_due_ns() const {
  uint64_t next = 0;
  if (unsettled_ == 0) return next;
  for (const cpu_state& state : cpus_) {
    if (!state.open.empty() && (next == 0 || state.open.front().due_ns < next)) next = state.open.front().due_ns;
  }
  return next;
}

namespace {

// A classic BPF socket filter on the kind of each proc connector message (proc_event.what, the
// word after nlmsghdr and cn_msg). The filter reads words in network order, so the kinds are
// compared in it. The exec channel keeps exec events and acks (kind 0: the LISTEN ack must reach
// fd_), the rest channel everything else. A message too short to hold a kind is dropped by either.
void attach_kind_filter(int fd, channel kept) {
  constexpr uint32_t what_offset = NLMSG_HDRLEN + sizeof(cn_msg);
  // What the filter returns: the bytes of the message to keep, all of them or none.
  const uint32_t on_exec_or_ack = kept == channel::exec ? 0xffffffffu : 0;
  const uint32_t on_other = kept == channel::exec ? 0 : 0xffffffffu;
  sock_filter code[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, what_offset),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, htonl(proc_event::PROC_EVENT_EXEC), 1, 0),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, htonl(proc_event::PROC_EVENT_NONE), 0, 1),
      BPF_STMT(BPF_RET | BPF_K, on_exec_or_ack),
      BPF_STMT(BPF_RET | BPF_K, on_other),
  };
  sock_fprog program{static_cast<unsigned short>(sizeof code / sizeof code[0]), code};
  if (::setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &program, sizeof program) < 0) {
    throw_errno(errno, "setsockopt(SO_ATTACH_FILTER) on the proc connector");
  }
}

// A socket bound to the proc connector's group; `filtered`: it keeps that channel's kinds only.
int open_bound_socket(bool& forced_buffer, int& granted_buffer, int requested, std::optional<channel> filtered) {
  const int fd = ::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_CONNECTOR);
  if (fd < 0) throw_errno(errno, "socket(AF_NETLINK, NETLINK_CONNECTOR)");
  try {
    // Before the bind, so that no message of the wrong kind arrives first.
    if (filtered) attach_kind_filter(fd, *filtered);
    sockaddr_nl local{};
    local.nl_family = AF_NETLINK;
    local.nl_groups = CN_IDX_PROC;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) < 0) {
      throw_errno(errno, "bind to the proc connector group");
    }
    // Connected to the kernel: a unicast from any other sender is refused before it takes room
    // in the receive buffer (one would be rejected when decoded anyway). Multicast still arrives.
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) < 0) {
      throw_errno(errno, "connect to the kernel's netlink port");
    }
    if (requested > 0) {
      if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &requested, sizeof requested) == 0) {
        forced_buffer = true;
      } else if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &requested, sizeof requested) < 0) {
        throw_errno(errno, "setsockopt(SO_RCVBUF)");
      }
    }
    socklen_t len = sizeof granted_buffer;
    if (::getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &granted_buffer, &len) < 0) {
      throw_errno(errno, "getsockopt(SO_RCVBUF)");
    }
  } catch (...) {
    ::close(fd);
    throw;
  }
  return fd;
}

}  // namespace

proc_connector::proc_connector(const connector_options& options) : buffer_(receive_buffer_size) {
  // The second socket first: it needs no subscription of its own (the first one's turns the
  // events on), and the exec socket's filter is attached only once the other one is bound, so
  // that no event of another kind is lost between the two. Without a filter (a kernel or policy
  // that refuses it), everything arrives on one socket, as it always did.
  if (options.split_exec) {
    bool forced = false;
    int granted = 0;
    try {
      rest_fd_ = open_bound_socket(forced, granted, options.receive_buffer_bytes, channel::rest);
    } catch (const std::system_error&) {
      rest_fd_ = -1;
    }
  }
  try {
    fd_ = open_bound_socket(forced_buffer_, granted_buffer_, options.receive_buffer_bytes,
                            rest_fd_ >= 0 ? std::optional<channel>(channel::exec) : std::nullopt);
  } catch (...) {
    if (rest_fd_ < 0) throw;
    // Not split after all: one socket, without a filter.
    ::close(rest_fd_);
    rest_fd_ = -1;
    fd_ = open_bound_socket(forced_buffer_, granted_buffer_, options.receive_buffer_bytes, std::nullopt);
  }
  try {
    // A sequence number of our own lets us pick our ack out of other listeners' acks.
    const uint32_t seq = static_cast<uint32_t>(::getpid()) ^ 0x65776172u;
    send_op(PROC_CN_MCAST_LISTEN, seq);
    await_ack(seq, options.ack_timeout);
  } catch (...) {
    ::close(fd_);
    fd_ = -1;
    if (rest_fd_ >= 0) ::close(rest_fd_);
    rest_fd_ = -1;
    throw;
  }
}

proc_connector::~proc_connector() {
  if (rest_fd_ >= 0) ::close(rest_fd_);
  if (fd_ < 0) return;
  try {
    send_op(PROC_CN_MCAST_IGNORE, 0);
  } catch (const std::system_error&) {
    // Closing the socket unsubscribes too; IGNORE only keeps older kernels' listener count right.
  }
  ::close(fd_);
}

void proc_connector::send_op(uint32_t op, uint32_t seq) {
  // nlmsghdr | cn_msg | op, laid out by hand: cn_msg ends in a flexible array member.
  uint8_t request[NLMSG_HDRLEN + sizeof(cn_msg) + sizeof(uint32_t)] = {};
  nlmsghdr nlh{};
  nlh.nlmsg_len = sizeof request;
  nlh.nlmsg_type = NLMSG_DONE;
  cn_msg cn{};
  cn.id.idx = CN_IDX_PROC;
  cn.id.val = CN_VAL_PROC;
  cn.seq = seq;
  cn.ack = seq;
  cn.len = sizeof(uint32_t);
  std::memcpy(request, &nlh, sizeof nlh);
  std::memcpy(request + NLMSG_HDRLEN, &cn, sizeof cn);
  std::memcpy(request + NLMSG_HDRLEN + sizeof cn, &op, sizeof op);

  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  for (;;) {
    const ssize_t sent = ::sendto(fd_, request, sizeof request, 0, reinterpret_cast<sockaddr*>(&kernel),
                                  sizeof kernel);
    if (sent >= 0) return;
    if (errno == EINTR) continue;
    throw_errno(errno, op == PROC_CN_MCAST_LISTEN ? "send PROC_CN_MCAST_LISTEN" : "send PROC_CN_MCAST_IGNORE");
  }
}

void proc_connector::await_ack(uint32_t seq, std::chrono::milliseconds timeout) {
  using clock = std::chrono::steady_clock;
  const auto deadline = clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
    if (left.count() <= 0) {
      throw_errno(ETIMEDOUT,
                  "no ack to PROC_CN_MCAST_LISTEN: the proc connector ignores subscriptions from a "
                  "non-initial pid or user namespace");
    }
    pollfd pfd{fd_, POLLIN, 0};
    const int ready = ::poll(&pfd, 1, static_cast<int>(left.count()));
    if (ready < 0) {
      if (errno == EINTR) continue;
      throw_errno(errno, "poll while waiting for the subscription ack");
    }
    if (ready == 0) continue;
    for (;;) {
      const receive_result r = receive(early_events_);
      if (r.overflow) early_overflow_ = true;
      for (const proc_ack& ack : acks_) {
        if (ack.ack != seq + 1) continue;
        if (ack.err != 0) throw_errno(static_cast<int>(ack.err), "the kernel refused PROC_CN_MCAST_LISTEN");
        return;
      }
      if (r.would_block) break;
    }
  }
}

receive_result proc_connector::receive(std::vector<proc_event_record>& events, channel from) {
  const int fd = fd_of(from);
  receive_result result;
  acks_.clear();
  sockaddr_nl sender{};
  iovec iov{buffer_.data(), buffer_.size()};
  msghdr msg{};
  msg.msg_name = &sender;
  msg.msg_namelen = sizeof sender;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  for (;;) {
    const ssize_t got = ::recvmsg(fd, &msg, MSG_DONTWAIT);
    if (got >= 0) {
      if ((msg.msg_flags & MSG_TRUNC) != 0 || msg.msg_namelen != sizeof sender ||
          sender.nl_family != AF_NETLINK) {
        result.decoded.rejected = 1;
        return result;
      }
      result.decoded = decode_datagram(buffer_.data(), static_cast<size_t>(got), sender.nl_pid, events, acks_);
      return result;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      result.would_block = true;
      return result;
    }
    if (errno == ENOBUFS) {
      result.overflow = true;
      return result;
    }
    throw_errno(errno, "recvmsg on the proc connector");
  }
}

int proc_connector::take_socket_error(channel from) {
  const int fd = fd_of(from);
  int err = 0;
  socklen_t len = sizeof err;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) throw_errno(errno, "getsockopt(SO_ERROR)");
  return err;
}

std::vector<proc_event_record> proc_connector::take_early_events() {
  std::vector<proc_event_record> taken;
  taken.swap(early_events_);
  return taken;
}

}  // namespace execwarden
