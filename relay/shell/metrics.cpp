#include <utility>  // before Asio (TOOLCHAIN.md)

#include "relay/shell/metrics.hpp"

#include <chrono>
#include <cstdio>
#include <optional>
#include <string_view>
#include <system_error>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <spdlog/spdlog.h>

#include "common/http/health.hpp"
#include "common/http/listener.hpp"

namespace kaillera::relay::shell {

// ---- text format
// --------------------------------------------------------------------------------------------

// A new Counters field must be exported here too; this fails to compile until it is.
static_assert(sizeof(Counters) == 53 * sizeof(std::uint64_t), "Counters changed: update render_metrics()");
// Likewise for the prober's counters and render_probe_metrics().
static_assert(sizeof(probe::Counters) ==
                  (7 + probe::kMethods + probe::kMethods * probe::kOutcomes) * sizeof(std::uint64_t),
              "probe::Counters changed: update render_probe_metrics()");

namespace {

void family(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out.append("# HELP ").append(name).append(" ").append(help).append("\n");
  out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

void sample(std::string& out, std::string_view name, std::uint64_t value, std::string_view labels = {}) {
  out.append(name);
  if (!labels.empty()) out.append("{").append(labels).append("}");
  out.append(" ").append(std::to_string(value)).append("\n");
}

void counter(std::string& out, std::string_view field, std::uint64_t value, std::string_view help) {
  const std::string name = "kaillera_relay_" + std::string(field) + "_total";
  family(out, name, "counter", help);
  sample(out, name, value);
}

void gauge(std::string& out, std::string_view field, std::uint64_t value, std::string_view help) {
  const std::string name = "kaillera_relay_" + std::string(field);
  family(out, name, "gauge", help);
  sample(out, name, value);
}

}  // namespace

std::string render_metrics(const Counters& c, const Snapshot& s, const ShellStats& shell,
                           const announce::AnnounceCounters* announce) {
  std::string out;
  out.reserve(4096);
  counter(out, "datagrams_in", c.datagrams_in, "UDP datagrams received on all ports.");
  counter(out, "datagrams_out", c.datagrams_out, "UDP datagrams the core sent.");
  counter(out, "bytes_in", c.bytes_in, "UDP payload bytes received.");
  counter(out, "bytes_out", c.bytes_out, "UDP payload bytes the core sent.");

  family(out, "kaillera_relay_dropped_datagrams_total", "counter", "Datagrams dropped, by reason.");
  sample(out, "kaillera_relay_dropped_datagrams_total", c.drop_malformed, "reason=\"malformed\"");
  sample(out, "kaillera_relay_dropped_datagrams_total", c.drop_rate_limited, "reason=\"rate_limited\"");
  sample(out, "kaillera_relay_dropped_datagrams_total", c.drop_unknown_session, "reason=\"unknown_session\"");
  sample(out, "kaillera_relay_dropped_datagrams_total", c.drop_bad_message, "reason=\"bad_message\"");

  counter(out, "hellos", c.hellos, "HELLO requests on the handshake port.");
  counter(out, "pings", c.pings, "Server-list PING probes answered.");
  counter(out, "server_full", c.server_full, "HELLOs refused because the server was full.");
  counter(out, "version_mismatch", c.version_mismatch, "HELLOs with an unsupported protocol version.");
  counter(out, "logins", c.logins, "Completed logins.");
  counter(out, "login_rejected", c.login_rejected, "Refused logins.");
  counter(out, "quits", c.quits, "Users who quit.");
  counter(out, "timeouts", c.timeouts, "Users removed by a timeout.");
  counter(out, "games_created", c.games_created, "Game rooms created.");
  counter(out, "games_started", c.games_started, "Games started.");
  counter(out, "desyncs", c.desyncs, "Players dropped by the data deadline or lost input.");
  counter(out, "resends", c.resends, "Resends to clients that missed messages.");
  counter(out, "lost_messages", c.lost_messages, "Client messages lost for good.");
  counter(out, "lost_cache_refs", c.lost_cache_refs,
          "Cached inputs (0x13) naming an entry whose 0x12 was lost for good; zeros were played.");
  counter(out, "gaps", c.gaps, "Holes in client seqs waited for (the client usually sends them again).");
  counter(out, "game_data_in", c.game_data_in, "Game data messages received.");
  counter(out, "game_data_out", c.game_data_out, "Game data messages sent.");
  counter(out, "cache_hits_out", c.cache_hits_out, "Game data sent as a cache reference (0x13).");

  // Lag (docs/RELAY.md "Lag statistics"): time running games lost behind their frame clock, by cause, and
  // how late the late frames were (a histogram in milliseconds, cumulative as Prometheus wants it).
  family(out, "kaillera_relay_game_wait_microseconds_total", "counter",
         "Time games lost waiting behind their frame clock, by cause.");
  sample(out, "kaillera_relay_game_wait_microseconds_total", c.lag_wait_us_late_input,
         "cause=\"late_input\"");
  sample(out, "kaillera_relay_game_wait_microseconds_total", c.lag_wait_us_lost_input,
         "cause=\"lost_input\"");
  sample(out, "kaillera_relay_game_wait_microseconds_total", c.lag_wait_us_drop, "cause=\"dropped_player\"");
  family(out, "kaillera_relay_frame_wait_milliseconds", "histogram",
         "How late the frames that completed 1 ms or more after they were due were.");
  {
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < Counters::kFrameWaitBoundsMs.size(); ++i) {
      cumulative += c.frame_wait_hist[i];
      sample(out, "kaillera_relay_frame_wait_milliseconds_bucket", cumulative,
             "le=\"" + std::to_string(Counters::kFrameWaitBoundsMs[i]) + "\"");
    }
    cumulative += c.frame_wait_hist.back();
    sample(out, "kaillera_relay_frame_wait_milliseconds_bucket", cumulative, "le=\"+Inf\"");
    sample(out, "kaillera_relay_frame_wait_milliseconds_sum", c.frame_wait_ms_sum);
    sample(out, "kaillera_relay_frame_wait_milliseconds_count", cumulative);
  }

  family(out, "kaillera_relay_refused_total", "counter",
         "Logins, joins, games, chats and commands refused by moderation and abuse limits, by reason.");
  sample(out, "kaillera_relay_refused_total", c.refused_banned, "reason=\"banned\"");
  sample(out, "kaillera_relay_refused_total", c.refused_address_limit, "reason=\"logins_per_address\"");
  sample(out, "kaillera_relay_refused_total", c.refused_url_name, "reason=\"url_name\"");
  sample(out, "kaillera_relay_refused_total", c.refused_emulator, "reason=\"emulator_denied\"");
  sample(out, "kaillera_relay_refused_total", c.refused_game, "reason=\"game_denied\"");
  sample(out, "kaillera_relay_refused_total", c.refused_join_spam, "reason=\"join_spam\"");
  sample(out, "kaillera_relay_refused_total", c.refused_chat_flood, "reason=\"chat_flood\"");
  sample(out, "kaillera_relay_refused_total", c.refused_command_flood, "reason=\"command_flood\"");
  sample(out, "kaillera_relay_refused_total", c.refused_silenced, "reason=\"silenced\"");
  sample(out, "kaillera_relay_refused_total", c.refused_busy_hello, "reason=\"busy_hello\"");
  sample(out, "kaillera_relay_refused_total", c.refused_busy_login, "reason=\"busy_login\"");
  sample(out, "kaillera_relay_refused_total", c.refused_busy_start, "reason=\"busy_start\"");
  counter(out, "staff_actions", c.staff_actions,
          "Staff commands that changed something (bans, kicks, grants, ...).");
  counter(out, "moderation_writes_failed", c.moderation_writes_failed,
          "Lasting moderation changes the state file could not take (they last until restart).");
  counter(out, "texts_in_english", c.texts_in_english,
          "Texts sent in English because the relay's charset cannot encode their translation.");

  counter(out, "send_failures", shell.send_failures, "Datagrams the kernel did not accept.");
  counter(out, "receive_drops", shell.receive_drops,
          "Datagrams the kernel dropped because a receive buffer was full (SO_RXQ_OVFL).");
  // Headroom of the last measured second (docs/OPERATING.md "Admission").
  family(out, "kaillera_relay_loop_busy_ratio", "gauge", "Time in handlers over wall time, last second.");
  out.append("kaillera_relay_loop_busy_ratio ").append(std::to_string(s.load.busy)).append("\n");
  gauge(out, "tick_late_milliseconds",
        static_cast<std::uint64_t>(std::max<std::int64_t>(0, s.load.tick_late.count())),
        "How late the 10 ms tick ran at worst, last second.");
  gauge(out, "refusing_new_load", s.refusing ? 1 : 0,
        "1 while new connections, logins and game starts are refused for load (busy_limit, drop_limit).");
  counter(out, "oversized_datagrams", shell.oversized,
          "Datagrams larger than the receive buffer, dropped unread.");
  counter(out, "unknown_port_sends", shell.unknown_port_sends, "Sends from a port without a socket (a bug).");

  family(out, "kaillera_relay_announce_total", "counter",
         "Touch requests to public server lists (--announce), by list kind and outcome.");
  for (auto kind : {announce::ListKind::kTouchServer, announce::ListKind::kTouchList}) {
    for (auto outcome : {announce::Outcome::kOk, announce::Outcome::kHttpError, announce::Outcome::kTimeout,
                         announce::Outcome::kConnectFailed}) {
      const std::string labels = "list=\"" + std::string(announce::kind_name(kind)) + "\",outcome=\"" +
                                 std::string(announce::outcome_name(outcome)) + "\"";
      sample(out, "kaillera_relay_announce_total", announce ? announce->get(kind, outcome) : 0, labels);
    }
  }

  gauge(out, "users", s.users, "Users logged in.");
  gauge(out, "games", s.games, "Game rooms open.");
  gauge(out, "playing_games", s.playing_games, "Game rooms playing.");
  gauge(out, "waiting_games", s.waiting.size(), "Game rooms waiting for players.");

  family(out, "kaillera_relay_start_time_seconds", "gauge", "Start time of the relay, Unix seconds.");
  char start[64];
  std::snprintf(start, sizeof start, "%.3f", shell.start_time_seconds);
  out.append("kaillera_relay_start_time_seconds ").append(start).append("\n");
  family(out, "kaillera_relay_build_info", "gauge", "Version of the relay.");
  sample(out, "kaillera_relay_build_info", 1, "version=\"" KF_VERSION "\"");
  return out;
}

std::string render_probe_metrics(const probe::Counters& c) {
  std::string out;
  out.reserve(2048);
  counter(out, "probe_requests", c.requests, "Probe requests from masters.");
  counter(out, "probe_requests_dropped", c.requests_dropped,
          "Probe requests refused: the prober's queue was full.");
  counter(out, "probe_addresses", c.addresses, "Addresses masters asked to probe.");
  counter(out, "probe_bad_addresses", c.bad_addresses,
          "Asked-for addresses that are not unicast IPv4, not probed.");
  counter(out, "probe_cache_hits", c.cache_hits,
          "Addresses answered from a probe of the last 30 s or one under way, without sending.");
  counter(out, "probe_skipped", c.skipped,
          "Addresses not probed: over the per-request bound or the rate limit.");
  counter(out, "probe_send_errors", c.send_errors, "Probe datagrams the kernel refused.");
  family(out, "kaillera_relay_probe_packets_total", "counter", "Probe datagrams sent, by method.");
  for (auto m : {probe::Method::kIcmp, probe::Method::kUdp}) {
    sample(out, "kaillera_relay_probe_packets_total", c.packets[static_cast<std::size_t>(m)],
           "method=\"" + std::string(probe::to_string(m)) + "\"");
  }
  family(out, "kaillera_relay_probes_total", "counter",
         "Probe attempts at an address, by method and outcome (an unanswered echo is followed by a UDP "
         "attempt).");
  for (auto m : {probe::Method::kIcmp, probe::Method::kUdp}) {
    for (auto o : {probe::Outcome::kReached, probe::Outcome::kNoAnswer, probe::Outcome::kUnreachable,
                   probe::Outcome::kError}) {
      sample(out, "kaillera_relay_probes_total",
             c.attempts[static_cast<std::size_t>(m)][static_cast<std::size_t>(o)],
             "method=\"" + std::string(probe::to_string(m)) + "\",outcome=\"" +
                 std::string(probe::to_string(o)) + "\"");
    }
  }
  return out;
}

// ---- HTTP
// ---------------------------------------------------------------------------------------------------

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr std::size_t kMaxConnections = 32;
constexpr std::size_t kMaxRequestsPerConnection = 100;
constexpr std::size_t kHeaderLimit = 8 * 1024;
constexpr std::size_t kBodyLimit = 4 * 1024;
constexpr std::size_t kBufferLimit = kHeaderLimit + kBodyLimit;
constexpr auto kIdleTimeout = std::chrono::seconds(10);

}  // namespace

struct MetricsServer::Impl : kaillera::http::Listener {
  Impl(asio::io_context& io, Render r, NotReady n)
      : Listener(io, "metrics", kMaxConnections), render(std::move(r)), not_ready(std::move(n)) {}
  void on_accept(tcp::socket socket) override;
  std::string reason() const { return not_ready ? not_ready() : std::string(); }
  Render render;
  NotReady not_ready;
};

namespace {

class Session : public kaillera::http::Listener::Connection, public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, std::shared_ptr<MetricsServer::Impl> owner)
      : stream_(std::move(socket)), buffer_(kBufferLimit), owner_(std::move(owner)) {
    owner_->add(this);
  }
  ~Session() { owner_->remove(this); }

  void start() { read(); }
  void close() override {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
  }

 private:
  void read() {
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    parser_->body_limit(kBodyLimit);
    stream_.expires_after(kIdleTimeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == asio::error::operation_aborted ||
        ec == beast::error::timeout || ec == asio::error::connection_reset || owner_->stopped()) {
      close();
      return;
    }
    if (ec) {  // malformed, too large: answer once and close
      respond(http::status::bad_request, "bad request\n", 11, false);
      return;
    }
    const auto& req = parser_->get();
    ++served_;
    const bool keep_alive = req.keep_alive() && served_ < kMaxRequestsPerConnection;
    std::string_view target(req.target().data(), req.target().size());
    if (auto q = target.find('?'); q != std::string_view::npos) target = target.substr(0, q);
    const bool head = req.method() == http::verb::head;
    if (req.method() != http::verb::get && !head) {
      respond(http::status::method_not_allowed, "method not allowed\n", req.version(), keep_alive);
    } else if (auto health = kaillera::http::health_reply(target, owner_->reason())) {
      respond(static_cast<http::status>(health->status), std::move(health->body), req.version(), keep_alive,
              "text/plain; charset=utf-8", head);
    } else if (target != "/metrics") {
      respond(http::status::not_found, "not found; try /metrics, /healthz, /readyz\n", req.version(),
              keep_alive);
    } else if (std::string reason = owner_->reason(); !reason.empty()) {
      respond(http::status::service_unavailable, "not ready: " + reason + "\n", req.version(), keep_alive,
              "text/plain; charset=utf-8", head);
    } else {
      std::string body;
      try {
        body = owner_->render();
      } catch (const std::exception& e) {
        spdlog::error("metrics: rendering failed: {}", e.what());
        respond(http::status::internal_server_error, "error\n", req.version(), false);
        return;
      }
      respond(http::status::ok, std::move(body), req.version(), keep_alive,
              "text/plain; version=0.0.4; charset=utf-8", head);
    }
  }

  void respond(http::status status, std::string body, unsigned version, bool keep_alive,
               std::string_view content_type = "text/plain; charset=utf-8", bool head = false) {
    res_ = {};
    res_.result(status);
    res_.version(version == 10 ? 10 : 11);
    res_.set(http::field::server, "kaillera-relay/" KF_VERSION);
    res_.set(http::field::content_type, beast::string_view(content_type.data(), content_type.size()));
    if (status == http::status::method_not_allowed) res_.set(http::field::allow, "GET, HEAD");
    res_.keep_alive(keep_alive);
    const std::size_t length = body.size();
    if (!head) res_.body() = std::move(body);
    res_.content_length(length);
    stream_.expires_after(kIdleTimeout);
    http::async_write(stream_, res_,
                      [self = shared_from_this(), keep_alive](beast::error_code ec, std::size_t) {
                        if (ec || !keep_alive || self->owner_->stopped()) {
                          self->close();
                          return;
                        }
                        self->read();
                      });
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> res_;
  std::shared_ptr<MetricsServer::Impl> owner_;
  std::size_t served_ = 0;
};

}  // namespace

void MetricsServer::Impl::on_accept(tcp::socket socket) {
  std::make_shared<Session>(std::move(socket), std::static_pointer_cast<Impl>(shared_from_this()))->start();
}

MetricsServer::MetricsServer(asio::io_context& io, const net::Endpoint& at, Render render, NotReady not_ready)
    : impl_(std::make_shared<Impl>(io, std::move(render), std::move(not_ready))) {
  impl_->listen(at);
}

MetricsServer::~MetricsServer() {
  stop();
}

net::Endpoint MetricsServer::local() const {
  return impl_->local();
}

void MetricsServer::stop() {
  impl_->stop();
}

std::string render_moderation_metrics(const state::StoreCounters* store, const state::AuditCounters* audit) {
  std::string out;
  family(out, "kaillera_relay_state_writes_total", "counter",
         "Lasting moderation changes (bans, silences, grants, lifts) by outcome: written to the state file, "
         "or not.");
  sample(out, "kaillera_relay_state_writes_total", store ? store->written.load() : 0, "outcome=\"written\"");
  sample(out, "kaillera_relay_state_writes_total", store ? store->failed.load() : 0, "outcome=\"failed\"");
  gauge(out, "state_queue", store ? store->queued.load() : 0,
        "Lasting moderation changes waiting for the state file's writer thread.");
  counter(out, "audit_lines", audit ? audit->lines.load() : 0, "Lines appended to the audit log.");
  counter(out, "audit_errors", audit ? audit->errors.load() + audit->dropped.load() : 0,
          "Audit lines that could not be written or were dropped (queue full).");
  return out;
}

}  // namespace kaillera::relay::shell
