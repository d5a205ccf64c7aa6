#include "reader.h"

#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace execwarden {
namespace {

// Datagrams handled before the batch limits are checked again, so a flood still flushes.
constexpr int datagrams_per_round = 256;

}  // namespace

reader::reader(std::unique_ptr<proc_connector> connector, const reader_options& options,
               capture_counters& counters, batch_sink sink)
    : connector_(std::move(connector)),
      options_(options),
      counters_(counters),
      sink_(std::move(sink)),
      snapshotter_(options.snapshot) {
  stop_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (stop_fd_ < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
  counters_.receive_buffer_bytes = connector_->receive_buffer_bytes();
  received_.reserve(64);
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

// Runs on the reader thread.
void reader::run() {
  try {
    for (const proc_event_record& event : connector_->take_early_events()) accept(event);
    pollfd fds[2] = {{connector_->fd(), POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    for (;;) {
      int timeout = -1;
      if (batch_ && !batch_->events.empty()) {
        // Rounded up: a timeout rounded down to 0 would spin for the batch's last millisecond.
        const auto age = std::chrono::steady_clock::now() - batch_started_;
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(options_.batch_max_age - age);
        timeout = left.count() > 0 ? static_cast<int>(left.count()) : 0;
      }
      const int ready = ::poll(fds, 2, timeout);
      if (ready < 0) {
        if (errno == EINTR) continue;
        throw std::system_error(errno, std::generic_category(), "poll on the proc connector");
      }
      if ((fds[1].revents & POLLIN) != 0) break;
      if ((fds[0].revents & (POLLIN | POLLERR)) != 0) drain_connector();
      if (batch_ && !batch_->events.empty() &&
          std::chrono::steady_clock::now() - batch_started_ >= options_.batch_max_age) {
        flush();
      }
    }
  } catch (const std::exception& e) {
    std::lock_guard<std::mutex> lock(error_mutex_);
    error_ = e.what();
  }
  flush();
}

// Runs on the reader thread.
void reader::drain_connector() {
  for (int round = 0; round < datagrams_per_round; ++round) {
    received_.clear();
    const receive_result r = connector_->receive(received_);
    if (r.overflow) {
      ++counters_.overflows;
      pending_losses_ |= loss_overflow;
      continue;
    }
    if (r.decoded.rejected > 0) counters_.messages_rejected += r.decoded.rejected;
    for (const proc_ack& ack : connector_->last_acks()) note_sequence(ack.cpu, ack.seq);
    for (const proc_event_record& event : received_) accept(event);
    if (r.would_block) break;
  }
  complete_snapshots();
}

// The second half of each exec snapshot of a burst, once every exec in it has its urgent half.
// Runs on the reader thread.
void reader::complete_snapshots() {
  if (incomplete_.empty()) return;
  const auto started = std::chrono::steady_clock::now();
  for (auto& [pid, snapshot] : incomplete_) {
    snapshotter_.take_rest(pid, *snapshot);
    if (snapshot->failed != 0) ++counters_.snapshots_partial;
    if (snapshot->gone) ++counters_.snapshots_gone;
  }
  counters_.snapshot_rest_ns += static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - started).count());
  incomplete_.clear();
}

// Runs on the reader thread.
void reader::accept(const proc_event_record& event) {
  ++counters_.events_by_kind[static_cast<size_t>(event.kind)];
  note_sequence(event.cpu, event.seq);
  if (!batch_) {
    batch_ = std::make_unique<event_batch>();
    batch_->events.reserve(options_.batch_size);
  }
  if (batch_->events.empty()) batch_started_ = std::chrono::steady_clock::now();
  captured_event& captured = batch_->events.emplace_back();
  captured.event = event;
  if (event.kind == event_kind::exit && event.pid == event.tgid) last_exec_.erase(event.tgid);
  if (event.kind == event_kind::comm && event.pid == event.tgid) note_rename(event);
  if (event.kind == event_kind::exec) {
    auto previous = last_exec_.find(event.tgid);
    if (previous != last_exec_.end() && previous->second.taken_ns > event.timestamp_ns) {
      // The earlier exec was read after this one happened: it holds this exec's image. Flagged
      // when its batch is still here; counted either way.
      if (previous->second.in_batch != nullptr) previous->second.in_batch->stale = true;
      ++counters_.snapshots_stale;
    }
    captured.snapshot = std::make_unique<proc_snapshot>();
    snapshotter_.take_urgent(event.tgid, *captured.snapshot);
    ++counters_.snapshots_taken;
    counters_.snapshot_urgent_ns += captured.snapshot->urgent_done_ns - captured.snapshot->taken_ns;
    incomplete_.emplace_back(event.tgid, captured.snapshot.get());
    last_exec_[event.tgid] = {captured.snapshot->taken_ns, captured.snapshot->urgent_done_ns, captured.snapshot.get()};
    batch_exec_pids_.push_back(event.tgid);
  }
  if (batch_->events.size() >= options_.batch_size) flush();
}

// A process that renames itself right after its exec may do so before the urgent reads: then
// the snapshot's comm is the new name, not the one the kernel set at exec. The main thread's
// rename (pid == tgid) is what /proc/<pid>/stat shows.
// Runs on the reader thread.
void reader::note_rename(const proc_event_record& event) {
  auto previous = last_exec_.find(event.tgid);
  if (previous == last_exec_.end() || previous->second.urgent_done_ns < event.timestamp_ns) return;
  if (previous->second.in_batch != nullptr) previous->second.in_batch->comm_renamed = true;
  ++counters_.comms_renamed;
}

// Runs on the reader thread.
void reader::note_sequence(uint32_t cpu, uint32_t seq) {
  const int64_t gap = sequences_.observe(cpu, seq);
  if (gap == 0) return;
  counters_.sequence_gaps += gap;
  if (gap > 0) pending_losses_ |= loss_sequence_gap;
}

// Runs on the reader thread.
void reader::flush() {
  if (!batch_ || batch_->events.empty()) return;
  // The batch leaves this thread: its snapshots must be whole first, and no longer reachable.
  complete_snapshots();
  for (const int32_t pid : batch_exec_pids_) {
    auto entry = last_exec_.find(pid);
    if (entry != last_exec_.end()) entry->second.in_batch = nullptr;
  }
  batch_exec_pids_.clear();
  batch_->losses_before = pending_losses_;
  const size_t count = batch_->events.size();
  if (sink_(batch_)) {
    pending_losses_ = 0;
    batch_.reset();
    return;
  }
  ++counters_.batches_dropped;
  counters_.events_dropped += count;
  pending_losses_ |= loss_batch_dropped;
  batch_->events.clear();
}

}  // namespace execwarden
