// The kernel proc connector: a NETLINK_CONNECTOR socket subscribed to the CN_IDX_PROC group.
//
// Subscription is proven by the kernel's ack to PROC_CN_MCAST_LISTEN, never assumed: in a
// non-initial pid or user namespace the kernel ignores the request without an error, so a missing
// ack within the timeout is reported as such. Every received datagram is validated (sender port 0,
// i.e. the kernel; nlmsg and cn_msg lengths inside the datagram; the connector id) before it is
// decoded; anything else is counted as rejected and skipped.
//
// The kernel event filter (struct proc_input, 6.6+) is deliberately not used: execwarden wants
// every event kind the connector has, so the filter would cut no kernel work, and a filtered
// subscription loses the per-CPU sequence numbers that reveal drops.
//
// Plain C++: no Node-API here. Failures are std::system_error with the errno of the failing step.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace execwarden {

enum class event_kind : uint8_t { fork, exec, exit, comm, sid, uid, gid, ptrace, coredump };
constexpr size_t event_kind_count = 9;

// One decoded proc-connector event, not interpreted. Fields that a kind does not carry are 0.
struct proc_event_record {
  event_kind kind = event_kind::exec;
  uint32_t cpu = 0;
  uint32_t seq = 0;
  uint64_t timestamp_ns = 0;
  int32_t pid = 0;
  int32_t tgid = 0;
  // fork: the parent; exit and coredump: the parent where the kernel reports it.
  bool has_parent = false;
  int32_t parent_pid = 0;
  int32_t parent_tgid = 0;
  uint32_t exit_code = 0;
  uint32_t exit_signal = 0;
  // uid/gid events: real and effective id after the change.
  uint32_t real_id = 0;
  uint32_t effective_id = 0;
  int32_t tracer_pid = 0;
  int32_t tracer_tgid = 0;
  char comm[17] = {};
};

// An ack from the kernel (PROC_EVENT_NONE): it returns the request's cn_msg ack field plus one.
// Recent kernels number acks from the same per-CPU counter as events (seq, cpu), so they count
// for gap detection too.
struct proc_ack {
  uint32_t cpu = 0;
  uint32_t seq = 0;
  uint32_t ack = 0;
  uint32_t err = 0;
};

struct decode_result {
  uint32_t accepted = 0;
  uint32_t rejected = 0;
};

// Decodes one received datagram (one or more netlink messages). Appends events to `events` and
// acks to `acks`; a message that is not from the kernel, is truncated, has inconsistent lengths or
// another connector id is counted in `rejected` and skipped; the rest of the datagram is kept only
// while the netlink framing stays trustworthy.
decode_result decode_datagram(const uint8_t* data, size_t size, uint32_t sender_port,
                              std::vector<proc_event_record>& events, std::vector<proc_ack>& acks);

// Counts events the kernel numbered but that never arrived, from the per-CPU sequence numbers.
// Events of one CPU can arrive slightly out of order (the number is taken before the send), so a
// late arrival cancels a gap counted for it. With a grace period, a gap counts only once it has
// stayed open that long: events read from two sockets (exec apart from the rest) reach the
// tracker out of order while one socket waits to be drained, and such a gap is not a loss.
class sequence_tracker {
 public:
  explicit sequence_tracker(uint64_t grace_ns = 0) : grace_ns_(grace_ns) {}
  // Returns the change in the number of missing events (negative for a late arrival that fills
  // a gap already counted). now_ns: CLOCK_MONOTONIC, used only with a grace period.
  int64_t observe(uint32_t cpu, uint32_t seq, uint64_t now_ns = 0);
  // Counts the gaps that have stayed open for the grace period by now_ns; returns how many.
  int64_t settle(uint64_t now_ns);
  // When the oldest gap still in its grace period is due (0: none is).
  uint64_t next_due_ns() const;
  uint64_t missing() const { return missing_; }
  uint64_t unsettled() const { return unsettled_; }

  // Gaps in their grace period kept per CPU; beyond it the oldest counts at once.
  static constexpr size_t max_unsettled_per_cpu = 1024;

 private:
  struct gap {
    uint64_t count = 0;
    uint64_t due_ns = 0;
  };
  struct cpu_state {
    bool seen = false;
    uint32_t next = 0;
    uint64_t outstanding = 0;
    std::vector<gap> open;  // in their grace period, oldest first
  };
  int64_t count_open(cpu_state& state, size_t gaps);
  uint64_t grace_ns_;
  std::vector<cpu_state> cpus_;
  uint64_t missing_ = 0;
  uint64_t unsettled_ = 0;
};

struct connector_options {
  int receive_buffer_bytes = 8 * 1024 * 1024;
  std::chrono::milliseconds ack_timeout{2000};
  // Exec events on one socket, every other kind on a second one, split in the kernel by a
  // socket filter: the reader wakes for an exec at once and takes the rest in passing (see
  // reader.cc). Falls back to one socket where a filter cannot be attached. Each socket gets the
  // receive buffer asked for, so a flood can hold twice as much in the kernel.
  bool split_exec = true;
};

// Which of the connector's sockets: the one every exec arrives on (with everything else when
// not split), or the one for the other kinds.
enum class channel : uint8_t { exec, rest };

struct receive_result {
  bool would_block = false;
  bool overflow = false;
  decode_result decoded;
};

class proc_connector {
 public:
  // Opens, binds, sizes the buffer and subscribes; returns once the kernel acked LISTEN.
  // Throws std::system_error: EPERM/EACCES (missing privilege), EPROTONOSUPPORT/ECONNREFUSED
  // (connector unavailable: private network namespace), ETIMEDOUT (no ack: non-initial pid or
  // user namespace), or the errno of the failing step.
  explicit proc_connector(const connector_options& options);
  ~proc_connector();
  proc_connector(const proc_connector&) = delete;
  proc_connector& operator=(const proc_connector&) = delete;

  int fd() const { return fd_; }
  // The socket of the other kinds of event, -1 when everything arrives on fd().
  int rest_fd() const { return rest_fd_; }
  bool split() const { return rest_fd_ >= 0; }
  // What the kernel granted (getsockopt SO_RCVBUF; the kernel doubles the request).
  int receive_buffer_bytes() const { return granted_buffer_; }
  bool forced_buffer() const { return forced_buffer_; }

  // Receives one datagram of the channel without blocking and decodes it into `events`.
  // Runs on the reader thread.
  receive_result receive(std::vector<proc_event_record>& events, channel from = channel::exec);

  // Takes (and so clears) the socket's pending error, 0 if none: getsockopt(SO_ERROR).
  // Runs on the reader thread.
  int take_socket_error(channel from = channel::exec);

  // Acks decoded by the last receive() (other listeners' subscriptions arrive here too).
  const std::vector<proc_ack>& last_acks() const { return acks_; }

  // Events that arrived while start-up waited for the ack; the reader takes them first.
  std::vector<proc_event_record> take_early_events();
  // Whether the kernel reported an overflow while start-up waited for the ack (and clears it).
  bool take_early_overflow() {
    const bool overflow = early_overflow_;
    early_overflow_ = false;
    return overflow;
  }

 private:
  void send_op(uint32_t op, uint32_t seq);
  void await_ack(uint32_t seq, std::chrono::milliseconds timeout);
  int fd_of(channel from) const { return from == channel::rest && rest_fd_ >= 0 ? rest_fd_ : fd_; }

  int fd_ = -1;
  int rest_fd_ = -1;
  int granted_buffer_ = 0;
  bool forced_buffer_ = false;
  std::vector<uint8_t> buffer_;
  std::vector<proc_ack> acks_;
  std::vector<proc_event_record> early_events_;
  bool early_overflow_ = false;
};

}  // namespace execwarden
