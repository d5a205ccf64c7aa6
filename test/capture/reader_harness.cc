// A test program around the plain C++ reader (no Node-API): it provokes failures the addon cannot
// provoke from JS (a batch sink that throws, a connector socket that is closed or hung up under
// the reader) and prints what the reader made of them as one JSON line. The tests in
// native-robustness*.test.ts compile it (test/capture/reader-harness.ts) and read that line; a
// harness killed by a signal (std::terminate) is itself the failure they look for.
//
// Usage: reader_harness <mode> [args]; every mode but exec-history and parent-stdio subscribes to
// the connector (root).
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "proc_connector.h"
#include "reader.h"

namespace {

using namespace execwarden;
using namespace std::chrono_literals;

double cpu_ms() {
  timespec now{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) * 1e3 + static_cast<double>(now.tv_nsec) / 1e6;
}

// Events of our own for the reader to batch: a fork and an exit each.
void make_events(int count) {
  for (int i = 0; i < count; ++i) {
    const pid_t child = ::fork();
    if (child == 0) ::_exit(0);
    if (child > 0) ::waitpid(child, nullptr, 0);
  }
}

std::string json_string(const std::string& text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
      out += escaped;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

reader_options quiet_options() {
  reader_options options;
  options.realtime = false;  // a reader that spins must not starve the test machine
  return options;
}

// Waits up to `limit` for the reader to record an error, making events meanwhile when asked.
std::string await_error(reader& r, std::chrono::milliseconds limit, bool with_events) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    const std::string error = r.error();
    if (!error.empty()) return error;
    if (with_events) make_events(2);
    std::this_thread::sleep_for(10ms);
  }
  return r.error();
}

// The batch sink throws while the reader runs (and again for the last batch, at the thread's end).
int sink_throws(bool standard) {
  capture_counters counters;
  reader_options options = quiet_options();
  options.batch_max_age = 1ms;
  reader r(std::make_unique<proc_connector>(connector_options{}), options, counters,
           [standard](std::unique_ptr<event_batch>&) -> bool {
             if (standard) throw std::runtime_error("the sink refused the batch");
             throw 42;
           });
  r.start();
  const std::string error = await_error(r, 3000ms, true);
  r.stop();
  std::printf("{\"error\":%s,\"after_stop\":%s}\n", json_string(error).c_str(), json_string(r.error()).c_str());
  return 0;
}

// Nothing is flushed while running; only the last flush, on stop(), meets the throwing sink.
int sink_throws_on_stop() {
  capture_counters counters;
  reader_options options = quiet_options();
  options.batch_size = 1 << 16;
  options.batch_max_age = std::chrono::milliseconds(60000);
  int calls = 0;
  reader r(std::make_unique<proc_connector>(connector_options{}), options, counters,
           [&calls](std::unique_ptr<event_batch>&) -> bool {
             ++calls;
             throw std::runtime_error("the sink failed on the last batch");
           });
  r.start();
  make_events(5);
  std::this_thread::sleep_for(100ms);
  const std::string before = r.error();
  r.stop();
  std::printf("{\"before_stop\":%s,\"error\":%s,\"sink_calls\":%d}\n", json_string(before).c_str(),
              json_string(r.error()).c_str(), calls);
  return 0;
}

// The connector's descriptor is swapped for something broken once the reader holds it (and its
// own eventfd, which would otherwise take the freed number): closed (POLLNVAL), or a stream
// socket whose peer is gone (POLLHUP).
int broken_socket(bool hangup) {
  capture_counters counters;
  auto connector = std::make_unique<proc_connector>(connector_options{});
  const int fd = connector->fd();
  reader r(std::move(connector), quiet_options(), counters, [](std::unique_ptr<event_batch>&) { return true; });
  if (hangup) {
    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) return 2;
    ::close(pair[1]);
    ::dup2(pair[0], fd);
    ::close(pair[0]);
  } else {
    ::close(fd);
  }
  const double cpu_before = cpu_ms();
  r.start();
  const std::string error = await_error(r, 2000ms, false);
  // Whatever the outcome, the thread must not burn a core: measured over a fixed window.
  std::this_thread::sleep_for(300ms);
  const double cpu_used = cpu_ms() - cpu_before;
  r.stop();
  std::printf("{\"error\":%s,\"cpu_ms\":%.1f,\"rejected\":%llu}\n", json_string(error).c_str(), cpu_used,
              static_cast<unsigned long long>(counters.messages_rejected.load()));
  return 0;
}

// The exec table stays bounded when exits never come (lost in an overflow), and the sweep keeps
// what is still young. Prints the checks' outcomes; plain C++, no connector.
int exec_history_bound() {
  constexpr size_t capacity = 1000;
  constexpr uint64_t horizon = 1'000'000;  // 1 ms in ns
  exec_history history(capacity, horizon);
  // A million execs, 1 us apart, none of them followed by an exit.
  size_t largest = 0;
  for (int32_t pid = 1; pid <= 1'000'000; ++pid) {
    history.record(pid, {static_cast<uint64_t>(pid) * 1000, 0, nullptr});
    if (history.size() > largest) largest = history.size();
  }
  const bool newest_kept = history.find(1'000'000) != nullptr;
  const bool oldest_gone = history.find(1) == nullptr;

  // A full table of old entries plus a few young ones: the sweep drops only the old ones.
  exec_history aged(capacity, horizon);
  for (int32_t pid = 1; pid <= static_cast<int32_t>(capacity) - 10; ++pid) aged.record(pid, {0, 0, nullptr});
  for (int32_t pid = 5000; pid < 5010; ++pid) aged.record(pid, {5 * horizon, 0, nullptr});
  const size_t before_sweep = aged.size();
  aged.record(9999, {5 * horizon + 1, 0, nullptr});
  bool young_kept = aged.find(9999) != nullptr;
  for (int32_t pid = 5000; pid < 5010; ++pid) young_kept = young_kept && aged.find(pid) != nullptr;
  const size_t after_sweep = aged.size();

  // Exits still remove entries; a pid already present is updated in place, never swept for.
  aged.forget(9999);
  const bool forgotten = aged.find(9999) == nullptr;
  aged.record(5000, {6 * horizon, 7, nullptr});
  const bool updated = aged.find(5000) != nullptr && aged.find(5000)->urgent_done_ns == 7;

  std::printf(
      "{\"capacity\":%zu,\"largest\":%zu,\"newest_kept\":%s,\"oldest_gone\":%s,\"young_kept\":%s,"
      "\"before_sweep\":%zu,\"after_sweep\":%zu,\"forgotten\":%s,\"updated\":%s}\n",
      capacity, largest, newest_kept ? "true" : "false", oldest_gone ? "true" : "false", young_kept ? "true" : "false",
      before_sweep, after_sweep, forgotten ? "true" : "false", updated ? "true" : "false");
  return 0;
}

// The sequence tracker: without a grace period a gap counts at once and a late arrival takes it
// back; with one, a gap filled within it never counts, one left open counts when settled, and a
// CPU with too many open gaps counts its oldest at once. Plain C++, no connector.
int sequence_grace() {
  sequence_tracker plain;
  plain.observe(0, 10);
  const int64_t plain_gap = plain.observe(0, 13);    // 11 and 12 missing
  const int64_t plain_late = plain.observe(0, 11);   // one comes late
  const uint64_t plain_missing = plain.missing();

  constexpr uint64_t grace = 1000;
  sequence_tracker graced(grace);
  graced.observe(1, 100, 0);
  const int64_t graced_gap = graced.observe(1, 103, 10);  // 101, 102 open until 1010
  const uint64_t due = graced.next_due_ns();
  const int64_t graced_late = graced.observe(1, 101, 20);
  const int64_t early_settle = graced.settle(500);
  const int64_t on_time_settle = graced.settle(1010);  // 102 never came
  const int64_t after_settle_late = graced.observe(1, 102, 2000);  // it does, after all
  const uint64_t graced_missing = graced.missing();
  const uint64_t none_due = graced.next_due_ns();

  sequence_tracker crowded(grace);
  crowded.observe(2, 0, 0);
  int64_t counted_at_once = 0;
  for (uint32_t i = 1; i <= sequence_tracker::max_unsettled_per_cpu + 5; ++i) counted_at_once += crowded.observe(2, i * 2, 0);

  std::printf(
      "{\"plain_gap\":%lld,\"plain_late\":%lld,\"plain_missing\":%llu,\"graced_gap\":%lld,\"due\":%llu,"
      "\"graced_late\":%lld,\"early_settle\":%lld,\"on_time_settle\":%lld,\"after_settle_late\":%lld,"
      "\"graced_missing\":%llu,\"none_due\":%llu,\"counted_at_once\":%lld,\"crowded_unsettled\":%llu}\n",
      static_cast<long long>(plain_gap), static_cast<long long>(plain_late), static_cast<unsigned long long>(plain_missing),
      static_cast<long long>(graced_gap), static_cast<unsigned long long>(due), static_cast<long long>(graced_late),
      static_cast<long long>(early_settle), static_cast<long long>(on_time_settle),
      static_cast<long long>(after_settle_late), static_cast<unsigned long long>(graced_missing),
      static_cast<unsigned long long>(none_due), static_cast<long long>(counted_at_once),
      static_cast<unsigned long long>(crowded.unsettled()));
  return 0;
}

// Forks whose exec arrives in the same drain as the fork take their start time from the exec's
// snapshot; a fork without an exec still has it read. The reader is held in its batch sink while
// the children fork and exec, so their events wait on the socket and are read together.
int fork_start_from_exec() {
  struct seen {
    proc_event_record event;
    int64_t start_ticks;
    int64_t snapshot_start_ticks;
  };
  std::mutex mutex;
  std::condition_variable changed;
  bool hold = true;
  bool held = false;
  std::vector<seen> events;
  capture_counters counters;
  reader r(std::make_unique<proc_connector>(connector_options{}), quiet_options(), counters,
           [&](std::unique_ptr<event_batch>& batch) -> bool {
             std::unique_lock<std::mutex> lock(mutex);
             for (const captured_event& e : batch->events) {
               events.push_back({e.event, e.start_ticks, e.snapshot ? e.snapshot->start_ticks : -2});
             }
             held = true;
             changed.notify_all();
             changed.wait_for(lock, 5s, [&] { return !hold; });
             return true;
           });
  r.start();
  {
    std::unique_lock<std::mutex> lock(mutex);
    while (!held) {
      lock.unlock();
      make_events(1);
      lock.lock();
      changed.wait_for(lock, 10ms, [&] { return held; });
    }
  }
  // Three children exec a program that stays (its snapshot must find it); one only waits.
  constexpr int execing = 3;
  pid_t children[execing + 1];
  int64_t actual[execing + 1];
  for (int i = 0; i <= execing; ++i) {
    children[i] = ::fork();
    if (children[i] == 0) {
      if (i < execing) ::execl("/bin/sleep", "sleep", "10", static_cast<char*>(nullptr));
      ::pause();
      ::_exit(0);
    }
    if (children[i] < 0) return 2;
  }
  // Each has exec'd (or not) before the reader may read a single event of theirs.
  for (int i = 0; i <= execing; ++i) {
    const std::string stat = "/proc/" + std::to_string(children[i]) + "/stat";
    proc_snapshot snapshot;
    const auto deadline = std::chrono::steady_clock::now() + 3s;
    while (std::chrono::steady_clock::now() < deadline) {
      snapshot = proc_snapshot{};
      if (read_stat_file(stat.c_str(), snapshot) == 0 && (i == execing || snapshot.comm == "sleep")) break;
      std::this_thread::sleep_for(1ms);
    }
    actual[i] = snapshot.start_ticks;
  }
  {
    std::lock_guard<std::mutex> lock(mutex);
    hold = false;
    changed.notify_all();
  }
  std::this_thread::sleep_for(200ms);
  r.stop();
  for (const pid_t child : children) {
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
  }
  // Per child: the fork's start time equals the actual one, and for the exec'ing ones the exec
  // snapshot's too.
  int matched = 0;
  bool plain_read = false;
  for (int i = 0; i <= execing; ++i) {
    const auto fork = std::find_if(events.begin(), events.end(), [&](const seen& e) {
      return e.event.kind == event_kind::fork && e.event.tgid == children[i] && e.event.pid == children[i];
    });
    const auto exec = std::find_if(events.begin(), events.end(), [&](const seen& e) {
      return e.event.kind == event_kind::exec && e.event.tgid == children[i];
    });
    if (fork == events.end() || actual[i] <= 0 || fork->start_ticks != actual[i]) continue;
    if (i == execing) plain_read = exec == events.end();
    else if (exec != events.end() && exec->snapshot_start_ticks == actual[i]) ++matched;
  }
  std::printf("{\"error\":%s,\"execing\":%d,\"matched\":%d,\"plain_read\":%s,\"from_exec\":%llu}\n",
              json_string(r.error()).c_str(), execing, matched, plain_read ? "true" : "false",
              static_cast<unsigned long long>(counters.fork_starts_from_exec.load()));
  return 0;
}

void relink(const std::string& target, const std::string& link) {
  ::unlink(link.c_str());
  if (::symlink(target.c_str(), link.c_str()) != 0) throw std::runtime_error("symlink " + link);
}

// A parent's stdio reading serves its next child within the window (even after the parent
// changed its fd 0: the documented staleness), not after the parent's exit or past the window;
// the readings kept stay within their cap. On the fixture tree at `root` (native-stdio.test.ts):
// parent 70 with children 71 and 72; parents 100-199 with one child each, 200-299.
int parent_stdio(const std::string& root) {
  const std::string fd0 = root + "/70/fd/0";
  snapshot_options options;
  options.proc_root = root;
  options.parent_stdio_reuse_ns = 60'000'000'000;  // nothing expires while the checks run
  proc_snapshotter snapshotter(options);
  const auto parent_fd0 = [](proc_snapshotter& s, pid_t pid) {
    proc_snapshot snapshot;
    s.take_urgent(pid, snapshot);
    s.take_rest(pid, snapshot);
    return snapshot.parent_stdio.streams[0].link;
  };
  relink("pipe:[1]", fd0);
  const std::string first = parent_fd0(snapshotter, 71);
  relink("pipe:[2]", fd0);
  const std::string reused = parent_fd0(snapshotter, 72);
  const uint64_t reused_count = snapshotter.parent_stdio_reused();
  snapshotter.forget_parent(70);
  const std::string after_exit = parent_fd0(snapshotter, 72);

  options.parent_stdio_reuse_ns = 1'000'000;
  proc_snapshotter quick(options);
  parent_fd0(quick, 71);
  relink("pipe:[3]", fd0);
  std::this_thread::sleep_for(5ms);
  const std::string expired = parent_fd0(quick, 72);

  size_t largest = 0;
  for (pid_t child = 200; child < 300; ++child) {
    parent_fd0(snapshotter, child);
    largest = std::max(largest, snapshotter.parent_stdio_entries());
  }
  std::printf(
      "{\"first\":%s,\"reused\":%s,\"reused_count\":%llu,\"after_exit\":%s,\"expired\":%s,"
      "\"expired_reused\":%llu,\"largest\":%zu,\"cap\":%zu}\n",
      json_string(first).c_str(), json_string(reused).c_str(), static_cast<unsigned long long>(reused_count),
      json_string(after_exit).c_str(), json_string(expired).c_str(),
      static_cast<unsigned long long>(quick.parent_stdio_reused()), largest, proc_snapshotter::parent_stdio_max_entries);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // The connector's destructor sends IGNORE on whatever its descriptor has become.
  ::signal(SIGPIPE, SIG_IGN);
  const std::string mode = argc > 1 ? argv[1] : "";
  try {
    if (mode == "sink-throws") return sink_throws(true);
    if (mode == "sink-throws-non-std") return sink_throws(false);
    if (mode == "sink-throws-on-stop") return sink_throws_on_stop();
    if (mode == "pollnval") return broken_socket(false);
    if (mode == "pollhup") return broken_socket(true);
    if (mode == "exec-history") return exec_history_bound();
    if (mode == "sequence-grace") return sequence_grace();
    if (mode == "fork-start-from-exec") return fork_start_from_exec();
    if (mode == "parent-stdio" && argc > 2) return parent_stdio(argv[2]);
  } catch (const std::exception& e) {
    std::printf("{\"harness_error\":%s}\n", json_string(e.what()).c_str());
    return 3;
  }
  std::fprintf(stderr, "unknown mode '%s'\n", mode.c_str());
  return 2;
}
