// The Node-API face of the native capture: one class, ProcMonitor, over the plain C++ reader.
//
// Batches cross from the reader thread through a TypedThreadSafeFunction whose queue bound is the
// batch queue bound: when JS falls behind, NonBlockingCall refuses and the reader drops and counts
// the batch. Whoever ends up holding a batch frees it, including during environment teardown
// (env == nullptr). An environment cleanup hook stops and joins the reader thread.
//
// Conversion to JS is the hot path on the JS side. A batch crosses as numbers and the rest: every
// event's numbers (and every snapshot's) in one ArrayBuffer each, at fixed offsets, and its
// strings, Buffers and arrays in one array, in event order; src/capture/packed.ts builds the
// objects, which V8 does far faster in JS than property by property through Node-API. The
// layout is defined here and there, and checked against each other by the tests that decode
// crafted datagrams and snapshots through it. Property keys of the objects still built here
// (standard streams) are created once per environment, each object with one
// napi_define_properties call.
//
// No C++ exception other than Napi::Error may unwind into Node-API (node-addon-api rethrows only
// those; anything else reaches std::terminate): every entry point runs under at_boundary(), which
// turns the rest into JS Errors with a stable `code` (ESYSTEM with `errno`, ENOMEM, ENATIVE).
#include <napi.h>

#include <algorithm>
#include <atomic>
#include <bitset>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <sys/socket.h>
#if defined(__GLIBC__)
#include <malloc.h>  // mallopt
#endif

#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "privileges.h"
#include "sd_notify.h"
#include "proc_connector.h"
#include "proc_snapshot.h"
#include "process_kill.h"
#include "reader.h"

namespace execwarden {
namespace {

// Keys of the objects still built here: the standard streams (stdio_to_js).
#define EXECWARDEN_KEYS(X) \
  X(type) X(path) X(inode) X(socket) X(family) X(protocol) X(local) X(remote) X(ip) X(port)

enum key_id : size_t {
#define EXECWARDEN_KEY_ENUM(name) key_##name,
  EXECWARDEN_KEYS(EXECWARDEN_KEY_ENUM)
#undef EXECWARDEN_KEY_ENUM
  key_count
};

constexpr const char* key_names[key_count] = {
#define EXECWARDEN_KEY_NAME(name) #name,
    EXECWARDEN_KEYS(EXECWARDEN_KEY_NAME)
#undef EXECWARDEN_KEY_NAME
};

constexpr const char* kind_names[event_kind_count] = {"fork", "exec", "exit", "comm", "sid",
                                                      "uid", "gid", "ptrace", "coredump"};

// Strings created once per environment and reused for every event. Node-API 8 cannot reference
// a string directly, so they live in one array that is referenced instead.
struct addon_data {
  Napi::Reference<Napi::Array> strings;
};

constexpr uint32_t reads_offset = key_count;
constexpr uint32_t string_count = reads_offset + snapshot_read_count;

// The same strings as napi_values, valid inside one handle scope.
struct resolved_strings {
  napi_value keys[key_count];
  napi_value reads[snapshot_read_count];

  resolved_strings(napi_env env, addon_data& data) {
    napi_value all = data.strings.Value();
    for (uint32_t i = 0; i < key_count; ++i) napi_get_element(env, all, i, &keys[i]);
    for (uint32_t i = 0; i < snapshot_read_count; ++i) napi_get_element(env, all, reads_offset + i, &reads[i]);
  }
};

void check(napi_env env, napi_status status) {
  if (status != napi_ok) throw Napi::Error::New(env);
}

// Collects data properties and creates the object with one napi_define_properties call.
// props_ has one slot per key and each key may be added once per object, so it cannot overflow;
// a key added twice (a bug) is refused rather than written past the array, in every build type.
class object_builder {
 public:
  object_builder(napi_env env, const resolved_strings& strings) : env_(env), strings_(strings) {}

  object_builder& add(key_id key, napi_value value) {
    if (key >= key_count || added_.test(key) || count_ >= key_count) {
      throw Napi::Error::New(env_, "object_builder: a property key added twice or out of range");
    }
    added_.set(key);
    napi_property_descriptor& d = props_[count_++];
    d = napi_property_descriptor{nullptr, strings_.keys[key], nullptr, nullptr, nullptr, value,
                                 napi_default_jsproperty, nullptr};
    return *this;
  }
  object_builder& add_int(key_id key, int64_t value) {
    napi_value v;
    check(env_, napi_create_int64(env_, value, &v));
    return add(key, v);
  }
  object_builder& add_string_or_null(key_id key, bool present, const std::string& value) {
    napi_value v;
    if (present) {
      check(env_, napi_create_string_utf8(env_, value.data(), value.size(), &v));
    } else {
      check(env_, napi_get_null(env_, &v));
    }
    return add(key, v);
  }
  napi_value build() {
    napi_value object;
    check(env_, napi_create_object(env_, &object));
    check(env_, napi_define_properties(env_, object, count_, props_));
    count_ = 0;
    added_.reset();
    return object;
  }

 private:
  napi_env env_;
  const resolved_strings& strings_;
  napi_property_descriptor props_[key_count];
  std::bitset<key_count> added_;
  size_t count_ = 0;
};

const char* socket_type_name(int type) {
  switch (type) {
    case SOCK_STREAM: return "stream";
    case SOCK_DGRAM: return "dgram";
    case SOCK_SEQPACKET: return "seqpacket";
    case SOCK_RAW: return "raw";
    case 0: return nullptr;
    default: return "other";
  }
}

napi_value make_string(napi_env env, const char* text) {
  napi_value v;
  check(env, napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &v));
  return v;
}

napi_value endpoint_to_js(napi_env env, const resolved_strings& s, const socket_endpoint& endpoint, bool unix_path) {
  object_builder b(env, s);
  if (unix_path) {
    b.add_string_or_null(key_path, true, endpoint.address);
  } else {
    b.add_string_or_null(key_ip, true, endpoint.address);
    if (endpoint.port >= 0) b.add_int(key_port, endpoint.port);
  }
  return b.build();
}

// [stdin, stdout, stderr] as {type, path, inode?, socket?}; null when they were not read.
napi_value stdio_to_js(napi_env env, const resolved_strings& s, const stdio_set& set) {
  napi_value result;
  if (!set.read) {
    check(env, napi_get_null(env, &result));
    return result;
  }
  check(env, napi_create_array_with_length(env, 3, &result));
  for (uint32_t i = 0; i < 3; ++i) {
    const stdio_stream& stream = set.streams[i];
    object_builder b(env, s);
    b.add(key_type, make_string(env, stream_kind_name(stream.kind)));
    if (!stream.link.empty()) b.add_string_or_null(key_path, true, stream.link);
    if (stream.inode != 0) b.add_int(key_inode, static_cast<int64_t>(stream.inode));
    if (stream.kind == stream_kind::socket) {
      const socket_details& details = stream.socket;
      const bool is_unix = details.family == socket_family::unix_local;
      object_builder sb(env, s);
      sb.add(key_family, make_string(env, socket_family_name(details.family)));
      if (const char* type = socket_type_name(details.type)) sb.add(key_type, make_string(env, type));
      if (details.protocol != nullptr) sb.add(key_protocol, make_string(env, details.protocol));
      if (details.found && (!details.local.address.empty() || details.local.port >= 0)) {
        sb.add(key_local, endpoint_to_js(env, s, details.local, is_unix));
      }
      if (details.connected && (!details.remote.address.empty() || details.remote.port >= 0)) {
        sb.add(key_remote, endpoint_to_js(env, s, details.remote, is_unix));
      }
      b.add(key_socket, sb.build());
    }
    check(env, napi_set_element(env, result, i, b.build()));
  }
  return result;
}

// The packed layout (src/capture/packed.ts reads the same offsets).
// An event: 16 int32 words (64 bytes). Words 0-9 as below; bytes 48-55 a float64 (a fork's start
// ticks), bytes 56-63 a uint64 (the timestamp).
constexpr size_t event_bytes = 64;
enum event_word : size_t {
  word_kind, word_cpu, word_seq, word_pid, word_tgid, word_parent_pid, word_parent_tgid, word_flags,
  word_first, word_second,  // exit code and signal, real and effective id, tracer pid and tgid
};
constexpr size_t event_start_ticks_offset = 48;
constexpr size_t event_timestamp_offset = 56;
enum event_flag : int32_t { event_has_parent = 1, event_has_start_ticks = 2, event_has_snapshot = 4 };
// A snapshot: 20 float64 numbers (160 bytes), and 9 values in the values array.
constexpr size_t snapshot_numbers = 20;
enum snapshot_number : size_t {
  number_ppid, number_pgid, number_sid, number_tty_nr, number_start_ticks, number_ruid, number_euid,
  number_rgid, number_egid, number_suid, number_sgid, number_cap_permitted, number_cap_effective,
  number_cap_bounding, number_args_total, number_cmdline_tail_offset, number_flags,
};
enum snapshot_flag : uint32_t {
  snapshot_cmdline_truncated = 1, snapshot_stale = 2, snapshot_env_truncated = 4, snapshot_comm_renamed = 8,
  snapshot_args_total_exact = 16, snapshot_started_after_event = 32,
};
// cmdline, comm, exe, cwd, cgroup, failed, env, stdio, parentStdio.
constexpr uint32_t snapshot_values = 9;

napi_value string_or_null(napi_env env, bool present, const std::string& value) {
  napi_value v;
  if (present) {
    check(env, napi_create_string_utf8(env, value.data(), value.size(), &v));
  } else {
    check(env, napi_get_null(env, &v));
  }
  return v;
}

// Where a batch (or a test's events or snapshot) is packed: both ArrayBuffers and the values array.
class packer {
 public:
  packer(napi_env env, const resolved_strings& strings, size_t events, size_t snapshots, uint32_t values)
      : env_(env), strings_(strings) {
    void* data = nullptr;
    // Every byte of an event is written (event()), so the buffer's own zeroing is not relied on.
    check(env, napi_create_arraybuffer(env, events * event_bytes, &data, &events_));
    event_data_ = static_cast<uint8_t*>(data);
    check(env, napi_create_arraybuffer(env, snapshots * snapshot_numbers * sizeof(double), &data, &snapshots_));
    snapshot_data_ = static_cast<double*>(data);
    check(env, napi_create_array_with_length(env, values, &values_));
  }

  void event(const proc_event_record& e, const proc_snapshot* snap, int64_t start_ticks) {
    int32_t words[event_bytes / sizeof(int32_t)] = {};
    words[word_kind] = static_cast<int32_t>(e.kind);
    words[word_cpu] = static_cast<int32_t>(e.cpu);
    words[word_seq] = static_cast<int32_t>(e.seq);
    words[word_pid] = e.pid;
    words[word_tgid] = e.tgid;
    int32_t flags = 0;
    if (e.has_parent) {
      flags |= event_has_parent;
      words[word_parent_pid] = e.parent_pid;
      words[word_parent_tgid] = e.parent_tgid;
    }
    // A fork's start time as the reader read it (-1: the process was already gone).
    if (start_ticks >= -1) flags |= event_has_start_ticks;
    switch (e.kind) {
      case event_kind::exit:
        words[word_first] = static_cast<int32_t>(e.exit_code);
        words[word_second] = static_cast<int32_t>(e.exit_signal);
        break;
      case event_kind::uid:
      case event_kind::gid:
        words[word_first] = static_cast<int32_t>(e.real_id);
        words[word_second] = static_cast<int32_t>(e.effective_id);
        break;
      case event_kind::ptrace:
        words[word_first] = e.tracer_pid;
        words[word_second] = e.tracer_tgid;
        break;
      case event_kind::comm: {
        napi_value comm;
        check(env_, napi_create_string_utf8(env_, e.comm, strnlen(e.comm, sizeof e.comm - 1), &comm));
        value(comm);
        break;
      }
      default:
        break;
    }
    if (snap != nullptr) flags |= event_has_snapshot;
    words[word_flags] = flags;
    uint8_t* at = event_data_ + events_packed_++ * event_bytes;
    std::memcpy(at, words, sizeof words);
    const double start = static_cast<double>(start_ticks);
    std::memcpy(at + event_start_ticks_offset, &start, sizeof start);
    std::memcpy(at + event_timestamp_offset, &e.timestamp_ns, sizeof e.timestamp_ns);
    if (snap != nullptr) snapshot(*snap);
  }

  void snapshot(const proc_snapshot& snap) {
    double* n = snapshot_data_ + snapshots_packed_++ * snapshot_numbers;
    n[number_ppid] = snap.ppid;
    n[number_pgid] = snap.pgid;
    n[number_sid] = snap.sid;
    n[number_tty_nr] = snap.tty_nr;
    n[number_start_ticks] = static_cast<double>(snap.start_ticks);
    n[number_ruid] = static_cast<double>(snap.ruid);
    n[number_euid] = static_cast<double>(snap.euid);
    n[number_rgid] = static_cast<double>(snap.rgid);
    n[number_egid] = static_cast<double>(snap.egid);
    n[number_suid] = static_cast<double>(snap.suid);
    n[number_sgid] = static_cast<double>(snap.sgid);
    n[number_cap_permitted] = static_cast<double>(snap.cap_permitted);
    n[number_cap_effective] = static_cast<double>(snap.cap_effective);
    n[number_cap_bounding] = static_cast<double>(snap.cap_bounding);
    n[number_args_total] = static_cast<double>(snap.args_total);
    n[number_cmdline_tail_offset] = static_cast<double>(snap.cmdline_tail_offset);
    uint32_t flags = 0;
    if (snap.cmdline_truncated) flags |= snapshot_cmdline_truncated;
    if (snap.stale) flags |= snapshot_stale;
    if (snap.env_truncated) flags |= snapshot_env_truncated;
    if (snap.comm_renamed) flags |= snapshot_comm_renamed;
    if (snap.args_total_exact) flags |= snapshot_args_total_exact;
    if (snap.started_after_event) flags |= snapshot_started_after_event;
    n[number_flags] = flags;

    napi_value cmdline;
    if (snap.failed_read(read_cmdline)) {
      check(env_, napi_get_null(env_, &cmdline));
    } else {
      void* unused;
      check(env_, napi_create_buffer_copy(env_, snap.cmdline.size(), snap.cmdline.data(), &unused, &cmdline));
    }
    value(cmdline);
    value(string_or_null(env_, !snap.failed_read(read_comm), snap.comm));
    value(string_or_null(env_, !snap.failed_read(read_exe), snap.exe));
    value(string_or_null(env_, !snap.failed_read(read_cwd), snap.cwd));
    value(string_or_null(env_, !snap.failed_read(read_cgroup), snap.cgroup));
    napi_value failed;
    check(env_, napi_create_array(env_, &failed));
    uint32_t failed_count = 0;
    for (size_t i = 0; i < snapshot_read_count; ++i) {
      if (snap.failed_read(static_cast<snapshot_read>(i))) check(env_, napi_set_element(env_, failed, failed_count++, strings_.reads[i]));
    }
    value(failed);
    napi_value env_vars;
    if (!snap.env_read || snap.failed_read(read_environ)) {
      check(env_, napi_get_null(env_, &env_vars));
    } else {
      check(env_, napi_create_array_with_length(env_, snap.env.size(), &env_vars));
      for (uint32_t i = 0; i < snap.env.size(); ++i) {
        napi_value entry;
        check(env_, napi_create_string_utf8(env_, snap.env[i].data(), snap.env[i].size(), &entry));
        check(env_, napi_set_element(env_, env_vars, i, entry));
      }
    }
    value(env_vars);
    value(stdio_to_js(env_, strings_, snap.stdio));
    value(stdio_to_js(env_, strings_, snap.parent_stdio));
  }

  // The values an event adds to the values array (its comm, or its snapshot's).
  static uint32_t values_of(const proc_event_record& e, bool has_snapshot) {
    return (e.kind == event_kind::comm ? 1 : 0) + (has_snapshot ? snapshot_values : 0);
  }

  // (events, snapshots, values) as the arguments of a batch callback or the fields of a result.
  napi_value events() const { return events_; }
  napi_value snapshots() const { return snapshots_; }
  napi_value values() const { return values_; }

 private:
  void value(napi_value v) { check(env_, napi_set_element(env_, values_, values_packed_++, v)); }

  napi_env env_;
  const resolved_strings& strings_;
  napi_value events_ = nullptr;
  napi_value snapshots_ = nullptr;
  napi_value values_ = nullptr;
  uint8_t* event_data_ = nullptr;
  double* snapshot_data_ = nullptr;
  size_t events_packed_ = 0;
  size_t snapshots_packed_ = 0;
  uint32_t values_packed_ = 0;
};

// Every exec's argv and environ pass through this process twice (the reader's copy, then the JS
// Buffer), and a user can make each one 128 KiB. Blocks that size come from malloc's arenas, which
// keep freed memory: measured, 3,000 execs of 120 KiB argv left the agent at 530 MiB RSS with a
// 64 MiB JS heap. A fixed mmap threshold of 64 KiB (glibc otherwise raises it after the first
// such block is freed) maps each large block on its own and unmaps it when freed: 147 MiB.
void return_large_blocks_to_the_system() {
#if defined(__GLIBC__)
  static const bool set = [] { return ::mallopt(M_MMAP_THRESHOLD, 64 * 1024) == 1; }();
  (void)set;
#endif
}

// A JS Error with a stable `code`, for failures the caller can act on.
Napi::Error coded_error(Napi::Env env, const char* code, const char* message) {
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, code));
  return error;
}

Napi::Error coded_error(Napi::Env env, const char* code, const std::string& message) {
  return coded_error(env, code, message.c_str());
}

// Rethrows the exception being handled as one JS may see (call it only inside a catch block).
// Messages are taken as they are: building a string could itself run out of memory.
[[noreturn]] void rethrow_as_js(Napi::Env env) {
  try {
    throw;
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::system_error& e) {
    Napi::Error error = coded_error(env, "ESYSTEM", e.what());
    error.Set("errno", Napi::Number::New(env, e.code().value()));
    throw error;
  } catch (const std::bad_alloc&) {
    throw coded_error(env, "ENOMEM", "the native addon ran out of memory (std::bad_alloc)");
  } catch (const std::exception& e) {
    throw coded_error(env, "ENATIVE", e.what());
  } catch (...) {
    throw coded_error(env, "ENATIVE", "the native addon failed on an exception that is not a std::exception");
  }
}

// Runs the body of a Node-API entry point; see the top of this file.
template <typename Body>
auto at_boundary(Napi::Env env, Body&& body) -> decltype(body()) {
  try {
    return body();
  } catch (...) {
    rethrow_as_js(env);
  }
}

// A Node-API function run under at_boundary().
template <Napi::Value (*Function)(const Napi::CallbackInfo&)>
Napi::Value guarded(const Napi::CallbackInfo& info) {
  return at_boundary(info.Env(), [&] { return Function(info); });
}

// An optional integer option: a TypeError when it is not a number, a RangeError naming it and its
// range when it is outside it or not an integer.
double integer_option(Napi::Env env, Napi::Object options, const char* name, double fallback, double min, double max) {
  Napi::Value v = options.Get(name);
  if (v.IsUndefined()) return fallback;
  if (!v.IsNumber()) throw Napi::TypeError::New(env, std::string(name) + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= min && d <= max) || d != std::floor(d)) {
    throw Napi::RangeError::New(env, std::string(name) + " must be an integer from " +
                                         std::to_string(static_cast<long long>(min)) + " to " +
                                         std::to_string(static_cast<long long>(max)));
  }
  return d;
}

Napi::Error subscribe_error(Napi::Env env, const std::system_error& e) {
  const int err = e.code().value();
  const std::string detail = std::string("proc connector: ") + e.what();
  Napi::Error error = [&] {
    switch (err) {
      case EPERM:
      case EACCES:
        return coded_error(env, "EPERM",
                           detail + " (subscribing needs root, or CAP_NET_ADMIN on kernels before 6.6)");
      case ETIMEDOUT:
        return coded_error(env, "ESUBSCRIBE_TIMEOUT",
                           detail + " (run in the initial pid and user namespace, not inside a container)");
      case EPROTONOSUPPORT:
      case ECONNREFUSED:
        return coded_error(env, "ENETNS",
                           detail + " (the proc connector exists only in the initial network namespace; "
                                    "do not use PrivateNetwork=)");
      default:
        return coded_error(env, "ECONNECTOR", detail);
    }
  }();
  error.Set("errno", Napi::Number::New(env, err));
  return error;
}

// An array of capability numbers (0-63) as a bit mask; anything else is a TypeError/RangeError.
uint64_t capability_mask(Napi::Env env, Napi::Value value) {
  if (!value.IsArray()) throw Napi::TypeError::New(env, "capabilities must be an array of numbers");
  Napi::Array list = value.As<Napi::Array>();
  uint64_t mask = 0;
  for (uint32_t i = 0; i < list.Length(); ++i) {
    Napi::Value item = list.Get(i);
    const double cap = item.IsNumber() ? item.As<Napi::Number>().DoubleValue() : -1;
    if (!(cap >= 0 && cap <= 63) || cap != static_cast<double>(static_cast<int>(cap))) {
      throw Napi::RangeError::New(env, "a capability is a number from 0 to 63");
    }
    mask |= 1ull << static_cast<int>(cap);
  }
  return mask;
}

// The snapshot options of a ProcMonitor (and of snapshotForTest), checked: the allow-list of
// environment names is bounded in count and length, every size in range.
void read_snapshot_options(Napi::Env env, Napi::Object options, snapshot_options& out) {
  auto size = [&](const char* name, size_t fallback, double min, double max) {
    return static_cast<size_t>(integer_option(env, options, name, static_cast<double>(fallback), min, max));
  };
  out.cmdline_max_bytes = size("cmdlineMaxBytes", out.cmdline_max_bytes, 1, 64 * 1024 * 1024);
  out.args_count_max_bytes = size("argsCountMaxBytes", out.args_count_max_bytes, 0, 1024 * 1024 * 1024);
  out.cmdline_tail_bytes = size("cmdlineTailBytes", out.cmdline_tail_bytes, 0, 64 * 1024 * 1024);
  out.env_scan_max_bytes = size("envScanMaxBytes", out.env_scan_max_bytes, 1, 64 * 1024 * 1024);
  out.env_value_max_bytes = size("envValueMaxBytes", out.env_value_max_bytes, 1, 1024 * 1024);
  out.env_max_entries = size("envMaxEntries", out.env_max_entries, 1, 4096);
  out.procnet_max_bytes = size("procnetMaxBytes", out.procnet_max_bytes, 0, 256 * 1024 * 1024);
  out.socket_scan_budget_ns = static_cast<uint64_t>(integer_option(env, options, "socketScanBudgetMs", static_cast<double>(out.socket_scan_budget_ns / 1000000), 0, 1000)) * 1000000;
  Napi::Value stdio = options.Get("stdio");
  if (!stdio.IsUndefined()) {
    if (!stdio.IsBoolean()) throw Napi::TypeError::New(env, "stdio must be a boolean");
    out.stdio = stdio.As<Napi::Boolean>().Value();
  }
  Napi::Value names = options.Get("envVars");
  if (!names.IsUndefined()) {
    if (!names.IsArray()) throw Napi::TypeError::New(env, "envVars must be an array of names");
    Napi::Array list = names.As<Napi::Array>();
    if (list.Length() > 256) throw Napi::RangeError::New(env, "envVars holds at most 256 names");
    out.env_names.clear();
    for (uint32_t i = 0; i < list.Length(); ++i) {
      Napi::Value name = list.Get(i);
      if (!name.IsString()) throw Napi::TypeError::New(env, "envVars must be an array of names");
      std::string text = name.As<Napi::String>().Utf8Value();
      if (text.empty() || text.size() > 128 || text.find('=') != std::string::npos || text.find('\0') != std::string::npos) {
        throw Napi::RangeError::New(env, "envVars: a name is 1 to 128 bytes without '=' or NUL");
      }
      out.env_names.push_back(std::move(text));
    }
  }
  Napi::Value root = options.Get("procRoot");
  if (!root.IsUndefined()) {
    if (!root.IsString()) throw Napi::TypeError::New(env, "procRoot must be a path");
    out.proc_root = root.As<Napi::String>().Utf8Value();
  }
}

// Owned by the thread-safe function; freed in its finalizer.
struct delivery {
  Napi::FunctionReference on_stopped;
  bool tearing_down = false;
  // Bytes of batches handed over and not yet taken (reader_options::max_queued_bytes).
  std::shared_ptr<std::atomic<int64_t>> queued_bytes;
};

void call_js(Napi::Env env, Napi::Function callback, delivery* context, event_batch* raw_batch);
void deliver(Napi::Env env, Napi::Function callback, std::unique_ptr<event_batch> batch);
using batch_tsfn = Napi::TypedThreadSafeFunction<delivery, event_batch, call_js>;

void call_js(Napi::Env env, Napi::Function callback, delivery* context, event_batch* raw_batch) {
  std::unique_ptr<event_batch> batch(raw_batch);
  // Without an environment the thread-safe function is being finalized: its context may already
  // be freed, and nothing counts the queue any more.
  if (env == nullptr || callback == nullptr) return;
  // Taken off the queue, whether it reaches JS or not.
  if (batch && context->queued_bytes) context->queued_bytes->fetch_sub(static_cast<int64_t>(batch->queued_bytes));
  if (context->tearing_down) return;
  at_boundary(env, [&] { deliver(env, callback, std::move(batch)); });
}

void deliver(Napi::Env env, Napi::Function callback, std::unique_ptr<event_batch> batch) {
  resolved_strings strings(env, *env.GetInstanceData<addon_data>());
  size_t snapshots = 0;
  uint32_t values = 0;
  for (const captured_event& captured : batch->events) {
    if (captured.snapshot) ++snapshots;
    values += packer::values_of(captured.event, captured.snapshot != nullptr);
  }
  packer packed(env, strings, batch->events.size(), snapshots, values);
  for (const captured_event& captured : batch->events) packed.event(captured.event, captured.snapshot.get(), captured.start_ticks);
  const uint32_t losses = batch->losses_before;
  batch.reset();
  callback.Call({packed.events(), packed.snapshots(), packed.values(), Napi::Number::New(env, losses)});
}

class ProcMonitor : public Napi::ObjectWrap<ProcMonitor> {
 public:
  static Napi::Function define(Napi::Env env) {
    return DefineClass(env, "ProcMonitor",
                       {InstanceMethod<&ProcMonitor::guarded_method<&ProcMonitor::start>>("start"),
                        InstanceMethod<&ProcMonitor::guarded_method<&ProcMonitor::stop>>("stop"),
                        InstanceMethod<&ProcMonitor::guarded_method<&ProcMonitor::stats>>("stats")});
  }

  explicit ProcMonitor(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ProcMonitor>(info), env_(info.Env()) {
    at_boundary(env_, [&] {
      if (info.Length() > 0 && info[0].IsObject()) read_options(info[0].As<Napi::Object>());
      check(env_, napi_add_env_cleanup_hook(env_, &ProcMonitor::on_env_cleanup, this));
      hook_registered_ = true;
    });
  }

  ~ProcMonitor() override {
    try {
      halt(false);
    } catch (...) {
      // A destructor runs from the garbage collector: there is no one to tell.
    }
    if (hook_registered_) napi_remove_env_cleanup_hook(env_, &ProcMonitor::on_env_cleanup, this);
  }

 private:
  template <Napi::Value (ProcMonitor::*Method)(const Napi::CallbackInfo&)>
  Napi::Value guarded_method(const Napi::CallbackInfo& info) {
    return at_boundary(info.Env(), [&] { return (this->*Method)(info); });
  }

  // batchSize, batchMaxBytes and maxQueuedBatches bound what the reader holds while JS is behind:
  // a batch grows to batchSize events of about 100 bytes each, or until its snapshots hold
  // batchMaxBytes of text, and up to maxQueuedBatches of them wait for JS.
  void read_options(Napi::Object options) {
    auto number = [&](const char* name, double fallback, double min, double max) {
      return integer_option(Env(), options, name, fallback, min, max);
    };
    connector_options_.receive_buffer_bytes =
        static_cast<int>(number("receiveBufferBytes", connector_options_.receive_buffer_bytes, 0, 1 << 30));
    reader_options_.batch_size = static_cast<size_t>(number("batchSize", static_cast<double>(reader_options_.batch_size), 1, 65536));
    reader_options_.batch_max_bytes = static_cast<size_t>(number("batchMaxBytes", static_cast<double>(reader_options_.batch_max_bytes), 64 * 1024, 1 << 30));
    reader_options_.batch_max_age = std::chrono::milliseconds(static_cast<int>(number("batchMaxAgeMs", static_cast<double>(reader_options_.batch_max_age.count()), 0, 60000)));
    max_queued_batches_ = static_cast<size_t>(number("maxQueuedBatches", static_cast<double>(max_queued_batches_), 1, 65536));
    reader_options_.max_queued_bytes = static_cast<size_t>(number("maxQueuedBytes", static_cast<double>(reader_options_.max_queued_bytes), 64 * 1024, 1 << 30));
    reader_options_.short_cmdlines_above = static_cast<size_t>(
        number("shortCmdlinesAboveBytes", static_cast<double>(reader_options_.short_cmdlines_above), 0, 1 << 30));
    read_snapshot_options(Env(), options, reader_options_.snapshot);
    connector_options_.ack_timeout = std::chrono::milliseconds(static_cast<int>(number("ackTimeoutMs", 2000, 1, 60000)));
    Napi::Value split = options.Get("splitExec");
    if (!split.IsUndefined()) connector_options_.split_exec = split.ToBoolean().Value();
    Napi::Value realtime = options.Get("realtime");
    if (!realtime.IsUndefined()) reader_options_.realtime = realtime.ToBoolean().Value();
    Napi::Value drop = options.Get("dropCapabilities");
    if (!drop.IsUndefined()) reader_options_.drop_capabilities = capability_mask(Env(), drop);
  }

  // start(onBatch, onStopped?) -> { receiveBufferBytes, forcedBuffer, splitExec, realtime, realtimeError }
  Napi::Value start(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (reader_) throw coded_error(env, "ERUNNING", "ProcMonitor is already started");
    if (info.Length() < 1 || !info[0].IsFunction()) throw Napi::TypeError::New(env, "start(onBatch) needs a function");
    return_large_blocks_to_the_system();

    std::unique_ptr<proc_connector> connector;
    try {
      connector = std::make_unique<proc_connector>(connector_options_);
    } catch (const std::system_error& e) {
      throw subscribe_error(env, e);
    }
    const int granted_buffer = connector->receive_buffer_bytes();
    const bool forced = connector->forced_buffer();
    const bool split = connector->split();

    auto context = std::make_unique<delivery>();
    // A fresh count per start: batches of an earlier run still queued give back to their own.
    auto queued_bytes = std::make_shared<std::atomic<int64_t>>(0);
    context->queued_bytes = queued_bytes;
    queued_bytes_ = queued_bytes;
    if (info.Length() > 1 && info[1].IsFunction()) context->on_stopped = Napi::Persistent(info[1].As<Napi::Function>());
    tsfn_ = batch_tsfn::New(env, info[0].As<Napi::Function>(), "execwarden.capture", max_queued_batches_, 1, context.get(),
                            [](Napi::Env finalize_env, void*, delivery* ctx) {
                              std::unique_ptr<delivery> owned(ctx);
                              if (finalize_env == nullptr || ctx->tearing_down || ctx->on_stopped.IsEmpty()) return;
                              ctx->on_stopped.Call({});
                            });
    delivery_ = context.release();  // the thread-safe function's finalizer frees it
    int realtime_error = 0;
    try {
      batch_tsfn sink = tsfn_;
      reader_ = std::make_unique<reader>(std::move(connector), reader_options_, counters_,
                                         // Runs on the reader thread.
                                         [sink](std::unique_ptr<event_batch>& batch) mutable {
                                           if (sink.NonBlockingCall(batch.get()) != napi_ok) return false;
                                           batch.release();
                                           return true;
                                         },
                                         queued_bytes);
      realtime_error = reader_->start();
    } catch (...) {
      // No eventfd or no thread: nothing was or will be delivered. The thread-safe function is
      // released at once, without calling onStopped (start() itself fails), so that it does not
      // hold the event loop open, and the monitor can be started again.
      reader_.reset();
      delivery_->tearing_down = true;
      delivery_ = nullptr;
      tsfn_.Release();
      throw;
    }
    Ref();

    Napi::Object result = Napi::Object::New(env);
    result.Set("receiveBufferBytes", granted_buffer);
    result.Set("forcedBuffer", forced);
    result.Set("splitExec", split);
    result.Set("realtime", counters_.realtime.load());
    result.Set("realtimeError", realtime_error == 0 ? env.Null() : Napi::String::New(env, std::strerror(realtime_error)));
    return result;
  }

  Napi::Value stop(const Napi::CallbackInfo& info) {
    halt(false);
    return info.Env().Undefined();
  }

  Napi::Value stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object by_kind = Napi::Object::New(env);
    for (size_t i = 0; i < event_kind_count; ++i) {
      by_kind.Set(kind_names[i], static_cast<double>(counters_.events_by_kind[i].load()));
    }
    Napi::Object s = Napi::Object::New(env);
    s.Set("eventsByKind", by_kind);
    s.Set("overflows", static_cast<double>(counters_.overflows.load()));
    s.Set("sequenceGaps", static_cast<double>(counters_.sequence_gaps.load()));
    s.Set("messagesRejected", static_cast<double>(counters_.messages_rejected.load()));
    s.Set("batchesDropped", static_cast<double>(counters_.batches_dropped.load()));
    s.Set("eventsDropped", static_cast<double>(counters_.events_dropped.load()));
    s.Set("batchesOverBytes", static_cast<double>(counters_.batches_over_bytes.load()));
    s.Set("cmdlinesKeptShort", static_cast<double>(counters_.cmdlines_kept_short.load()));
    s.Set("queuedBytes", queued_bytes_ ? static_cast<double>(std::max<int64_t>(0, queued_bytes_->load())) : 0.0);
    s.Set("snapshotsPartial", static_cast<double>(counters_.snapshots_partial.load()));
    s.Set("snapshotsGone", static_cast<double>(counters_.snapshots_gone.load()));
    s.Set("snapshotsStale", static_cast<double>(counters_.snapshots_stale.load()));
    s.Set("snapshotsReused", static_cast<double>(counters_.snapshots_reused.load()));
    s.Set("commsRenamed", static_cast<double>(counters_.comms_renamed.load()));
    s.Set("snapshotsTaken", static_cast<double>(counters_.snapshots_taken.load()));
    s.Set("snapshotUrgentNs", static_cast<double>(counters_.snapshot_urgent_ns.load()));
    s.Set("snapshotRestNs", static_cast<double>(counters_.snapshot_rest_ns.load()));
    s.Set("socketCacheHits", static_cast<double>(counters_.socket_cache_hits.load()));
    s.Set("socketListingScans", static_cast<double>(counters_.socket_listing_scans.load()));
    s.Set("socketLookupsOverBudget", static_cast<double>(counters_.socket_lookups_over_budget.load()));
    s.Set("forkStartsFromExec", static_cast<double>(counters_.fork_starts_from_exec.load()));
    s.Set("execsAheadOfRest", static_cast<double>(counters_.execs_ahead_of_rest.load()));
    s.Set("parentStdioReused", static_cast<double>(counters_.parent_stdio_reused.load()));
    s.Set("receiveBufferBytes", counters_.receive_buffer_bytes.load());
    s.Set("realtime", counters_.realtime.load());
    s.Set("readerCapabilitiesDropped", counters_.reader_capabilities_dropped.load());
    const std::string error = reader_ ? reader_->error() : last_error_;
    s.Set("readerError", error.empty() ? env.Null() : Napi::String::New(env, error));
    return s;
  }

  // Stops and joins the reader, then lets the thread-safe function drain and finalize.
  void halt(bool tearing_down) {
    if (!reader_) return;
    reader_->stop();
    last_error_ = reader_->error();
    reader_.reset();
    if (tearing_down && delivery_ != nullptr) delivery_->tearing_down = true;
    delivery_ = nullptr;
    tsfn_.Release();
    if (!tearing_down) Unref();
  }

  static void on_env_cleanup(void* arg) {
    auto* self = static_cast<ProcMonitor*>(arg);
    self->hook_registered_ = false;
    try {
      self->halt(true);
    } catch (...) {
      // The environment is going away: there is no JS left to tell.
    }
  }

  napi_env env_;
  bool hook_registered_ = false;
  connector_options connector_options_;
  reader_options reader_options_;
  size_t max_queued_batches_ = 4096;
  capture_counters counters_;
  std::shared_ptr<std::atomic<int64_t>> queued_bytes_;
  std::unique_ptr<reader> reader_;
  batch_tsfn tsfn_;
  delivery* delivery_ = nullptr;
  std::string last_error_;
};

// decodeForTest(bytes, senderPort) -> { events, acks, accepted, rejected }: the datagram decoder
// on crafted input, without a socket.
Napi::Value decode_for_test(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsBuffer() || !info[1].IsNumber()) {
    throw Napi::TypeError::New(env, "decodeForTest(bytes: Buffer, senderPort: number)");
  }
  auto bytes = info[0].As<Napi::Buffer<uint8_t>>();
  std::vector<proc_event_record> events;
  std::vector<proc_ack> acks;
  const decode_result r =
      decode_datagram(bytes.Data(), bytes.Length(), info[1].As<Napi::Number>().Uint32Value(), events, acks);
  resolved_strings strings(env, *env.GetInstanceData<addon_data>());
  uint32_t values = 0;
  for (const proc_event_record& e : events) values += packer::values_of(e, false);
  packer packed(env, strings, events.size(), 0, values);
  for (const proc_event_record& e : events) packed.event(e, nullptr, -2);
  Napi::Array js_acks = Napi::Array::New(env, acks.size());
  for (uint32_t i = 0; i < acks.size(); ++i) {
    Napi::Object ack = Napi::Object::New(env);
    ack.Set("cpu", acks[i].cpu);
    ack.Set("seq", acks[i].seq);
    ack.Set("ack", acks[i].ack);
    ack.Set("err", acks[i].err);
    js_acks.Set(i, ack);
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("events", Napi::Value(env, packed.events()));
  result.Set("values", Napi::Value(env, packed.values()));
  result.Set("acks", js_acks);
  result.Set("accepted", r.accepted);
  result.Set("rejected", r.rejected);
  return result;
}

// snapshotForTest(pid | pids, options) -> snapshot: the reader's /proc snapshot of one process,
// taken on the calling thread (options.procRoot points it at a fixture tree). Given several pids,
// one snapshotter takes them in turn (sharing its socket cache, scan budget and parent stdio
// readings) and the last snapshot is returned, with the stream probe's counters as stdioStats
// (only then).
Napi::Value snapshot_for_test(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<pid_t> pids;
  if (info.Length() >= 1 && info[0].IsNumber()) {
    pids.push_back(static_cast<pid_t>(info[0].As<Napi::Number>().Int32Value()));
  } else if (info.Length() >= 1 && info[0].IsArray()) {
    const Napi::Array list = info[0].As<Napi::Array>();
    for (uint32_t i = 0; i < list.Length() && i < 64; ++i) {
      if (!list.Get(i).IsNumber()) throw Napi::TypeError::New(env, "snapshotForTest: pids must be numbers");
      pids.push_back(static_cast<pid_t>(list.Get(i).As<Napi::Number>().Int32Value()));
    }
  }
  if (pids.empty()) throw Napi::TypeError::New(env, "snapshotForTest(pid | pids, options?)");
  snapshot_options options;
  if (info.Length() > 1 && info[1].IsObject()) read_snapshot_options(env, info[1].As<Napi::Object>(), options);
  proc_snapshotter snapshotter(std::move(options));
  proc_snapshot snap;
  for (const pid_t pid : pids) {
    snap = proc_snapshot{};
    snapshotter.take_urgent(pid, snap);
    snapshotter.take_rest(pid, snap);
  }
  resolved_strings strings(env, *env.GetInstanceData<addon_data>());
  packer packed(env, strings, 0, 1, snapshot_values);
  packed.snapshot(snap);
  Napi::Object result = Napi::Object::New(env);
  result.Set("snapshots", Napi::Value(env, packed.snapshots()));
  result.Set("values", Napi::Value(env, packed.values()));
  if (!info[0].IsArray()) return result;
  const stdio_probe_stats& stats = snapshotter.stdio_stats();
  Napi::Object stdio_stats = Napi::Object::New(env);
  stdio_stats.Set("socketCacheHits", static_cast<double>(stats.socket_cache_hits));
  stdio_stats.Set("socketListingScans", static_cast<double>(stats.listing_scans));
  stdio_stats.Set("socketLookupsOverBudget", static_cast<double>(stats.lookups_over_budget));
  stdio_stats.Set("parentStdioReused", static_cast<double>(snapshotter.parent_stdio_reused()));
  result.Set("stdioStats", stdio_stats);
  return result;
}

// killProcess(pid, startTicks, procRoot?) -> { outcome, errno }: SIGKILL through a pidfd, only
// if the pid still holds the process that started at startTicks (process_kill.h).
Napi::Value kill_process_js(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber()) {
    throw Napi::TypeError::New(env, "killProcess(pid, startTicks, procRoot?)");
  }
  const double pid = info[0].As<Napi::Number>().DoubleValue();
  const double start = info[1].As<Napi::Number>().DoubleValue();
  if (!(pid >= 2 && pid <= 4194304 && pid == static_cast<double>(static_cast<int64_t>(pid)))) {
    throw Napi::RangeError::New(env, "killProcess: pid must be an integer from 2 to 4194304");
  }
  if (!(start >= 0 && start <= 9007199254740991.0 && start == static_cast<double>(static_cast<int64_t>(start)))) {
    throw Napi::RangeError::New(env, "killProcess: startTicks must be a non-negative integer");
  }
  std::string proc_root = "/proc";
  if (info.Length() > 2 && info[2].IsString()) proc_root = info[2].As<Napi::String>().Utf8Value();
  const kill_result result = kill_if_same_process(proc_root, static_cast<pid_t>(pid), static_cast<int64_t>(start));
  Napi::Object out = Napi::Object::New(env);
  out.Set("outcome", kill_outcome_name(result.outcome));
  out.Set("errno", result.error);
  return out;
}

// dropCapabilities(caps: number[]): drops the capabilities (by number) from the calling JS thread's
// sets and clears its ambient set (privileges.h).
Napi::Value drop_capabilities_js(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1) throw Napi::TypeError::New(env, "dropCapabilities(caps: number[])");
  try {
    drop_capabilities(capability_mask(env, info[0]));
  } catch (const std::system_error& e) {
    Napi::Error error = coded_error(env, "ESYSTEM", std::string("dropping capabilities: ") + e.what());
    error.Set("errno", Napi::Number::New(env, e.code().value()));
    throw error;
  }
  return env.Undefined();
}

// notifySystemd(state: string) -> 'sent' | 'no-socket': sd_notify(3) (sd_notify.h).
Napi::Value notify_systemd_js(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(env, "notifySystemd(state: string)");
  const std::string state = info[0].As<Napi::String>().Utf8Value();
  if (state.size() > 4096) throw Napi::RangeError::New(env, "notifySystemd: state longer than 4096 bytes");
  const int result = sd_notify_send(state);
  if (result < 0) {
    Napi::Error error = coded_error(env, "ESYSTEM", std::string("sd_notify: ") + std::strerror(-result));
    error.Set("errno", Napi::Number::New(env, -result));
    throw error;
  }
  return Napi::String::New(env, result == 0 ? "sent" : "no-socket");
}

Napi::Object init_addon(Napi::Env env, Napi::Object exports) {
  auto* data = new addon_data();
  Napi::Array strings = Napi::Array::New(env, string_count);
  for (uint32_t i = 0; i < key_count; ++i) strings.Set(i, Napi::String::New(env, key_names[i]));
  for (uint32_t i = 0; i < snapshot_read_count; ++i) {
    strings.Set(reads_offset + i, Napi::String::New(env, snapshot_read_name(static_cast<snapshot_read>(i))));
  }
  data->strings = Napi::Persistent(strings);
  env.SetInstanceData(data);
  exports.Set("ProcMonitor", ProcMonitor::define(env));
  exports.Set("decodeForTest", Napi::Function::New(env, guarded<decode_for_test>, "decodeForTest"));
  exports.Set("snapshotForTest", Napi::Function::New(env, guarded<snapshot_for_test>, "snapshotForTest"));
  exports.Set("killProcess", Napi::Function::New(env, guarded<kill_process_js>, "killProcess"));
  exports.Set("dropCapabilities", Napi::Function::New(env, guarded<drop_capabilities_js>, "dropCapabilities"));
  exports.Set("notifySystemd", Napi::Function::New(env, guarded<notify_systemd_js>, "notifySystemd"));
  return exports;
}

}  // namespace
}  // namespace execwarden

static Napi::Object init(Napi::Env env, Napi::Object exports) {
  return execwarden::at_boundary(env, [&] { return execwarden::init_addon(env, exports); });
}

NODE_API_MODULE(execwarden_native, init)
