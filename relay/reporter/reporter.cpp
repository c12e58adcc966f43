#include "relay/reporter/reporter.hpp"

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <fstream>
#include <sstream>

#include "common/net/address.hpp"
#include "common/text/charset.hpp"
#include "kaillera/directory/v1/directory.grpc.pb.h"

namespace kaillera::relay {

namespace v1 = kaillera::directory::v1;

struct MasterReporter::Impl {
  std::shared_ptr<grpc::ClientContext> stream_context;  // to cancel a blocked stream on stop()
  std::mutex context_mu;
};

std::string_view to_string(MasterReporter::State s) {
  switch (s) {
    case MasterReporter::State::kConnecting:
      return "connecting";
    case MasterReporter::State::kStreaming:
      return "reporting";
    case MasterReporter::State::kBackoff:
      return "retrying";
    case MasterReporter::State::kRefused:
      return "refused";
    case MasterReporter::State::kStopped:
      return "stopped";
  }
  return "?";
}

namespace {

void set_text(v1::RawText* t, std::string_view raw, const std::string& charset) {
  t->set_raw(std::string(raw));
  t->set_charset(charset);
  t->set_text(text::to_utf8(raw, charset));
}

v1::Measurement::Source source_of(PeerMeasurement::Source s) {
  switch (s) {
    case PeerMeasurement::Source::kPing:
      return v1::Measurement::SOURCE_PING;
    case PeerMeasurement::Source::kHello:
      return v1::Measurement::SOURCE_HELLO;
    case PeerMeasurement::Source::kGameTraffic:
      return v1::Measurement::SOURCE_GAME_TRAFFIC;
    case PeerMeasurement::Source::kLoginAck:
      return v1::Measurement::SOURCE_LOGIN_ACK;
  }
  return v1::Measurement::SOURCE_UNSPECIFIED;
}

std::string code_name(grpc::StatusCode c) {
  static const char* kNames[] = {
      "OK",        "CANCELLED",      "UNKNOWN",           "INVALID_ARGUMENT",   "DEADLINE_EXCEEDED",
      "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
      "ABORTED",   "OUT_OF_RANGE",   "UNIMPLEMENTED",     "INTERNAL",           "UNAVAILABLE",
      "DATA_LOSS", "UNAUTHENTICATED"};
  const auto i = static_cast<std::size_t>(c);
  return i < std::size(kNames) ? kNames[i] : "CODE_" + std::to_string(i);
}

std::int64_t unix_ms(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

}  // namespace

MasterReporter::MasterReporter(ReporterOptions options, RelayIdentity identity)
    : options_(std::move(options)), identity_(std::move(identity)), impl_(std::make_unique<Impl>()) {}

MasterReporter::~MasterReporter() {
  stop();
}

void MasterReporter::start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { run(); });
}

void MasterReporter::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  {
    std::lock_guard lock(impl_->context_mu);
    if (impl_->stream_context) impl_->stream_context->TryCancel();
  }
  if (thread_.joinable()) thread_.join();
  state_ = State::kStopped;
}

void MasterReporter::publish(ReportData data) {
  std::lock_guard lock(mu_);
  latest_.snapshot = std::move(data.snapshot);
  latest_.taken = data.taken;
  // Measurements accumulate until a report carries them (bounded: the oldest are dropped first).
  constexpr std::size_t kMaxPending = 20000;
  for (auto& m : data.measurements)
    latest_.measurements.push_back(m);
  if (latest_.measurements.size() > kMaxPending) {
    latest_.measurements.erase(latest_.measurements.begin(),
                               latest_.measurements.end() - static_cast<std::ptrdiff_t>(kMaxPending));
  }
  fresh_ = true;
}

void MasterReporter::on_probe(std::function<void(ProbeRequestData)> handler) {
  std::lock_guard lock(mu_);
  probe_handler_ = std::move(handler);
}

void MasterReporter::send_probe_result(std::string request_id, std::vector<ProbeMeasurement> measurements) {
  {
    std::lock_guard lock(mu_);
    if (probe_results_.size() >= kMaxQueuedProbeResults) {
      probe_results_.pop_front();
      ++probe_results_dropped_;
    }
    probe_results_.push_back({std::move(request_id), std::move(measurements)});
  }
  cv_.notify_all();
}

std::string MasterReporter::relay_id() const {
  std::lock_guard lock(mu_);
  return relay_id_;
}

void MasterReporter::set_state(State s, const std::string& detail) {
  const State old = state_.exchange(s);
  if (old == s) return;  // log once per change of state, not every retry
  if (s == State::kStreaming) {
    spdlog::info("master {}: reporting ({})", options_.master, detail);
  } else {
    spdlog::warn("master {}: {} ({})", options_.master, to_string(s), detail);
  }
}

bool MasterReporter::stopping_now() {
  std::lock_guard lock(mu_);
  return stopping_;
}

bool MasterReporter::wait_for(std::chrono::milliseconds d) {
  std::unique_lock lock(mu_);
  return !cv_.wait_for(lock, d, [this] { return stopping_; });
}

std::shared_ptr<grpc::ChannelCredentials> master_credentials(const std::string& tls_ca) {
  if (tls_ca.empty()) return grpc::InsecureChannelCredentials();
  std::ifstream f(tls_ca);
  std::stringstream ss;
  ss << f.rdbuf();
  grpc::SslCredentialsOptions o;
  o.pem_root_certs = ss.str();
  return grpc::SslCredentials(o);
}

void MasterReporter::run() {
  const auto creds = master_credentials(options_.tls_ca);
  auto backoff = options_.initial_backoff;
  while (true) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
    }
    auto channel = grpc::CreateChannel(options_.master, creds);
    auto stub = v1::RelayRegistry::NewStub(channel);

    // Register.
    v1::RegisterRequest req;
    req.set_token(options_.token);
    auto* info = req.mutable_info();
    set_text(info->mutable_name(), identity_.name, identity_.charset);
    set_text(info->mutable_location(), identity_.location, identity_.charset);
    info->set_public_host(identity_.public_host);
    info->set_handshake_port(identity_.handshake_port);
    info->set_game_port_first(identity_.game_port_first);
    info->set_game_port_last(identity_.game_port_last);
    info->set_website(identity_.website);
    info->set_version(identity_.version);
    info->set_max_users(identity_.max_users);
    info->set_max_games(identity_.max_games);
    info->set_charset(identity_.charset);
    v1::RegisterResponse resp;
    auto reg_ctx = std::make_shared<grpc::ClientContext>();
    reg_ctx->set_deadline(std::chrono::system_clock::now() + options_.rpc_deadline);
    {
      std::lock_guard lock(impl_->context_mu);
      if (stopping_now()) return;
      impl_->stream_context = reg_ctx;  // stop() cancels a registration under way too
    }
    const grpc::Status st = stub->Register(reg_ctx.get(), req, &resp);
    {
      std::lock_guard lock(impl_->context_mu);
      impl_->stream_context.reset();
    }
    if (!st.ok()) {
      ++connect_failures_;
      const bool refused = st.error_code() == grpc::StatusCode::UNAUTHENTICATED ||
                           st.error_code() == grpc::StatusCode::PERMISSION_DENIED ||
                           st.error_code() == grpc::StatusCode::INVALID_ARGUMENT;
      set_state(refused ? State::kRefused : State::kBackoff,
                "register: " + code_name(st.error_code()) + ": " + st.error_message());
      if (!wait_for(backoff)) return;
      backoff = std::min(options_.max_backoff, backoff * 2);
      continue;
    }
    {
      std::lock_guard lock(mu_);
      relay_id_ = resp.relay_id();
    }
    if (resp.report_interval_ms() > 0) interval_ms_ = resp.report_interval_ms();

    // The stream.
    auto ctx = std::make_shared<grpc::ClientContext>();
    {
      std::lock_guard lock(impl_->context_mu);
      if (stopping_now()) return;
      impl_->stream_context = ctx;
    }
    auto stream = stub->Report(ctx.get());
    v1::RelayMessage hello;
    hello.mutable_hello()->set_relay_id(resp.relay_id());
    hello.mutable_hello()->set_session_key(resp.session_key());
    bool ok = stream->Write(hello);
    std::thread reader([&] {
      v1::MasterMessage m;
      while (stream->Read(&m)) {
        if (!m.has_probe()) continue;
        ProbeRequestData p;
        p.master = options_.master;
        p.request_id = m.probe().request_id();
        p.addresses.assign(m.probe().addresses().begin(), m.probe().addresses().end());
        p.deadline_ms = m.probe().deadline_ms();
        std::function<void(ProbeRequestData)> h;
        {
          std::lock_guard lock(mu_);
          h = probe_handler_;
        }
        if (h) h(std::move(p));
      }
    });
    bool first = true;
    while (ok) {
      ReportData data;
      {
        std::lock_guard lock(mu_);
        if (stopping_) break;
        data.snapshot = latest_.snapshot;
        data.measurements.swap(latest_.measurements);
        fresh_ = false;
      }
      v1::RelayMessage msg;
      auto* r = msg.mutable_report();
      r->set_users(data.snapshot.users);
      r->set_games(data.snapshot.games);
      r->set_playing_games(data.snapshot.playing_games);
      for (const auto& w : data.snapshot.waiting) {
        auto* g = r->add_waiting();
        g->set_game_id(w.id);
        set_text(g->mutable_rom(), w.rom, identity_.charset);
        set_text(g->mutable_owner(), w.owner, identity_.charset);
        set_text(g->mutable_emulator(), w.emulator, identity_.charset);
        g->set_players(w.players);
        g->set_max_players(w.max_players);
      }
      for (const auto& p : data.snapshot.playing) {
        auto* g = r->add_playing();
        g->set_game_id(p.id);
        set_text(g->mutable_rom(), p.rom, identity_.charset);
        set_text(g->mutable_emulator(), p.emulator, identity_.charset);
        g->set_players(p.players);
        g->set_window_ms(p.window_ms);
        g->set_wait_ms(p.wait_ms);
        g->set_worst_player_wait_ms(p.worst_wait_ms);
      }
      const auto now_wall = std::chrono::system_clock::now();
      const auto now_steady = Clock::now();
      for (const auto& m : data.measurements) {
        auto* out = r->add_measurements();
        out->set_address(net::ip_to_string(m.ip));
        out->set_hops(m.hops);
        out->set_rtt_ms(m.rtt_ms);
        out->set_measured_unix_ms(unix_ms(
            now_wall - std::chrono::duration_cast<std::chrono::system_clock::duration>(now_steady - m.when)));
        out->set_source(source_of(m.source));
      }
      r->set_sent_unix_ms(unix_ms(now_wall));
      ok = stream->Write(msg);
      if (!ok) break;
      ++reports_sent_;
      if (first) {
        set_state(State::kStreaming, "relay id " + resp.relay_id());
        backoff = options_.initial_backoff;
        first = false;
      }
      // Until the next report: write probe results as they are queued.
      const auto next_report = std::chrono::steady_clock::now() + report_interval();
      while (ok) {
        std::deque<QueuedProbeResult> answers;
        {
          std::unique_lock lock(mu_);
          cv_.wait_until(lock, next_report, [this] { return stopping_ || !probe_results_.empty(); });
          if (stopping_) {
            ok = false;
            break;
          }
          answers.swap(probe_results_);
        }
        if (answers.empty()) break;  // time for the next report
        for (auto& a : answers) {
          v1::RelayMessage pm;
          auto* pr = pm.mutable_probe_result();
          pr->set_request_id(a.request_id);
          for (const auto& m : a.measurements) {
            auto* out = pr->add_measurements();
            out->set_address(m.address);
            out->set_hops(m.hops);
            out->set_rtt_ms(m.rtt_ms);
            out->set_measured_unix_ms(m.measured_unix_ms);
            out->set_source(v1::Measurement::SOURCE_PROBE);
          }
          ok = stream->Write(pm);
          if (!ok) break;
          ++probe_results_sent_;
        }
      }
    }
    ctx->TryCancel();
    reader.join();
    const grpc::Status fin = stream->Finish();
    {
      std::lock_guard lock(impl_->context_mu);
      impl_->stream_context.reset();
    }
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
    }
    ++connect_failures_;
    set_state(State::kBackoff, "stream ended: " + code_name(fin.error_code()) + " " + fin.error_message());
    if (!wait_for(backoff)) return;
    backoff = std::min(options_.max_backoff, backoff * 2);
  }
}

}  // namespace kaillera::relay
