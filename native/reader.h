// The reader thread: blocks in poll() on the proc connector and an eventfd (the stop signal),
// decodes each datagram as it arrives, snapshots /proc/<pid> for every exec before reading the
// next datagram, and hands events on in batches (flushed by count or age).
//
// The batch sink is bounded: when it refuses a batch (JS has fallen behind), the batch is dropped
// and counted. Every loss (kernel overflow, sequence gap, dropped batch) is also stamped as a flag
// on the next batch that does get through, so the consumer knows to resynchronise from /proc.
//
// Nothing escapes the thread: whatever the poll loop, the last flush or the sink throws (any
// type) ends the reader and becomes error(), which the JS side reports as "capture stopped". A
// connector socket that poll() reports closed (POLLNVAL), hung up (POLLHUP) or in error with no
// error to read (POLLERR) ends it the same way, instead of spinning a SCHED_FIFO thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "proc_connector.h"
#include "proc_snapshot.h"

namespace execwarden {

enum loss_flag : uint32_t {
  loss_overflow = 1u << 0,
  loss_sequence_gap = 1u << 1,
  loss_batch_dropped = 1u << 2,
};

struct captured_event {
  proc_event_record event;
  std::unique_ptr<proc_snapshot> snapshot;  // exec only
  // fork of a process (not a thread): its start time (stat field 22), read by the reader so JS
  // need not; -1 when the process was gone, -2 when not read (another kind of event).
  int64_t start_ticks = -2;
};

struct event_batch {
  std::vector<captured_event> events;
  size_t snapshot_bytes = 0;  // cmdline, exe and environ text the snapshots hold
  // What the batch counts against reader_options::max_queued_bytes while it waits for JS; the
  // JS side gives it back (queued_bytes) once it has taken the batch.
  size_t queued_bytes = 0;
  uint32_t losses_before = 0;  // loss_flag bits for losses since the previous delivered batch
};

// Written by the reader thread, read from any thread.
struct capture_counters {
  std::atomic<uint64_t> events_by_kind[event_kind_count] = {};
  std::atomic<uint64_t> overflows{0};
  std::atomic<int64_t> sequence_gaps{0};
  std::atomic<uint64_t> messages_rejected{0};
  std::atomic<uint64_t> batches_dropped{0};
  // Of those, batches refused because the bytes waiting for JS were at their bound.
  std::atomic<uint64_t> batches_over_bytes{0};
  // Exec snapshots whose cmdline was kept short because JS was behind (reader_options).
  std::atomic<uint64_t> cmdlines_kept_short{0};
  std::atomic<uint64_t> events_dropped{0};
  std::atomic<uint64_t> snapshots_partial{0};
  std::atomic<uint64_t> snapshots_gone{0};
  std::atomic<uint64_t> snapshots_stale{0};
  // Exec snapshots of a process that started after the exec: the pid was reused.
  std::atomic<uint64_t> snapshots_reused{0};
  std::atomic<uint64_t> comms_renamed{0};
  // Exec snapshots taken, and the time spent in their urgent and second halves (ns).
  std::atomic<uint64_t> snapshots_taken{0};
  std::atomic<uint64_t> snapshot_urgent_ns{0};
  std::atomic<uint64_t> snapshot_rest_ns{0};
  // Socket lookups for the standard streams: answered from the cache, listings scanned, and
  // sockets left unresolved because the scan budget was spent.
  std::atomic<uint64_t> socket_cache_hits{0};
  std::atomic<uint64_t> socket_listing_scans{0};
  std::atomic<uint64_t> socket_lookups_over_budget{0};
  // Fork start times taken from the exec snapshot of the same process instead of a stat read,
  // and parent stdio readings reused for another child (proc_snapshot.h).
  std::atomic<uint64_t> fork_starts_from_exec{0};
  std::atomic<uint64_t> parent_stdio_reused{0};
  // Split connector: execs accepted while the other socket could not be emptied first (a flood
  // of other events), so their forks may come after them.
  std::atomic<uint64_t> execs_ahead_of_rest{0};
  std::atomic<int> receive_buffer_bytes{0};
  std::atomic<bool> realtime{false};
  // The reader thread dropped the capabilities it was asked to.
  std::atomic<bool> reader_capabilities_dropped{false};
};

struct reader_options {
  size_t batch_size = 512;
  // A batch also leaves once its snapshots hold this much text: 512 execs with 128 KiB of argv
  // each would otherwise reach JS as 64 MiB at once (and stay in the heap's high-water mark).
  size_t batch_max_bytes = 4 * 1024 * 1024;
  // Bytes of batches waiting for JS (snapshot_bytes of each snapshot, and each event's own size):
  // a batch that would pass the bound is dropped and counted, like one refused by a full queue.
  // Past `short_cmdlines_above` of them, exec snapshots keep twice the cmdline tail (head and end)
  // rather than the whole cap, so that a user who slows JS with long command lines (rules scan
  // them) costs argv in the middle, counted, before it costs events. Without the bound, 3,000
  // execs of 120 KiB argv waited in 400 MiB of native memory while JS caught up.
  size_t max_queued_bytes = 64 * 1024 * 1024;
  size_t short_cmdlines_above = 8 * 1024 * 1024;
  // The longest an event waits for company before JS sees it: this bounds the exec-to-alert
  // latency added by batching, while a storm still fills batches by count.
  std::chrono::milliseconds batch_max_age{2};
  bool realtime = true;
  int realtime_priority = 10;
  // Capabilities (bit mask) the reader thread drops as it starts: it needs none of them after the
  // subscription (CAP_NET_ADMIN) and its priority (CAP_SYS_NICE, used by the starting thread).
  uint64_t drop_capabilities = 0;
  snapshot_options snapshot;
};

// The last exec snapshot per live process (by tgid), to notice a snapshot read after the next
// exec of the same process (a wrapper such as setsid that replaced itself first) and a rename
// before the urgent reads. Exit events remove entries, but exits are lost with everything else
// when the kernel overflows, so the table is also capped. An entry only matters while events
// older than its snapshot can still arrive, i.e. for the reader's lag (milliseconds), so when an
// insert finds the table full, entries older than `horizon` are swept out; if that frees less than
// a quarter of it (that many execs within the horizon), it is cleared. Inserts stay amortised
// O(1), memory stays bounded (about 4 MB at the default cap), and an entry lost early only costs
// a stale or renamed flag. The cap does not depend on losses being detected, and a loss does not
// clear the table: losses come in storms, when wrappers that exec at once are likely. Only the
// reader thread uses it.
class exec_history {
 public:
  struct entry {
    uint64_t taken_ns = 0;
    uint64_t urgent_done_ns = 0;
    proc_snapshot* in_batch = nullptr;  // into the reader's current batch; cleared when it leaves
  };
  static constexpr size_t default_capacity = 65536;
  static constexpr uint64_t default_horizon_ns = 10'000'000'000;  // 10 s

  explicit exec_history(size_t capacity = default_capacity, uint64_t horizon_ns = default_horizon_ns)
      : capacity_(capacity), horizon_ns_(horizon_ns) {}

  entry* find(int32_t tgid);
  // `value.taken_ns` is the clock of the sweep (CLOCK_MONOTONIC, like the snapshots).
  void record(int32_t tgid, const entry& value);
  void forget(int32_t tgid) { entries_.erase(tgid); }
  size_t size() const { return entries_.size(); }

 private:
  void sweep(uint64_t now_ns);

  std::unordered_map<int32_t, entry> entries_;
  size_t capacity_;
  uint64_t horizon_ns_;
};

class reader {
 public:
  // Takes the batch (returns true) or refuses it (returns false; the reader drops and counts it).
  using batch_sink = std::function<bool(std::unique_ptr<event_batch>&)>;

  // `queued_bytes`: the bytes of delivered batches JS has not taken yet, shared with whoever takes
  // them (it subtracts each batch's queued_bytes). Null (a sink that takes batches at once, as in
  // tests): no bound on bytes, and cmdlines are never kept short.
  reader(std::unique_ptr<proc_connector> connector, const reader_options& options, capture_counters& counters,
         batch_sink sink, std::shared_ptr<std::atomic<int64_t>> queued_bytes = nullptr);
  ~reader();
  reader(const reader&) = delete;
  reader& operator=(const reader&) = delete;

  // Starts the thread; returns the errno of a refused SCHED_FIFO request (0 when granted or not asked).
  int start();
  // Wakes the thread, which flushes its last batch, and joins it. Idempotent.
  void stop();
  // Set when the thread ended on an unexpected error (empty otherwise).
  std::string error() const;

 private:
  void run();
  void poll_loop();
  void fail(std::exception_ptr failure) noexcept;
  bool drain_connector();
  bool drain_rest(uint64_t until_ns = UINT64_MAX);
  bool note_receive(const receive_result& r);
  void take_from_exec_socket(const proc_event_record& event);
  void release_rest_before(uint64_t timestamp_ns);
  void settle_sequences(uint64_t now_ns);
  void settle_socket_error(channel from);
  // snapshot: an exec's, its urgent half taken; completed: its second half too.
  void accept(const proc_event_record& event, std::unique_ptr<proc_snapshot> snapshot = nullptr, bool completed = false);
  size_t held_rest_count() const { return held_rest_.size() - held_rest_next_; }
  void complete_snapshot(pid_t pid, proc_snapshot& snapshot);
  void count_completed(const proc_snapshot& snapshot);
  void note_sequence(uint32_t cpu, uint32_t seq);
  void note_rename(const proc_event_record& event);
  bool started_after(int64_t start_ticks, uint64_t event_ns) const;
  void fork_start_from_exec(int32_t tgid, const proc_snapshot& snapshot);
  bool fork_start_from_earlier_exec(captured_event& fork);
  bool start_fits_fork(const proc_snapshot& snapshot, const proc_event_record& fork) const;
  void flush();
  // yield_to_events: stop early, leaving the rest for later, when events wait on the socket.
  void complete_snapshots(bool yield_to_events, bool socket_just_emptied);
  int64_t read_fork_start(const proc_event_record& fork);
  bool events_waiting() const;

  // Nanoseconds per clock tick of /proc/<pid>/stat's start time (USER_HZ).
  uint64_t ns_per_tick_ = 0;
  std::unique_ptr<proc_connector> connector_;
  reader_options options_;
  capture_counters& counters_;
  batch_sink sink_;
  std::shared_ptr<std::atomic<int64_t>> queued_bytes_;
  // The most bytes seen waiting for JS since the last trim (flush).
  size_t backlog_peak_ = 0;
  proc_snapshotter snapshotter_;
  sequence_tracker sequences_;
  std::vector<proc_event_record> received_;
  // Events of the other socket (fork, exit, ...) received but not yet accepted: each is accepted
  // just before the first exec that happened after it, or once the exec socket is found empty
  // after it was received (split connector only; see drain_connector).
  std::vector<proc_event_record> held_rest_;
  size_t held_rest_next_ = 0;
  // The other socket is left out of poll() until then after a drain that found events on it:
  // forks and exits then wake the thread at most once a millisecond, and an exec takes them
  // with it (0: it is polled).
  uint64_t rest_quiet_until_ns_ = 0;
  // Every event queued on the rest socket before this time (CLOCK_MONOTONIC, the clock of event
  // timestamps) has been received: the latest event time received, or the start of the last
  // drain that emptied it, whichever is later (drain_rest).
  uint64_t rest_clean_since_ns_ = 0;
  // The rest socket gave a datagram or an overflow report since the last poll().
  bool rest_progressed_ = false;
  // The last drain of the rest socket left events waiting (a flood of other events).
  bool rest_flooded_ = false;
  std::unique_ptr<event_batch> batch_;
  exec_history last_exec_;
  std::vector<int32_t> batch_exec_pids_;
  // Exec snapshots of the current burst that still lack take_rest(); all belong to batch_.
  std::vector<std::pair<pid_t, proc_snapshot*>> incomplete_;
  // Forks of the current batch (indices into it, in order) whose start time is still to be read;
  // an exec of the same process in the meantime supplies it (fork_start_from_exec).
  std::vector<size_t> pending_forks_;
  std::chrono::steady_clock::time_point batch_started_;
  uint32_t pending_losses_ = 0;
  int stop_fd_ = -1;
  std::thread thread_;
  mutable std::mutex error_mutex_;
  std::string error_;  // reserved up front: recording a failure must not need memory
};

}  // namespace execwarden
