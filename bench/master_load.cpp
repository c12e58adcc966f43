// master_load: the master benchmark of issue 4. Many simulated relays register over gRPC and keep one Report
// stream each, sending a LoadReport (waiting games + measurements) every interval, while a few threads hammer
// the list endpoints over keep-alive HTTP/1.1. Prints requests/s and latency per endpoint, reports sent, and
// the master's ingest cost per report from its /metrics. It starts nothing: point it at a running master
// (bench/run_master_load.sh does that).
//
// Threads: one completion-queue thread drives every relay (async gRPC API: Register, Report stream, alarms),
// plus --http-threads blocking HTTP clients. A token names exactly one relay, so N relays need N tokens
// (--token-file, one per line, from `kaillera-master relay add` N times). The master allows 100 streams per
// connection, so the relays are spread over several gRPC connections (--relays-per-connection).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <grpcpp/alarm.h>
#include <grpcpp/grpcpp.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "kaillera/directory/v1/directory.grpc.pb.h"

namespace {

namespace v1 = kaillera::directory::v1;
using Clock = std::chrono::steady_clock;
using SysClock = std::chrono::system_clock;
using namespace std::chrono_literals;

struct Options {
  std::string grpc = "127.0.0.1:27800";
  std::string http = "127.0.0.1:8080";
  std::vector<std::string> tokens;
  std::string token_file;
  std::uint32_t relays = 1000;
  std::uint32_t interval_ms = 10000;
  double seconds = 30;
  double warmup = 3;
  std::uint32_t http_threads = 2;
  std::uint32_t relays_per_connection = 50;
  std::uint32_t waiting = 3;
  std::uint32_t measurements = 4;
  std::uint32_t register_window = 32;
  std::uint32_t changing = 100;  // % of reports whose users/games differ from the relay's previous report
  int master_pid = 0;
  std::uint32_t first_port = 20000;
};

// ---- the relays (async gRPC on one completion queue) -----------------------------------------------------

enum class Op : std::uint8_t { kRegister, kStart, kWrite, kRead, kAlarm, kFinish, kCount };

struct Relay;
struct Tag {
  Relay* relay;
  Op op;
};

struct Relay {
  std::uint32_t index = 0;
  v1::RelayRegistry::Stub* stub = nullptr;
  std::string token;
  std::array<Tag, static_cast<std::size_t>(Op::kCount)> tags{};

  grpc::ClientContext reg_ctx;
  v1::RegisterResponse reg_resp;
  grpc::Status reg_status;
  std::unique_ptr<grpc::ClientAsyncResponseReader<v1::RegisterResponse>> reg_rpc;

  grpc::ClientContext stream_ctx;
  std::unique_ptr<grpc::ClientAsyncReaderWriter<v1::RelayMessage, v1::MasterMessage>> stream;
  v1::RelayMessage out;
  v1::MasterMessage in;
  grpc::Status finish_status;
  grpc::Alarm alarm;

  bool registering = false, streaming = false, hello_sent = false, writing = false, write_is_report = false;
  bool alarm_set = false, read_done = false, finishing = false, done = false;
  std::uint64_t seq = 0;
  std::uint32_t users = 0, playing = 0;  // what the last report said

  void* tag(Op op) { return &tags[static_cast<std::size_t>(op)]; }
};

struct FleetStats {
  std::atomic<std::uint64_t> registered{0}, register_failed{0}, streams_up{0}, reports_sent{0};
  std::atomic<std::uint64_t> reports_skipped{0}, stream_errors{0}, probes{0};
  std::mutex mu;
  std::string first_error;
  void error(const std::string& e) {
    std::lock_guard lock(mu);
    if (first_error.empty()) first_error = e;
  }
};

const std::array<const char*, 8> kRoms = {
    "Street Fighter II' Turbo", "Marvel vs. Capcom", "Metal Slug X",  "The King of Fighters '98",
    "Super Puzzle Fighter II",  "Mario Kart 64",     "Bomberman '93", "Samurai Shodown II"};

class Fleet {
 public:
  Fleet(const Options& o, std::vector<std::string> tokens) : o_(o) {
    const std::uint32_t per = std::max<std::uint32_t>(1, o.relays_per_connection);
    const std::uint32_t connections = (o.relays + per - 1) / per;
    for (std::uint32_t c = 0; c < connections; ++c) {
      grpc::ChannelArguments args;
      args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // a connection of its own
      args.SetInt("kf.bench.connection", static_cast<int>(c));
      channels_.push_back(grpc::CreateCustomChannel(o.grpc, grpc::InsecureChannelCredentials(), args));
      stubs_.push_back(v1::RelayRegistry::NewStub(channels_.back()));
    }
    relays_.reserve(o.relays);
    for (std::uint32_t i = 0; i < o.relays; ++i) {
      auto r = std::make_unique<Relay>();
      r->index = i;
      r->stub = stubs_[i / per].get();
      r->token = std::move(tokens[i]);
      for (std::size_t k = 0; k < r->tags.size(); ++k)
        r->tags[k] = Tag{r.get(), static_cast<Op>(k)};
      relays_.push_back(std::move(r));
    }
  }
  ~Fleet() { stop(); }

  std::size_t connections() const { return channels_.size(); }
  FleetStats& stats() { return stats_; }

  void start() {
    epoch_ = SysClock::now();
    thread_ = std::thread([this] { loop(); });
    kick_.Set(&cq_, SysClock::now(), &kick_tag_);
  }

  // Until every relay streams or failed; false on timeout.
  bool wait_until_streaming(std::chrono::milliseconds timeout) {
    const auto end = Clock::now() + timeout;
    while (Clock::now() < end) {
      if (stats_.streams_up.load() + stats_.register_failed.load() + stats_.stream_errors.load() >= o_.relays)
        return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }

  void stop() {
    if (!thread_.joinable()) return;
    stop_alarm_.Set(&cq_, SysClock::now(), &stop_tag_);
    thread_.join();
  }

 private:
  void loop() {
    void* t = nullptr;
    bool ok = false;
    while (cq_.Next(&t, &ok)) {
      if (t == &kick_tag_) {
        launch_registrations();
        continue;
      }
      if (t == &stop_tag_) {
        stop_all();
        maybe_shutdown();
        continue;
      }
      auto* tag = static_cast<Tag*>(t);
      --pending_;
      handle(*tag->relay, tag->op, ok);
      maybe_shutdown();
    }
  }

  void maybe_shutdown() {
    if (stopping_ && pending_ == 0 && !shut_down_) {
      shut_down_ = true;
      cq_.Shutdown();
    }
  }

  void launch_registrations() {
    while (!stopping_ && next_register_ < relays_.size() && registering_ < o_.register_window) {
      Relay& r = *relays_[next_register_++];
      v1::RegisterRequest req;
      req.set_token(r.token);
      auto* info = req.mutable_info();
      char name[64];
      std::snprintf(name, sizeof name, "Bench relay %04u", r.index);
      info->mutable_name()->set_raw(name);
      info->mutable_name()->set_charset("windows-1252");
      info->set_charset("windows-1252");
      info->set_public_host("127.0.0.1");
      const std::uint32_t port = o_.first_port + r.index * 2;
      info->set_handshake_port(port);
      info->set_game_port_first(port + 1);
      info->set_game_port_last(port + 1);
      info->mutable_location()->set_raw(r.index % 3 == 0 ? "Berlin" : r.index % 3 == 1 ? "Tokyo" : "Chicago");
      info->set_website("https://relay.example");
      info->set_version("kf 0.1.0");
      info->set_max_users(32);
      r.reg_ctx.set_deadline(SysClock::now() + 30s);
      r.reg_rpc = r.stub->PrepareAsyncRegister(&r.reg_ctx, req, &cq_);
      r.reg_rpc->StartCall();
      r.reg_rpc->Finish(&r.reg_resp, &r.reg_status, r.tag(Op::kRegister));
      r.registering = true;
      ++registering_;
      ++pending_;
    }
  }

  void handle(Relay& r, Op op, bool ok) {
    switch (op) {
      case Op::kRegister: {
        r.registering = false;
        --registering_;
        if (!r.reg_status.ok()) {
          stats_.register_failed.fetch_add(1);
          if (!stopping_) {
            stats_.error("relay " + std::to_string(r.index) + ": Register: " + r.reg_status.error_message());
          }
          r.done = true;
        } else {
          stats_.registered.fetch_add(1);
          if (!stopping_) start_stream(r);
        }
        launch_registrations();
        return;
      }
      case Op::kStart:
        if (!ok) {
          r.read_done = true;
          maybe_finish(r);
          return;
        }
        write(r, hello(r), false);
        r.stream->Read(&r.in, r.tag(Op::kRead));
        ++pending_;
        return;
      case Op::kWrite:
        r.writing = false;
        if (ok && r.write_is_report) stats_.reports_sent.fetch_add(1);
        if (ok && !r.hello_sent) {
          r.hello_sent = true;
          stats_.streams_up.fetch_add(1);
          if (!stopping_) {
            write(r, report(r), true);  // the first report at once: the relay is online from now
            schedule(r);
          }
        }
        maybe_finish(r);
        return;
      case Op::kRead:
        if (ok) {
          stats_.probes.fetch_add(1);  // the master asked for a probe: the simulated relay ignores it
          r.stream->Read(&r.in, r.tag(Op::kRead));
          ++pending_;
          return;
        }
        r.read_done = true;
        if (r.alarm_set) r.alarm.Cancel();
        maybe_finish(r);
        return;
      case Op::kAlarm:
        r.alarm_set = false;
        if (!ok || stopping_ || r.read_done) return;
        if (r.writing) {
          stats_.reports_skipped.fetch_add(1);
        } else {
          write(r, report(r), true);
        }
        schedule(r);
        return;
      case Op::kFinish:
        r.done = true;
        if (!stopping_) {
          stats_.stream_errors.fetch_add(1);
          stats_.error("relay " + std::to_string(r.index) + ": Report stream ended: " +
                       std::to_string(static_cast<int>(r.finish_status.error_code())) + " " +
                       r.finish_status.error_message());
        }
        return;
      case Op::kCount:
        return;
    }
  }

  void start_stream(Relay& r) {
    r.stream = r.stub->PrepareAsyncReport(&r.stream_ctx, &cq_);
    r.streaming = true;
    r.stream->StartCall(r.tag(Op::kStart));
    ++pending_;
  }

  void write(Relay& r, const v1::RelayMessage& m, bool is_report) {
    r.out = m;
    r.writing = true;
    r.write_is_report = is_report;
    r.stream->Write(r.out, r.tag(Op::kWrite));
    ++pending_;
  }

  // The next slot of this relay: epoch + phase + k * interval, phases spread evenly over one interval.
  void schedule(Relay& r) {
    const auto interval = std::chrono::milliseconds(o_.interval_ms);
    const auto phase = interval * r.index / o_.relays;
    const auto now = SysClock::now();
    const auto since = now - (epoch_ + phase);
    const auto k = since < SysClock::duration::zero() ? 0 : since / interval + 1;
    r.alarm.Set(&cq_, epoch_ + phase + k * interval, r.tag(Op::kAlarm));
    r.alarm_set = true;
    ++pending_;
  }

  void maybe_finish(Relay& r) {
    if (!r.read_done || r.writing || r.finishing) return;
    r.finishing = true;
    r.stream->Finish(&r.finish_status, r.tag(Op::kFinish));
    ++pending_;
  }

  void stop_all() {
    stopping_ = true;
    for (auto& r : relays_) {
      if (r->registering) r->reg_ctx.TryCancel();
      if (r->streaming) r->stream_ctx.TryCancel();
      if (r->alarm_set) r->alarm.Cancel();
    }
  }

  v1::RelayMessage hello(const Relay& r) const {
    v1::RelayMessage m;
    m.mutable_hello()->set_relay_id(r.reg_resp.relay_id());
    m.mutable_hello()->set_session_key(r.reg_resp.session_key());
    return m;
  }

  v1::RelayMessage report(Relay& r) const {
    const std::uint64_t s = r.seq++;
    v1::RelayMessage m;
    auto* rep = m.mutable_report();
    const std::uint32_t waiting = o_.waiting;
    if (s == 0) {
      r.users = 1 + r.index % 32;
      r.playing = r.index % 4;
    } else if (mix(static_cast<std::uint64_t>(r.index) << 32 | s) % 100 < o_.changing) {
      r.users = r.users % 32 + 1;  // always another number: the master's cached lists are rebuilt
      r.playing = (r.playing + 1) % 4;
    }
    rep->set_users(r.users);
    rep->set_games(waiting + r.playing);
    rep->set_playing_games(r.playing);
    const auto now_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(SysClock::now().time_since_epoch()).count();
    rep->set_sent_unix_ms(now_ms);
    for (std::uint32_t g = 0; g < waiting; ++g) {
      auto* w = rep->add_waiting();
      w->set_game_id(g + 1);
      w->mutable_rom()->set_raw(kRoms[(r.index + g) % kRoms.size()]);
      w->mutable_owner()->set_raw("player" + std::to_string(r.index) + "_" + std::to_string(g));
      w->mutable_emulator()->set_raw("MAME32k 0.64");
      w->set_players(1);
      w->set_max_players(2 + g % 3);
    }
    for (std::uint32_t k = 0; k < o_.measurements; ++k) {
      auto* meas = rep->add_measurements();
      const std::uint32_t player = static_cast<std::uint32_t>((r.index * 7 + s * 3 + k) % 60000);
      meas->set_address("10." + std::to_string(player / 256 % 256) + "." + std::to_string(player % 256) +
                        "." + std::to_string(1 + k));
      meas->set_hops(3 + (player + k) % 20);
      meas->set_rtt_ms(10 + (player * 13 + k) % 120);
      meas->set_measured_unix_ms(now_ms);
      meas->set_source(k % 2 == 0 ? v1::Measurement::SOURCE_PING : v1::Measurement::SOURCE_LOGIN_ACK);
    }
    return m;
  }

  static std::uint64_t mix(std::uint64_t x) {  // splitmix64: which reports change, reproducibly
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
  }

  const Options& o_;
  grpc::CompletionQueue cq_;  // declared first: destroyed after every call object that used it
  std::vector<std::shared_ptr<grpc::Channel>> channels_;
  std::vector<std::unique_ptr<v1::RelayRegistry::Stub>> stubs_;
  std::vector<std::unique_ptr<Relay>> relays_;
  std::thread thread_;
  grpc::Alarm kick_, stop_alarm_;
  int kick_tag_ = 0, stop_tag_ = 0;
  SysClock::time_point epoch_;
  FleetStats stats_;
  // Only the completion-queue thread touches these.
  std::size_t next_register_ = 0;
  std::uint32_t registering_ = 0;
  std::int64_t pending_ = 0;
  bool stopping_ = false, shut_down_ = false;
};

// ---- HTTP/1.1 keep-alive clients
// ---------------------------------------------------------------------------

struct Endpoint {
  std::string host;
  std::uint16_t port = 0;
};

std::optional<Endpoint> parse_endpoint(const std::string& s) {
  const auto colon = s.rfind(':');
  if (colon == std::string::npos) return std::nullopt;
  const int port = std::atoi(s.c_str() + colon + 1);
  if (port <= 0 || port > 65535) return std::nullopt;
  Endpoint e{s.substr(0, colon), static_cast<std::uint16_t>(port)};
  in_addr a{};
  if (::inet_pton(AF_INET, e.host.c_str(), &a) != 1) return std::nullopt;
  return e;
}

class HttpConnection {
 public:
  explicit HttpConnection(Endpoint at) : at_(std::move(at)) {}
  ~HttpConnection() { close(); }
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  struct Response {
    int status = 0;  // 0: the connection failed
    std::size_t body_bytes = 0;
    std::string body;  // only when asked for
  };

  // One request; reconnects when the server closed the previous connection. Bounded by the socket timeouts.
  Response get(const std::string& target, bool keep_body = false) {
    Response r;
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (fd_ < 0 && !connect()) return r;
      const std::string req = "GET " + target + " HTTP/1.1\r\nHost: " + at_.host + "\r\n\r\n";
      if (!send_all(req)) {
        close();
        continue;  // the server closed an idle keep-alive connection: once more on a new one
      }
      bool close_after = false;
      if (read_response(r, close_after, keep_body)) {
        if (close_after) close();
        return r;
      }
      close();
      if (buffer_started_) break;  // a response began and broke off: no retry
    }
    r.status = 0;
    return r;
  }
  std::uint64_t connects() const { return connects_; }

 private:
  bool connect() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return false;
    timeval tv{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    const int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(at_.port);
    ::inet_pton(AF_INET, at_.host.c_str(), &a.sin_addr);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      close();
      return false;
    }
    ++connects_;
    buf_.clear();
    return true;
  }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  bool send_all(const std::string& s) {
    std::size_t sent = 0;
    while (sent < s.size()) {
      const ssize_t n = ::send(fd_, s.data() + sent, s.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return false;
      sent += static_cast<std::size_t>(n);
    }
    return true;
  }
  bool fill() {
    const std::size_t old = buf_.size();
    buf_.resize(old + kChunk);
    const ssize_t n = ::recv(fd_, buf_.data() + old, kChunk, 0);
    buf_.resize(old + (n > 0 ? static_cast<std::size_t>(n) : 0));
    if (n > 0) buffer_started_ = true;
    return n > 0;
  }
  static std::string lower(std::string s) {
    for (auto& c : s)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  }
  bool read_response(Response& r, bool& close_after, bool keep_body) {
    buffer_started_ = false;
    std::size_t head_end;
    while ((head_end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (buf_.size() > 1 << 20 || !fill()) return false;
    }
    if (buf_.compare(0, 7, "HTTP/1.") != 0) return false;
    r.status = std::atoi(buf_.c_str() + 9);
    const std::string head = lower(buf_.substr(0, head_end));
    std::size_t length = 0;
    if (const auto at = head.find("\r\ncontent-length:"); at != std::string::npos) {
      length = std::strtoull(head.c_str() + at + 17, nullptr, 10);
    } else {
      return false;  // the master always sends Content-Length
    }
    close_after = head.find("\r\nconnection: close") != std::string::npos;
    const std::size_t total = head_end + 4 + length;
    while (buf_.size() < total) {
      if (!fill()) return false;
    }
    r.body_bytes = length;
    if (keep_body) r.body = buf_.substr(head_end + 4, length);
    buf_.erase(0, total);
    return true;
  }

  static constexpr std::size_t kChunk = 256 * 1024;
  Endpoint at_;
  int fd_ = -1;
  std::string buf_;
  bool buffer_started_ = false;
  std::uint64_t connects_ = 0;
};

const std::array<std::string, 4> kTargets = {"/server_list.php", "/game_list.php", "/server_list.json",
                                             "/api/v1/relays"};

struct EndpointSamples {
  std::vector<std::uint32_t> latency_us;
  std::uint64_t errors = 0;
  std::uint64_t bytes = 0;
};

struct HttpWorkerResult {
  std::array<EndpointSamples, kTargets.size()> per;
  std::uint64_t connects = 0;
};

void http_worker(const Endpoint& at, std::size_t first, const std::atomic<bool>& stop,
                 HttpWorkerResult& out) {
  HttpConnection c(at);
  for (auto& p : out.per)
    p.latency_us.reserve(1 << 18);
  std::size_t i = first;
  while (!stop.load(std::memory_order_relaxed)) {
    const std::size_t e = i++ % kTargets.size();
    const auto t0 = Clock::now();
    const auto r = c.get(kTargets[e]);
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count();
    auto& p = out.per[e];
    if (r.status != 200) {
      ++p.errors;
      if (r.status == 0) std::this_thread::sleep_for(10ms);
      continue;
    }
    p.latency_us.push_back(static_cast<std::uint32_t>(std::min<long long>(us, UINT32_MAX)));
    p.bytes += r.body_bytes;
  }
  out.connects = c.connects();
}

// ---- the master's /metrics and CPU ------------------------------------------------------------------------

struct MasterMetrics {
  bool ok = false;
  double ingest_seconds = 0;
  double reports_ok = 0;
  double reports_rejected = 0;
  double streams = 0;
  double relays_online = 0;
};

double sample(const std::string& body, const std::string& name) {
  const auto at = body.find("\n" + name + " ");
  if (at == std::string::npos) return std::nan("");
  return std::atof(body.c_str() + at + name.size() + 2);
}

MasterMetrics read_metrics(const Endpoint& at) {
  HttpConnection c(at);
  const auto r = c.get("/metrics", true);
  MasterMetrics m;
  if (r.status != 200) return m;
  m.ingest_seconds = sample(r.body, "kaillera_master_report_ingest_seconds_total");
  m.reports_ok = sample(r.body, "kaillera_master_reports_total{result=\"ok\"}");
  m.reports_rejected = sample(r.body, "kaillera_master_reports_total{result=\"rejected\"}");
  m.streams = sample(r.body, "kaillera_master_report_streams");
  m.relays_online = sample(r.body, "kaillera_master_relays{state=\"online\"}");
  m.ok = !std::isnan(m.ingest_seconds) && !std::isnan(m.reports_ok);
  return m;
}

// utime + stime of a process, in seconds (nullopt without /proc/PID/stat).
std::optional<double> cpu_seconds(int pid) {
  if (pid <= 0) return std::nullopt;
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto paren = all.rfind(')');
  if (paren == std::string::npos) return std::nullopt;
  std::istringstream fields(all.substr(paren + 2));
  std::string f;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> f; ++i) {
    if (i == 14) utime = std::stoull(f);
    if (i == 15) stime = std::stoull(f);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

double percentile_ms(std::vector<std::uint32_t>& v, double q) {
  if (v.empty()) return 0;
  const auto k = static_cast<std::size_t>(q * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k] / 1000.0;
}

std::vector<std::string> read_tokens(const Options& o, std::string& error) {
  std::vector<std::string> tokens = o.tokens;
  if (!o.token_file.empty()) {
    std::ifstream in(o.token_file);
    if (!in) {
      error = "--token-file " + o.token_file + ": cannot read it";
      return {};
    }
    for (std::string line; std::getline(in, line);) {
      while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back())))
        line.pop_back();
      if (!line.empty()) tokens.push_back(line);
    }
  }
  if (tokens.size() < o.relays) {
    error = "a token names exactly one relay, so " + std::to_string(o.relays) + " relays need " +
            std::to_string(o.relays) + " tokens (got " + std::to_string(tokens.size()) +
            "): run `kaillera-master relay add NAME` once per relay and give the tokens with --token-file "
            "(one per line) or repeated --token";
    return {};
  }
  return tokens;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"master_load: simulated relays reporting into a kaillera-master while its lists are hammered"};
  app.add_option("--grpc", o.grpc, "the master's gRPC address")->capture_default_str();
  app.add_option("--http", o.http, "the master's HTTP address")->capture_default_str();
  app.add_option("--token", o.tokens, "a relay token (repeatable; relay i uses the i-th token)");
  app.add_option("--token-file", o.token_file, "relay tokens, one per line");
  app.add_option("--relays", o.relays, "simulated relays")
      ->capture_default_str()
      ->check(CLI::Range(1u, 20000u));
  app.add_option("--interval-ms", o.interval_ms, "report interval per relay")
      ->capture_default_str()
      ->check(CLI::Range(10u, 600000u));
  app.add_option("--seconds", o.seconds, "measured seconds")
      ->capture_default_str()
      ->check(CLI::Range(0.5, 3600.0));
  app.add_option("--warmup", o.warmup, "seconds between every relay streaming and the measurement")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 600.0));
  app.add_option("--http-threads", o.http_threads, "HTTP client threads, one keep-alive connection each")
      ->capture_default_str()
      ->check(CLI::Range(1u, 256u));
  app.add_option("--relays-per-connection", o.relays_per_connection,
                 "Report streams per gRPC connection (the master allows 100)")
      ->capture_default_str()
      ->check(CLI::Range(1u, 100u));
  app.add_option("--waiting", o.waiting, "waiting games per report")
      ->capture_default_str()
      ->check(CLI::Range(0u, 64u));
  app.add_option("--measurements", o.measurements, "measurements per report")
      ->capture_default_str()
      ->check(CLI::Range(0u, 256u));
  app.add_option(
         "--changing", o.changing,
         "percent of reports whose users and games differ from the relay's previous report (each such "
         "report makes the master rebuild its cached lists)")
      ->capture_default_str()
      ->check(CLI::Range(0u, 100u));
  app.add_option("--master-pid", o.master_pid, "read the master's CPU time from /proc/PID/stat");
  CLI11_PARSE(app, argc, argv);

  const auto http_at = parse_endpoint(o.http);
  if (!http_at) {
    std::cerr << "master_load: --http must be IPv4:PORT (got " << o.http << ")\n";
    return 2;
  }
  std::string error;
  auto tokens = read_tokens(o, error);
  if (!error.empty()) {
    std::cerr << "master_load: " << error << "\n";
    return 2;
  }
  if (!read_metrics(*http_at).ok) {
    std::cerr << "master_load: no kaillera-master /metrics at http://" << o.http << "/\n";
    return 1;
  }

  Fleet fleet(o, std::move(tokens));
  const auto reg_start = Clock::now();
  fleet.start();
  const bool all_up = fleet.wait_until_streaming(std::chrono::milliseconds(60'000 + 20 * o.relays));
  const double reg_seconds = std::chrono::duration<double>(Clock::now() - reg_start).count();
  auto& fs = fleet.stats();
  std::printf(
      "master_load: %u relays over %zu gRPC connections, a report every %u ms each (%u waiting games, %u "
      "measurements; %u%% of reports change users/games), %u HTTP keep-alive threads, %.1f s measured after "
      "%.1f s warm-up\n",
      o.relays, fleet.connections(), o.interval_ms, o.waiting, o.measurements, o.changing, o.http_threads,
      o.seconds, o.warmup);
  std::printf("relays: %llu registered, %llu refused, %llu streaming after %.2f s%s\n",
              static_cast<unsigned long long>(fs.registered.load()),
              static_cast<unsigned long long>(fs.register_failed.load()),
              static_cast<unsigned long long>(fs.streams_up.load()), reg_seconds,
              all_up ? "" : " (gave up waiting for the rest)");
  if (fs.streams_up.load() == 0) {
    std::lock_guard lock(fs.mu);
    std::cerr << "master_load: no relay got a Report stream: " << fs.first_error << "\n";
    return 1;
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(o.warmup));

  const MasterMetrics m0 = read_metrics(*http_at);
  const auto cpu0 = cpu_seconds(o.master_pid);
  const std::uint64_t sent0 = fs.reports_sent.load();
  std::atomic<bool> stop{false};
  std::vector<HttpWorkerResult> results(o.http_threads);
  std::vector<std::thread> workers;
  const auto t0 = Clock::now();
  for (std::uint32_t i = 0; i < o.http_threads; ++i)
    workers.emplace_back(http_worker, std::cref(*http_at), i, std::cref(stop), std::ref(results[i]));
  std::this_thread::sleep_for(std::chrono::duration<double>(o.seconds));
  stop = true;
  for (auto& w : workers)
    w.join();
  const double window = std::chrono::duration<double>(Clock::now() - t0).count();
  const std::uint64_t sent1 = fs.reports_sent.load();
  const auto cpu1 = cpu_seconds(o.master_pid);
  const MasterMetrics m1 = read_metrics(*http_at);
  fleet.stop();

  std::printf("\n%-20s %10s %10s %9s %9s %9s %11s %7s\n", "endpoint", "requests", "req/s", "p50 ms", "p99 ms",
              "max ms", "bytes/resp", "errors");
  std::uint64_t total = 0, total_errors = 0;
  std::vector<std::uint32_t> all;
  for (std::size_t e = 0; e < kTargets.size(); ++e) {
    std::vector<std::uint32_t> v;
    std::uint64_t errors = 0, bytes = 0;
    for (auto& r : results) {
      v.insert(v.end(), r.per[e].latency_us.begin(), r.per[e].latency_us.end());
      errors += r.per[e].errors;
      bytes += r.per[e].bytes;
    }
    all.insert(all.end(), v.begin(), v.end());
    total += v.size();
    total_errors += errors;
    const std::size_t n = v.size();
    const double p50 = percentile_ms(v, 0.50), p99 = percentile_ms(v, 0.99), mx = percentile_ms(v, 1.0);
    std::printf("%-20s %10zu %10.0f %9.3f %9.3f %9.3f %11llu %7llu\n", kTargets[e].c_str(), n,
                static_cast<double>(n) / window, p50, p99, mx,
                static_cast<unsigned long long>(n > 0 ? bytes / n : 0),
                static_cast<unsigned long long>(errors));
  }
  const double p50 = percentile_ms(all, 0.50), p99 = percentile_ms(all, 0.99), mx = percentile_ms(all, 1.0);
  std::printf("%-20s %10llu %10.0f %9.3f %9.3f %9.3f %11s %7llu\n", "all list endpoints",
              static_cast<unsigned long long>(total), static_cast<double>(total) / window, p50, p99, mx, "",
              static_cast<unsigned long long>(total_errors));
  std::uint64_t connects = 0;
  for (auto& r : results)
    connects += r.connects;
  std::printf(
      "HTTP connections opened: %llu (the master closes a keep-alive connection after 1000 requests)\n",
      static_cast<unsigned long long>(connects));

  std::printf(
      "\nreports sent in the window: %llu (%.1f/s; %llu skipped while a write was pending), stream "
      "errors %llu, probe requests %llu\n",
      static_cast<unsigned long long>(sent1 - sent0), static_cast<double>(sent1 - sent0) / window,
      static_cast<unsigned long long>(fs.reports_skipped.load()),
      static_cast<unsigned long long>(fs.stream_errors.load()),
      static_cast<unsigned long long>(fs.probes.load()));
  {
    std::lock_guard lock(fs.mu);
    if (!fs.first_error.empty()) std::printf("first relay error: %s\n", fs.first_error.c_str());
  }
  if (m0.ok && m1.ok) {
    const double reports = m1.reports_ok - m0.reports_ok;
    const double ingest = m1.ingest_seconds - m0.ingest_seconds;
    std::printf(
        "master: %.0f reports stored in the window (%.0f rejected), %.0f relays online, %.0f report "
        "streams open\n",
        reports, m1.reports_rejected - m0.reports_rejected, m1.relays_online, m1.streams);
    if (reports > 0) {
      std::printf(
          "master report ingest: %.1f us per report (kaillera_master_report_ingest_seconds_total %.6f s "
          "/ %.0f reports in the window); over the whole run %.1f us per report (%.0f reports)\n",
          ingest / reports * 1e6, ingest, reports,
          m1.reports_ok > 0 ? m1.ingest_seconds / m1.reports_ok * 1e6 : 0.0, m1.reports_ok);
    }
  } else {
    std::printf("master: /metrics could not be read\n");
  }
  if (cpu0 && cpu1) {
    const double cpu = *cpu1 - *cpu0;
    std::printf(
        "master CPU: %.2f s in %.2f s (%.0f%% of one core), %.1f us per HTTP request (reports included)\n",
        cpu, window, cpu / window * 100, total > 0 ? cpu / static_cast<double>(total) * 1e6 : 0.0);
  }
  const double rate = static_cast<double>(total) / window;
  std::printf(
      "\ntarget: list endpoints >= 5000 requests/s with %u relays reporting every %u ms: %s (%.0f req/s)\n",
      o.relays, o.interval_ms, rate >= 5000 ? "met" : "NOT met", rate);
  return 0;
}
