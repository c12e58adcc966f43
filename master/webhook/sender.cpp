#include "master/webhook/sender.hpp"

#include <array>
#include <cmath>
#include <atomic>
#include <optional>
#include <stdexcept>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "master/webhook/delivery.hpp"
#include "master/webhook/payload.hpp"

namespace kaillera::master::webhook {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

namespace {

constexpr std::array kEvents = {EventType::kGameOpened, EventType::kGameStarted, EventType::kRelayOnline,
                                EventType::kRelayOffline};
constexpr std::array kOutcomes = {Outcome::kOk,      Outcome::kRateLimited,  Outcome::kHttpError,
                                  Outcome::kTimeout, Outcome::kConnectError, Outcome::kTlsError};

SteadyMillis steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool is_ip(const std::string& host) {
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

struct Counters {
  std::array<std::atomic<std::uint64_t>, kEvents.size()> events{};
  std::array<std::atomic<std::uint64_t>, kOutcomes.size()> attempts{};
  std::atomic<std::uint64_t> sent{0}, failed{0}, rejected{0}, dropped{0};
  std::atomic<std::uint64_t> queued{0};  // waiting now (gauge)
};

// One delivery's sockets; the deadline timer holds it weakly, so it may fire after the delivery ended.
struct Conn {
  Conn(asio::io_context& io, ssl::context* tls_ctx) : resolver(io), deadline(io) {
    if (tls_ctx != nullptr) {
      tls.emplace(io, *tls_ctx);
    } else {
      plain.emplace(io);
    }
  }
  beast::tcp_stream& lowest() { return tls ? beast::get_lowest_layer(*tls) : *plain; }
  void abort() {
    resolver.cancel();
    lowest().close();
  }
  tcp::resolver resolver;
  asio::steady_timer deadline;
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls;
  bool timed_out = false;
};

}  // namespace

Observation observation_from(const Snapshot& snap, UnixMillis now, bool external) {
  Observation o;
  o.now = now;
  o.relays.reserve(snap.servers.size());
  for (const auto& s : snap.servers) {
    if (s.external && !external) continue;
    RelayView r;
    r.id = s.id;
    r.external = s.external;
    r.online = s.online;
    r.name = s.name.utf8;
    r.location = s.location.utf8;
    r.address = s.host + ":" + std::to_string(s.port);
    r.users = s.users;
    r.max_users = s.max_users;
    r.games = s.games;
    r.playing_games = s.playing_games;
    o.relays.push_back(std::move(r));
  }
  for (const auto& p : snap.playing) {
    if (p.server >= snap.servers.size()) continue;
    const std::string& id = snap.servers[p.server].id;
    for (auto& r : o.relays) {
      if (r.id == id) r.playing_ids.push_back(p.game_id);
    }
  }
  o.games.reserve(snap.games.size());
  for (const auto& g : snap.games) {
    if (g.server >= snap.servers.size() || (snap.servers[g.server].external && !external)) continue;
    GameView v;
    v.server_id = snap.servers[g.server].id;
    v.game_id = g.game_id;
    v.name = g.rom.utf8;
    v.owner = g.owner.utf8;
    v.emulator = g.emulator.utf8;
    v.players = g.players;
    v.max_players = g.max_players;
    o.games.push_back(std::move(v));
  }
  return o;
}

struct WebhookSender::Impl {
  struct Hook {
    Hook(asio::io_context& io, WebhookConfig c)
        : config(std::move(c)), announcer(config), queue(config), wake(io) {
      std::string problem;
      url = *parse_url(config.url, problem);  // checked by check_webhooks
    }
    WebhookConfig config;
    Url url;
    Announcer announcer;
    DeliveryQueue queue;
    asio::steady_timer wake;
    std::unique_ptr<ssl::context> tls;
    Counters counters;
    std::string last_outcome;    // logged when it changes
    std::shared_ptr<Conn> conn;  // the delivery under way
  };

  Impl(std::vector<WebhookConfig> configs, Observe o, std::chrono::milliseconds p)
      : observe(std::move(o)), poll_every(p), poll_timer(io), work(asio::make_work_guard(io)) {
    for (auto& c : configs) {
      auto h = std::make_unique<Hook>(io, std::move(c));
      if (h->url.tls) {
        h->tls = std::make_unique<ssl::context>(ssl::context::tls_client);
        h->tls->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                            ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
        h->tls->set_default_verify_paths();
        if (!h->config.ca_file.empty()) {
          boost::system::error_code ec;
          h->tls->load_verify_file(h->config.ca_file, ec);
          if (ec)
            throw std::runtime_error("webhook " + h->config.name + ": ca_file '" + h->config.ca_file +
                                     "' is not a PEM file of certificates: " + ec.message());
        }
        h->tls->set_verify_mode(ssl::verify_peer);
      }
      hooks.push_back(std::move(h));
    }
  }

  void poll() {
    if (stopped) return;
    Observation obs;
    bool seen = true;
    try {
      obs = observe();
    } catch (const std::exception& e) {
      // An empty list would read as every game closed and every relay gone: skip this round instead.
      spdlog::error("webhooks: reading the list failed: {}", e.what());
      seen = false;
    }
    for (auto& hp : hooks) {
      if (!seen) break;
      Hook& h = *hp;
      for (const Event& e : h.announcer.observe(obs)) {
        for (std::size_t i = 0; i < kEvents.size(); ++i)
          if (kEvents[i] == e.type) h.counters.events[i].fetch_add(1);
        if (h.queue.push(format_payload(h.config.format, e), e.type)) {
          spdlog::info("webhook {}: {}: {}", h.config.name, to_string(e.type), headline(e));
        } else {
          h.counters.dropped.fetch_add(1);
          spdlog::warn("webhook {}: queue full ({} messages): dropped {}: {}", h.config.name,
                       h.config.queue_max, to_string(e.type), headline(e));
        }
      }
      h.counters.queued.store(h.queue.waiting());
      pump(h);
    }
    poll_timer.expires_after(poll_every);
    poll_timer.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) poll();
    });
  }

  // Starts the next delivery of `h` if one is due, else sleeps until it is.
  void pump(Hook& h) {
    if (stopped || h.queue.in_flight()) return;
    const SteadyMillis now = steady_ms();
    const auto at = h.queue.wake_at(now);
    if (!at) return;
    if (*at > now) {
      h.wake.expires_after(std::chrono::milliseconds(*at - now));
      h.wake.async_wait([this, &h](const boost::system::error_code& ec) {
        if (!ec) pump(h);
      });
      return;
    }
    const auto msg = h.queue.next(now);
    if (!msg) return;
    auto conn = std::make_shared<Conn>(io, h.tls.get());
    h.conn = conn;
    conn->deadline.expires_after(std::chrono::milliseconds(h.config.timeout_ms));
    conn->deadline.async_wait([weak = std::weak_ptr<Conn>(conn)](const boost::system::error_code& ec) {
      if (ec) return;
      if (auto c = weak.lock()) {
        c->timed_out = true;
        c->abort();
      }
    });
    asio::co_spawn(io, deliver(h, conn, msg->body), [this, &h, conn](std::exception_ptr e, Attempt a) {
      conn->deadline.cancel();
      h.conn.reset();
      if (e) a = Attempt{Outcome::kConnectError, 0, std::nullopt};
      finished(h, a);
    });
  }

  template <class Stream>
  asio::awaitable<Attempt> exchange(Stream& stream, Hook& h, std::shared_ptr<Conn> conn,
                                    const std::string& body) {
    beast::error_code ec;
    http::request<http::string_body> req{http::verb::post, h.url.target, 11};
    const bool default_port = h.url.port == (h.url.tls ? 443 : 80);
    req.set(http::field::host, default_port ? h.url.host : h.url.host + ":" + std::to_string(h.url.port));
    req.set(http::field::user_agent, std::string("kaillera-master/") + KF_VERSION);
    req.set(http::field::content_type, "application/json");
    req.set(http::field::connection, "close");
    req.body() = body;
    req.prepare_payload();
    co_await http::async_write(stream, req, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return failure(*conn, Outcome::kConnectError);
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.header_limit(16 * 1024);
    parser.body_limit(64 * 1024);
    co_await http::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
    if (ec && ec != http::error::body_limit) co_return failure(*conn, Outcome::kConnectError);
    const auto& res = parser.get();
    Attempt a;
    a.status = static_cast<int>(res.result_int());
    if (a.status >= 200 && a.status < 300) co_return a;
    a.outcome = a.status == 429 ? Outcome::kRateLimited : Outcome::kHttpError;
    const auto header = res[http::field::retry_after];
    a.retry_after = parse_retry_after(std::string_view(header.data(), header.size()), unix_ms());
    if (!a.retry_after && a.status == 429) {
      // Discord also says it in the body: {"retry_after": 1.5, ...} (seconds).
      const auto j = nlohmann::json::parse(res.body(), nullptr, false);
      if (j.is_object() && j.contains("retry_after") && j["retry_after"].is_number())
        a.retry_after = static_cast<std::int64_t>(std::ceil(j["retry_after"].get<double>() * 1000));
    }
    co_return a;
  }

  static Attempt failure(const Conn& c, Outcome o) {
    return Attempt{c.timed_out ? Outcome::kTimeout : o, 0, std::nullopt};
  }

  asio::awaitable<Attempt> deliver(Hook& h, std::shared_ptr<Conn> conn, std::string body) {
    beast::error_code ec;
    const auto results = co_await conn->resolver.async_resolve(h.url.host, std::to_string(h.url.port),
                                                               asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return failure(*conn, Outcome::kConnectError);
    co_await conn->lowest().async_connect(results, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return failure(*conn, Outcome::kConnectError);
    if (!conn->tls) co_return co_await exchange(*conn->plain, h, conn, body);

    auto& s = *conn->tls;
    SSL* native = s.native_handle();
    if (is_ip(h.url.host)) {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(native), h.url.host.c_str());
    } else {
      SSL_set_tlsext_host_name(native, h.url.host.c_str());  // SNI
      SSL_set1_host(native, h.url.host.c_str());             // the certificate must name this host
    }
    co_await s.async_handshake(ssl::stream_base::client, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (!conn->timed_out)
        spdlog::debug("webhook {}: TLS handshake with {} failed: {}", h.config.name, h.url.shown(),
                      ec.message());
      co_return failure(*conn, Outcome::kTlsError);
    }
    co_return co_await exchange(s, h, conn, body);
  }

  void finished(Hook& h, const Attempt& a) {
    for (std::size_t i = 0; i < kOutcomes.size(); ++i)
      if (kOutcomes[i] == a.outcome) h.counters.attempts[i].fetch_add(1);
    if (stopped) return;
    const Verdict v = h.queue.done(a, steady_ms());
    std::string what(to_string(a.outcome));
    if (a.status != 0) what += " (HTTP " + std::to_string(a.status) + ")";
    switch (v) {
      case Verdict::kSent:
        h.counters.sent.fetch_add(1);
        break;
      case Verdict::kRetry:
        break;
      case Verdict::kGaveUp:
        h.counters.failed.fetch_add(1);
        spdlog::warn("webhook {} ({}): {}; message given up", h.config.name, h.url.shown(), what);
        break;
      case Verdict::kRejected:
        h.counters.rejected.fetch_add(1);
        spdlog::warn("webhook {} ({}): {}; the receiver refused the message (is the URL still right?)",
                     h.config.name, h.url.shown(), what);
        break;
    }
    const std::string kind(to_string(a.outcome));
    if (kind != h.last_outcome) {
      if (a.outcome == Outcome::kOk) {
        spdlog::info("webhook {} ({}): delivering", h.config.name, h.url.shown());
      } else {
        spdlog::warn("webhook {} ({}): {}{}", h.config.name, h.url.shown(), what,
                     v == Verdict::kRetry ? "; retrying" : "");
      }
      h.last_outcome = kind;
    }
    h.counters.queued.store(h.queue.waiting());
    pump(h);
  }

  Observe observe;
  std::chrono::milliseconds poll_every;
  asio::io_context io;
  asio::steady_timer poll_timer;
  asio::executor_work_guard<asio::io_context::executor_type> work;
  std::vector<std::unique_ptr<Hook>> hooks;
  std::thread thread;
  bool stopped = false;  // only touched on the worker thread (and after it was joined)
};

WebhookSender::WebhookSender(std::vector<WebhookConfig> hooks, Observe observe,
                             std::chrono::milliseconds poll)
    : impl_(std::make_unique<Impl>(std::move(hooks), std::move(observe), poll)) {}

WebhookSender::~WebhookSender() {
  stop();
}

void WebhookSender::start() {
  if (impl_->thread.joinable()) return;
  asio::post(impl_->io, [i = impl_.get()] { i->poll(); });
  impl_->thread = std::thread([i = impl_.get()] { i->io.run(); });
}

void WebhookSender::stop() {
  if (!impl_->thread.joinable()) return;
  asio::post(impl_->io, [i = impl_.get()] {
    i->stopped = true;
    i->poll_timer.cancel();
    for (auto& h : i->hooks) {
      h->wake.cancel();
      if (h->conn) h->conn->abort();
    }
    i->work.reset();
    i->io.stop();
  });
  impl_->thread.join();
}

std::string WebhookSender::metrics() const {
  std::string out;
  const auto family = [&](std::string_view name, std::string_view type, std::string_view help) {
    out.append("# HELP ").append(name).append(" ").append(help).append("\n");
    out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
  };
  const auto line = [&](std::string_view name, const std::string& labels, std::uint64_t value) {
    out.append(name).append("{").append(labels).append("} ").append(std::to_string(value)).append("\n");
  };
  // Webhook names are [A-Za-z0-9._-] (config_toml.cpp): no escaping needed in label values.
  family("kaillera_master_webhook_events_total", "counter",
         "Events that passed a webhook's filters (each one message), by webhook and event.");
  for (const auto& h : impl_->hooks)
    for (std::size_t i = 0; i < kEvents.size(); ++i)
      line("kaillera_master_webhook_events_total",
           "webhook=\"" + h->config.name + "\",event=\"" + std::string(to_string(kEvents[i])) + "\"",
           h->counters.events[i].load());
  family("kaillera_master_webhook_messages_total", "counter",
         "Webhook messages by how they ended: sent, failed (attempts used up), rejected (3xx/4xx), dropped "
         "(queue full).");
  for (const auto& h : impl_->hooks) {
    const std::string w = "webhook=\"" + h->config.name + "\"";
    line("kaillera_master_webhook_messages_total", w + ",result=\"sent\"", h->counters.sent.load());
    line("kaillera_master_webhook_messages_total", w + ",result=\"failed\"", h->counters.failed.load());
    line("kaillera_master_webhook_messages_total", w + ",result=\"rejected\"", h->counters.rejected.load());
    line("kaillera_master_webhook_messages_total", w + ",result=\"dropped\"", h->counters.dropped.load());
  }
  family("kaillera_master_webhook_attempts_total", "counter", "Webhook deliveries attempted, by outcome.");
  for (const auto& h : impl_->hooks)
    for (std::size_t i = 0; i < kOutcomes.size(); ++i)
      line("kaillera_master_webhook_attempts_total",
           "webhook=\"" + h->config.name + "\",outcome=\"" + std::string(to_string(kOutcomes[i])) + "\"",
           h->counters.attempts[i].load());
  family("kaillera_master_webhook_queue", "gauge", "Webhook messages waiting to be delivered.");
  for (const auto& h : impl_->hooks)
    line("kaillera_master_webhook_queue", "webhook=\"" + h->config.name + "\"", h->counters.queued.load());
  return out;
}

}  // namespace kaillera::master::webhook
