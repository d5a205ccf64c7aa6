#include "reader.h"

#include "privileges.h"
#include "proc_util.h"

#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <unistd.h>
#if defined(__GLIBC__)
#include <malloc.h>  // malloc_trim
#endif

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <system_error>

namespace execwarden {
namespace {

// Datagrams handled before the batch limits are checked again, so a flood still flushes.
constexpr int datagrams_per_round = 256;
// A batch starts with room for this many events and grows when a storm needs more: an age flush
// of a few events must not hold a batch_size-sized block while it waits in the queue to JS.
constexpr size_t batch_initial_capacity = 1024;
// Fork start times read between two looks at the socket for waiting events (about 10 µs each).
constexpr size_t forks_between_checks = 8;
// How long a fork waits for its exec to bring its start time before reading it itself.
constexpr uint64_t fork_exec_wait_ns = 1'000'000;
// With a split connector, how long the other socket stays out of poll() after a drain that found
// events on it (execs still wake the thread at once, and take the rest with them).
constexpr uint64_t rest_quiet_ns = 1'000'000;
// Held events of the rest socket from which an exec's second half is taken at once, before they
// are (a flood of other events would otherwise delay it past a short-lived process's end).
constexpr size_t rest_backlog_for_second_half = 64;
// Datagrams of the rest socket read between two looks at the exec socket, in a drain no exec
// asked for (a look is one poll(), about a microsecond).
constexpr int rest_datagrams_between_checks = 16;
// Events of the rest socket not yet accepted beyond which it is not drained (the kernel's buffer
// holds them meanwhile): they wait for the exec socket to catch up.
constexpr size_t held_rest_max = 16384;
// With a split connector, a gap in a CPU's sequence numbers is a loss only once it has stayed
// open this long: the two sockets are read in turn, so an event of one can arrive after a later
// event of the same CPU on the other.
constexpr uint64_t split_sequence_grace_ns = 100'000'000;
// Room for error(), reserved up front so that recording a failure (bad_alloc included) never
// allocates; longer messages are cut.
constexpr size_t error_max_bytes = 512;

}  // namespace

exec_history::entry* exec_history::find(int32_t tgid) {
  auto found = entries_.find(tgid);
  return found == entries_.end() ? nullptr : &found->second;
}

void exec_history::record(int32_t tgid, const entry& value) {
  if (entries_.size() >= capacity_ && entries_.find(tgid) == entries_.end()) sweep(value.taken_ns);
  entries_[tgid] = value;
}

void exec_history::sweep(uint64_t now_ns) {
  for (auto it = entries_.begin(); it != entries_.end();) {
    const bool old = now_ns > it->second.taken_ns && now_ns - it->second.taken_ns > horizon_ns_;
    it = old ? entries_.erase(it) : std::next(it);
  }
  if (entries_.size() > capacity_ - capacity_ / 4) entries_.clear();
}

reader::reader(std::unique_ptr<proc_connector> connector, const reader_options& options,
               capture_counters& counters, batch_sink sink, std::shared_ptr<std::atomic<int64_t>> queued_bytes)
    : connector_(std::move(connector)),
      options_(options),
      counters_(counters),
      sink_(std::move(sink)),
      queued_bytes_(std::move(queued_bytes)),
      snapshotter_(options.snapshot),
      sequences_(connector_->split() ? split_sequence_grace_ns : 0) {
  stop_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (stop_fd_ < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
  counters_.receive_buffer_bytes = connector_->receive_buffer_bytes();
  received_.reserve(64);
  error_.reserve(error_max_bytes);
  const long ticks = ::sysconf(_SC_CLK_TCK);
  ns_per_tick_ = ticks > 0 ? 1000000000ull / static_cast<uint64_t>(ticks) : 0;
}

reader::~reader() {
  stop();
  ::close(stop_fd_);
}

int reader::start() {
  thread_ = std::thread([this] { run(); });
  if (!options_.realtime) {
    counters_.realtime = false;
    return 0;
  }
  sched_param param{};
  param.sched_priority = options_.realtime_priority;
  const int err = ::pthread_setschedparam(thread_.native_handle(), SCHED_FIFO, &param);
  counters_.realtime = err == 0;
  return err;
}

void reader::stop() {
  if (!thread_.joinable()) return;
  const uint64_t one = 1;
  while (::write(stop_fd_, &one, sizeof one) < 0 && errno == EINTR) {
  }
  thread_.join();
}

std::string reader::error() const {
  std::lock_guard<std::mutex> lock(error_mutex_);
  return error_;
}

// Nothing may leave this function: an exception escaping a thread's function calls
// std::terminate and takes the whole agent down. The last batch is flushed after a failure too
// (what was read is still worth delivering), and a failure there is recorded like any other.
// Runs on the reader thread.
void reader::run() {
  ::pthread_setname_np(::pthread_self(), "execwarden-rd");
  if (options_.drop_capabilities != 0) {
    try {
      drop_capabilities(options_.drop_capabilities);
      counters_.reader_capabilities_dropped = true;
    } catch (const std::exception&) {
      // Not fatal: the thread keeps working with what it holds; the counter says so.
    }
  }
  try {
    poll_loop();
  } catch (...) {
    fail(std::current_exception());
  }
  try {
    release_rest_before(UINT64_MAX);
    flush();
  } catch (...) {
    fail(std::current_exception());
  }
}

// Runs on the reader thread.
void reader::poll_loop() {
  const bool split = connector_->split();
  if (connector_->take_early_overflow()) {
    ++counters_.overflows;
    pending_losses_ |= loss_overflow;
  }
  if (split) drain_rest();
  for (const proc_event_record& event : connector_->take_early_events()) take_from_exec_socket(event);
  pollfd fds[3] = {{connector_->fd(), POLLIN, 0}, {stop_fd_, POLLIN, 0}, {connector_->rest_fd(), POLLIN, 0}};
  for (;;) {
    int64_t timeout_ns = -1;
    const auto sooner = [&timeout_ns](int64_t left) {
      left = std::max<int64_t>(0, left);  // already due: at once, never "no timeout"
      timeout_ns = timeout_ns < 0 ? left : std::min(timeout_ns, left);
    };
    uint64_t now = monotonic_ns();
    if (batch_ && !batch_->events.empty()) {
      const auto age = std::chrono::steady_clock::now() - batch_started_;
      sooner(std::chrono::duration_cast<std::chrono::nanoseconds>(options_.batch_max_age - age).count());
    }
    const bool rest_polled = split && now >= rest_quiet_until_ns_;
    if (split && !rest_polled) sooner(static_cast<int64_t>(rest_quiet_until_ns_ - now));
    // Held events wait only for the exec socket to be looked at once more.
    const bool rest_held = held_rest_count() > 0;
    if (rest_held) sooner(0);
    const uint64_t gap_due = sequences_.next_due_ns();
    if (gap_due != 0) sooner(gap_due > now ? static_cast<int64_t>(gap_due - now) : 0);
    // Rounded up to whole milliseconds: a timeout rounded down to 0 would spin for the last one.
    const int timeout = timeout_ns < 0 ? -1 : static_cast<int>(std::max<int64_t>(0, (timeout_ns + 999'999) / 1'000'000));
    fds[2].revents = 0;
    const int ready = ::poll(fds, rest_polled ? 3 : 2, timeout);
    if (ready < 0) {
      if (errno == EINTR) continue;
      throw std::system_error(errno, std::generic_category(), "poll on the proc connector");
    }
    if ((fds[1].revents & POLLIN) != 0) break;
    if ((fds[1].revents & (POLLERR | POLLHUP | POLLNVAL)) != 0) {
      throw std::system_error(EBADF, std::generic_category(), "poll on the reader's stop eventfd");
    }
    // poll() keeps reporting these at once, forever: carrying on would spin the thread.
    for (const pollfd& polled : {fds[0], fds[2]}) {
      if ((polled.revents & POLLNVAL) != 0) {
        throw std::system_error(EBADF, std::generic_category(), "the proc connector socket is not open (POLLNVAL)");
      }
      if ((polled.revents & POLLHUP) != 0) {
        throw std::system_error(EPIPE, std::generic_category(), "the proc connector socket hung up (POLLHUP)");
      }
    }
    now = monotonic_ns();
    const short connector = fds[0].revents;
    const short rest = fds[2].revents;
    // A pending socket error (ENOBUFS: the kernel dropped events) is what recvmsg reports first,
    // so draining normally clears POLLERR; one that a drain could not clear is settled.
    // Execs first: each reads the rest socket itself, after its urgent reads, as far as its own
    // time when its fork may still wait there (take_from_exec_socket).
    // The rest socket is drained by execs too, so whether it gave anything since poll() is
    // counted across all its drains.
    rest_progressed_ = false;
    const bool exec_ready = (connector & (POLLIN | POLLERR)) != 0;
    bool progressed = exec_ready && drain_connector();
    const bool take_rest = split && ((rest & (POLLIN | POLLERR)) != 0 || (!rest_polled && now >= rest_quiet_until_ns_) || rest_held);
    if (take_rest) {
      drain_rest();
      // Looked at again: what was just received waits for any exec that came meanwhile.
      progressed = drain_connector() || progressed;
      if ((rest & POLLERR) != 0 && !rest_progressed_) settle_socket_error(channel::rest);
    }
    if ((connector & POLLERR) != 0 && !progressed) settle_socket_error(channel::exec);
    settle_sequences(monotonic_ns());
    if (batch_ && !batch_->events.empty() &&
        std::chrono::steady_clock::now() - batch_started_ >= options_.batch_max_age) {
      flush();
    }
  }
}

// Keeps the first failure (later ones are its consequences). Never allocates: error_ was
// reserved, and the message is cut to fit. Runs on the reader thread.
void reader::fail(std::exception_ptr failure) noexcept {
  const char* what = "the reader thread stopped on an exception that is not a std::exception";
  try {
    std::rethrow_exception(failure);
  } catch (const std::exception& e) {
    if (e.what() != nullptr && e.what()[0] != '\0') what = e.what();
  } catch (...) {
  }
  std::lock_guard<std::mutex> lock(error_mutex_);
  if (!error_.empty()) return;
  error_.assign(what, std::min(std::strlen(what), error_.capacity()));
}

// Returns whether anything was received (a datagram, or the kernel's overflow report).
// Runs on the reader thread.
bool reader::drain_connector() {
  bool progressed = false;
  bool emptied = false;
  for (int round = 0; round < datagrams_per_round; ++round) {
    received_.clear();
    const receive_result r = connector_->receive(received_);
    if (!r.would_block) progressed = true;
    if (!note_receive(r)) continue;
    for (const proc_event_record& event : received_) take_from_exec_socket(event);
    if (r.would_block) {
      emptied = true;
      break;
    }
  }
  // Every event held from the rest socket was received before this socket was found empty, and
  // the exec it follows was queued before it: that exec has been accepted.
  if (emptied) release_rest_before(UINT64_MAX);
  complete_snapshots(true, emptied);
  return progressed;
}

// What a receive reports besides events, from either socket: an overflow (then it returns false:
// nothing else came), messages refused, acks' sequence numbers. Runs on the reader thread.
bool reader::note_receive(const receive_result& r) {
  if (r.overflow) {
    ++counters_.overflows;
    pending_losses_ |= loss_overflow;
    return false;
  }
  if (r.decoded.rejected > 0) counters_.messages_rejected += r.decoded.rejected;
  for (const proc_ack& ack : connector_->last_acks()) note_sequence(ack.cpu, ack.seq);
  return true;
}

// Accepts an event of the exec socket after the held events of the rest socket that happened
// before it. The kernel queues a fork before the child can run, so an exec's fork (and the exit
// of an earlier process with the same pid) is on the rest socket before the exec happens: when
// the rest socket may still hold events from before the exec, it is read up to the exec first.
// The exec's urgent reads come first all the same: its process may be about to exit.
// Runs on the reader thread.
void reader::take_from_exec_socket(const proc_event_record& event) {
  std::unique_ptr<proc_snapshot> snapshot;
  bool completed = false;
  if (event.kind == event_kind::exec) {
    snapshot = std::make_unique<proc_snapshot>();
    // JS far behind: this cmdline keeps its head and end only (reader_options::max_queued_bytes).
    const bool behind = queued_bytes_ && std::max<int64_t>(0, queued_bytes_->load()) > static_cast<int64_t>(options_.short_cmdlines_above);
    snapshotter_.keep_short_cmdlines(behind);
    snapshotter_.take_urgent(event.tgid, *snapshot);
    if (behind && snapshot->cmdline_tail_offset >= 0) ++counters_.cmdlines_kept_short;
    // Behind a flood of other events, the exec's second half is not left until they are taken:
    // by then a short-lived process is gone, and with it its ids and working directory.
    if (rest_flooded_ || held_rest_count() >= rest_backlog_for_second_half) {
      complete_snapshot(event.tgid, *snapshot);
      completed = true;
    }
    if (connector_->split() && event.timestamp_ns >= rest_clean_since_ns_) {
      // What is held from before the exec goes first, making room for what is read next.
      release_rest_before(event.timestamp_ns);
      drain_rest(event.timestamp_ns);
      if (event.timestamp_ns >= rest_clean_since_ns_) ++counters_.execs_ahead_of_rest;
    }
  }
  release_rest_before(event.timestamp_ns);
  accept(event, std::move(snapshot), completed);
}

// Receives what waits on the rest socket (split connector) into held_rest_, or only until
// everything queued before `until_ns` is in. Returns whether anything was received.
// rest_clean_since_ns_ moves on with what arrives: an event's time is taken before it is queued
// and the socket keeps its order, so once one of time T is in, so is all that was queued before
// T; and once the socket is empty, all that was queued before the drain started.
// Runs on the reader thread.
bool reader::drain_rest(uint64_t until_ns) {
  bool progressed = false;
  bool emptied = false;
  bool far_enough = false;
  const uint64_t started = monotonic_ns();
  for (int round = 0; round < datagrams_per_round && held_rest_count() < held_rest_max; ++round) {
    if (rest_clean_since_ns_ > until_ns) {
      far_enough = true;
      break;
    }
    // A flood on this socket must not keep an exec waiting for its urgent reads: a drain not
    // asked for by an exec gives way to one every few datagrams.
    if (until_ns == UINT64_MAX && round % rest_datagrams_between_checks == rest_datagrams_between_checks - 1 && events_waiting()) break;
    const size_t before = held_rest_.size();
    const receive_result r = connector_->receive(held_rest_, channel::rest);
    if (r.would_block) {
      rest_clean_since_ns_ = std::max(rest_clean_since_ns_, started);
      emptied = true;
      break;
    }
    progressed = true;
    rest_progressed_ = true;
    if (!note_receive(r)) continue;
    for (size_t i = before; i < held_rest_.size(); ++i) {
      rest_clean_since_ns_ = std::max(rest_clean_since_ns_, held_rest_[i].timestamp_ns);
    }
  }
  // Quiet for a while once emptied after finding events, or read as far as an exec needed: what
  // comes next (the exec's own exit) can wait for the next exec or a millisecond. Left with
  // events still waiting (a flood), the socket stays in poll(): they are work, not a spin.
  if (far_enough || (emptied && progressed)) {
    rest_quiet_until_ns_ = monotonic_ns() + rest_quiet_ns;
  } else {
    rest_quiet_until_ns_ = 0;
  }
  // Stopped with events still waiting, neither emptied nor far enough: a flood.
  if (emptied) {
    rest_flooded_ = false;
  } else if (!far_enough && progressed) {
    rest_flooded_ = true;
  }
  return progressed;
}

// Accepts the held events of the rest socket that happened before timestamp_ns, in the order
// they arrived. An event of a process always comes after the exec it follows (its exit, its
// rename): that exec was on the exec socket before the event happened.
// Runs on the reader thread.
void reader::release_rest_before(uint64_t timestamp_ns) {
  while (held_rest_next_ < held_rest_.size() && held_rest_[held_rest_next_].timestamp_ns < timestamp_ns) {
    accept(held_rest_[held_rest_next_++]);
  }
  if (held_rest_next_ == held_rest_.size()) {
    held_rest_.clear();
    held_rest_next_ = 0;
    // A flood's worth of room is given back once it has passed.
    if (held_rest_.capacity() > 4096) held_rest_.shrink_to_fit();
  } else if (held_rest_next_ > 4096 && held_rest_next_ > held_rest_.size() / 2) {
    // Never wholly released while execs lag behind: the released front goes.
    held_rest_.erase(held_rest_.begin(), held_rest_.begin() + static_cast<std::ptrdiff_t>(held_rest_next_));
    held_rest_next_ = 0;
  }
}

// Runs on the reader thread.
void reader::settle_sequences(uint64_t now_ns) {
  const int64_t settled = sequences_.settle(now_ns);
  if (settled == 0) return;
  counters_.sequence_gaps += settled;
  pending_losses_ |= loss_sequence_gap;
}

// POLLERR, yet recvmsg had nothing to say: take the socket error directly. An overflow is
// counted as usual; anything else, or no error at all (POLLERR would then repeat forever),
// ends the reader. Runs on the reader thread.
void reader::settle_socket_error(channel from) {
  const int err = connector_->take_socket_error(from);
  if (err == ENOBUFS) {
    ++counters_.overflows;
    pending_losses_ |= loss_overflow;
    return;
  }
  throw std::system_error(err != 0 ? err : EIO, std::generic_category(),
                          "POLLERR on the proc connector socket that reading does not clear");
}

// The second half of each exec snapshot of a burst, once every exec in it has its urgent half.
// Between snapshots it gives way to events waiting on the socket: a wrapper (setsid, nohup)
// replaces its image within a millisecond, so the urgent half of a new exec cannot wait behind
// the second halves of earlier ones (a socket lookup can take milliseconds). Those wait at most
// until the batch leaves (batch_max_age), when flush() completes them without giving way. The
// socket is not looked at before the first one when the caller has just found it empty.
// Runs on the reader thread.
void reader::complete_snapshots(bool yield_to_events, bool socket_just_emptied) {
  if (incomplete_.empty() && pending_forks_.empty()) return;
  const auto started = std::chrono::steady_clock::now();
  size_t done = 0;
  for (; done < incomplete_.size(); ++done) {
    if (yield_to_events && (done > 0 || !socket_just_emptied) && events_waiting()) break;
    auto& [pid, snapshot] = incomplete_[done];
    snapshotter_.take_rest(pid, *snapshot);
    count_completed(*snapshot);
  }
  counters_.snapshot_rest_ns += static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - started).count());
  incomplete_.erase(incomplete_.begin(), incomplete_.begin() + static_cast<std::ptrdiff_t>(done));
  // A fork's start time never changes (an exec keeps it). Most children exec within a
  // millisecond, and their exec snapshot brings it (fork_start_from_exec): a fork waits that long
  // for its exec before its own stat read, and reads left when the batch leaves are done then.
  // One stat read is short, so the socket is looked at every few of them, not before each.
  size_t forks_done = 0;
  if (incomplete_.empty() || !yield_to_events) {
    const uint64_t now = yield_to_events ? monotonic_ns() : 0;
    for (; forks_done < pending_forks_.size(); ++forks_done) {
      captured_event& fork = batch_->events[pending_forks_[forks_done]];
      // In arrival order: once one is too young, so are the rest.
      if (yield_to_events && fork.event.timestamp_ns + fork_exec_wait_ns > now) break;
      if (yield_to_events && forks_done % forks_between_checks == forks_between_checks - 1 && events_waiting()) break;
      fork.start_ticks = read_fork_start(fork.event);
    }
  }
  pending_forks_.erase(pending_forks_.begin(), pending_forks_.begin() + static_cast<std::ptrdiff_t>(forks_done));
  const stdio_probe_stats& stdio = snapshotter_.stdio_stats();
  counters_.socket_cache_hits.store(stdio.socket_cache_hits, std::memory_order_relaxed);
  counters_.socket_listing_scans.store(stdio.listing_scans, std::memory_order_relaxed);
  counters_.socket_lookups_over_budget.store(stdio.lookups_over_budget, std::memory_order_relaxed);
  counters_.parent_stdio_reused.store(snapshotter_.parent_stdio_reused(), std::memory_order_relaxed);
}

// Runs on the reader thread.
void reader::count_completed(const proc_snapshot& snapshot) {
  if (snapshot.failed != 0) ++counters_.snapshots_partial;
  if (snapshot.gone) ++counters_.snapshots_gone;
}

// The second half of one snapshot, at once. Runs on the reader thread.
void reader::complete_snapshot(pid_t pid, proc_snapshot& snapshot) {
  const auto started = std::chrono::steady_clock::now();
  snapshotter_.take_rest(pid, snapshot);
  count_completed(snapshot);
  counters_.snapshot_rest_ns += static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - started).count());
}

// The start time of a forked process, or -1 when it is gone, or when the pid now holds a process
// that started after the fork (the child exited and its pid was handed on while it waited).
// Runs on the reader thread.
int64_t reader::read_fork_start(const proc_event_record& fork) {
  const int64_t start_ticks = snapshotter_.read_start_ticks(fork.tgid);
  return start_ticks < 0 || started_after(start_ticks, fork.timestamp_ns) ? -1 : start_ticks;
}

// Runs on the reader thread.
bool reader::events_waiting() const {
  pollfd fd{connector_->fd(), POLLIN, 0};
  return ::poll(&fd, 1, 0) > 0 && (fd.revents & POLLIN) != 0;
}

// Runs on the reader thread.
void reader::accept(const proc_event_record& event, std::unique_ptr<proc_snapshot> snapshot, bool completed) {
  ++counters_.events_by_kind[static_cast<size_t>(event.kind)];
  note_sequence(event.cpu, event.seq);
  if (!batch_) {
    batch_ = std::make_unique<event_batch>();
    batch_->events.reserve(std::min(options_.batch_size, batch_initial_capacity));
  }
  if (batch_->events.empty()) batch_started_ = std::chrono::steady_clock::now();
  captured_event& captured = batch_->events.emplace_back();
  captured.event = event;
  if (event.kind == event_kind::fork && event.pid == event.tgid && !fork_start_from_earlier_exec(captured)) {
    pending_forks_.push_back(batch_->events.size() - 1);
  }
  if (event.kind == event_kind::exit && event.pid == event.tgid) {
    last_exec_.forget(event.tgid);
    // The exit comes before any event of a process that reuses the pid: no child after it may
    // be given this process's stdio reading.
    snapshotter_.forget_parent(event.tgid);
  }
  if (event.kind == event_kind::comm && event.pid == event.tgid) note_rename(event);
  if (event.kind == event_kind::exec) {
    exec_history::entry* previous = last_exec_.find(event.tgid);
    if (previous != nullptr && previous->taken_ns > event.timestamp_ns) {
      // The earlier exec was read after this one happened: it holds this exec's image. Flagged
      // when its batch is still here; counted either way.
      if (previous->in_batch != nullptr) previous->in_batch->stale = true;
      ++counters_.snapshots_stale;
    }
    captured.snapshot = std::move(snapshot);
    if (started_after(captured.snapshot->start_ticks, event.timestamp_ns)) {
      captured.snapshot->started_after_event = true;
      ++counters_.snapshots_reused;
    }
    fork_start_from_exec(event.tgid, *captured.snapshot);
    ++counters_.snapshots_taken;
    const proc_snapshot& taken = *captured.snapshot;
    batch_->snapshot_bytes += taken.cmdline.size() + taken.exe.size();
    for (const std::string& entry : taken.env) batch_->snapshot_bytes += entry.size();
    counters_.snapshot_urgent_ns += captured.snapshot->urgent_done_ns - captured.snapshot->taken_ns;
    if (!completed) incomplete_.emplace_back(event.tgid, captured.snapshot.get());
    last_exec_.record(event.tgid, {captured.snapshot->taken_ns, captured.snapshot->urgent_done_ns, captured.snapshot.get()});
    batch_exec_pids_.push_back(event.tgid);
  }
  if (batch_->events.size() >= options_.batch_size || batch_->snapshot_bytes >= options_.batch_max_bytes) flush();
}

// A process that renames itself right after its exec may do so before the urgent reads: then
// the snapshot's comm is the new name, not the one the kernel set at exec. The main thread's
// rename (pid == tgid) is what /proc/<pid>/stat shows.
// Runs on the reader thread.
void reader::note_rename(const proc_event_record& event) {
  const exec_history::entry* previous = last_exec_.find(event.tgid);
  if (previous == nullptr || previous->urgent_done_ns < event.timestamp_ns) return;
  if (previous->in_batch != nullptr) previous->in_batch->comm_renamed = true;
  ++counters_.comms_renamed;
}

// The process read under this pid started after the exec event: the one that exec'd is gone and
// its pid was reused, so the snapshot describes another process. Start times are boot-clock ticks
// (stat field 22, CLOCK_BOOTTIME), event times CLOCK_MONOTONIC, which stops during suspend: the
// two are compared through their current offset, with one tick of slack for the tick rounding.
// Runs on the reader thread.
bool reader::started_after(int64_t start_ticks, uint64_t event_ns) const {
  if (start_ticks < 0 || ns_per_tick_ == 0) return false;
  timespec boot{};
  timespec mono{};
  ::clock_gettime(CLOCK_BOOTTIME, &boot);
  ::clock_gettime(CLOCK_MONOTONIC, &mono);
  const auto to_ns = [](const timespec& t) { return static_cast<int64_t>(t.tv_sec) * 1000000000 + t.tv_nsec; };
  const int64_t offset = to_ns(boot) - to_ns(mono);
  const int64_t start_ns = start_ticks * static_cast<int64_t>(ns_per_tick_);
  return start_ns > static_cast<int64_t>(event_ns) + offset + static_cast<int64_t>(ns_per_tick_);
}

// Whether an exec snapshot's start time can be its fork's: read, and of a process that did not
// start after the fork (that one holds a reused pid). Runs on the reader thread.
bool reader::start_fits_fork(const proc_snapshot& snapshot, const proc_event_record& fork) const {
  return snapshot.start_ticks >= 0 && !snapshot.started_after_event && !started_after(snapshot.start_ticks, fork.timestamp_ns);
}

// An exec keeps the process's start time, and its snapshot has just read it: the process's fork,
// when still waiting in this batch for its own stat read, takes it from there instead.
// Runs on the reader thread.
void reader::fork_start_from_exec(int32_t tgid, const proc_snapshot& snapshot) {
  // The latest fork of the tgid is the one that exec'd; the list is bounded by the batch size.
  for (auto it = pending_forks_.rbegin(); it != pending_forks_.rend(); ++it) {
    captured_event& fork = batch_->events[*it];
    if (fork.event.tgid != tgid) continue;
    if (!start_fits_fork(snapshot, fork.event)) return;
    fork.start_ticks = snapshot.start_ticks;
    pending_forks_.erase(std::next(it).base());
    ++counters_.fork_starts_from_exec;
    return;
  }
}

// A fork that comes after its own exec (on a split connector, when a flood of other events kept
// its socket from being emptied first) takes its start time from that exec's snapshot, when it
// is still in this batch. Returns whether it did. Runs on the reader thread.
bool reader::fork_start_from_earlier_exec(captured_event& fork) {
  const exec_history::entry* exec = last_exec_.find(fork.event.tgid);
  if (exec == nullptr || exec->in_batch == nullptr) return false;
  const proc_snapshot& snapshot = *exec->in_batch;
  if (!start_fits_fork(snapshot, fork.event)) return false;
  fork.start_ticks = snapshot.start_ticks;
  ++counters_.fork_starts_from_exec;
  return true;
}

// Runs on the reader thread.
void reader::note_sequence(uint32_t cpu, uint32_t seq) {
  const int64_t gap = sequences_.observe(cpu, seq, connector_->split() ? monotonic_ns() : 0);
  if (gap == 0) return;
  counters_.sequence_gaps += gap;
  if (gap > 0) pending_losses_ |= loss_sequence_gap;
}

// Runs on the reader thread.
void reader::flush() {
  if (!batch_ || batch_->events.empty()) return;
  // The batch leaves this thread: its snapshots must be whole first, and no longer reachable.
  complete_snapshots(false, false);
  settle_sequences(monotonic_ns());
  for (const int32_t pid : batch_exec_pids_) {
    exec_history::entry* entry = last_exec_.find(pid);
    if (entry != nullptr) entry->in_batch = nullptr;
  }
  batch_exec_pids_.clear();
  batch_->losses_before = pending_losses_;
  const size_t count = batch_->events.size();
  size_t bytes = 0;
  if (queued_bytes_) {
    for (const captured_event& captured : batch_->events) {
      bytes += sizeof(captured_event) + (captured.snapshot ? snapshot_bytes(*captured.snapshot) : 0);
    }
  }
  const auto waiting = queued_bytes_ ? static_cast<size_t>(std::max<int64_t>(0, queued_bytes_->load())) : 0;
  // A backlog that JS has worked off leaves its memory free in this thread's malloc arena, where
  // glibc keeps it: give it back to the system then, once per backlog.
  backlog_peak_ = std::max(backlog_peak_, waiting);
  if (waiting == 0 && backlog_peak_ > 0 && backlog_peak_ >= options_.short_cmdlines_above) {
    backlog_peak_ = 0;
#if defined(__GLIBC__)
    ::malloc_trim(0);
#endif
  }
  // One batch always goes when nothing waits, however large (its size is bounded by batch_max_bytes).
  if (waiting == 0 || waiting + bytes <= options_.max_queued_bytes) {
    batch_->queued_bytes = bytes;
    if (queued_bytes_) queued_bytes_->fetch_add(static_cast<int64_t>(bytes));
    if (sink_(batch_)) {
      pending_losses_ = 0;
      batch_.reset();
      return;
    }
    if (queued_bytes_) queued_bytes_->fetch_sub(static_cast<int64_t>(bytes));
  } else {
    ++counters_.batches_over_bytes;
  }
  ++counters_.batches_dropped;
  counters_.events_dropped += count;
  pending_losses_ |= loss_batch_dropped;
  batch_->events.clear();
  batch_->snapshot_bytes = 0;
}

}  // namespace execwarden
