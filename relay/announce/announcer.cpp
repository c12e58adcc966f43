#include <utility>  // before Asio (TOOLCHAIN.md)

#include "relay/announce/announcer.hpp"

#include <deque>
#include <exception>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <spdlog/spdlog.h>

#ifndef KF_VERSION
#define KF_VERSION "dev"
#endif

namespace kaillera::relay::announce {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;

std::string_view outcome_name(Outcome o) {
  switch (o) {
    case Outcome::kOk:
      return "ok";
    case Outcome::kHttpError:
      return "http_error";
    case Outcome::kTimeout:
      return "timeout";
    case Outcome::kConnectFailed:
      return "connect_failed";
  }
  return "?";
}

namespace {

constexpr std::size_t kMaxStarted = 64;
constexpr std::size_t kHeaderLimit = 8 * 1024;

struct Result {
  Outcome outcome = Outcome::kOk;
  std::string detail;
};

std::string seconds_text(std::chrono::milliseconds d) {
  const auto ms = d.count();
  return ms % 1000 == 0 ? std::to_string(ms / 1000) + " s" : std::to_string(ms) + " ms";
}

// Printable ASCII of the start of a response body, for the log.
std::string excerpt(std::string_view body) {
  std::string out;
  for (char c : body.substr(0, 80))
    out += (c >= 0x20 && c < 0x7F) ? c : ' ';
  while (!out.empty() && out.back() == ' ')
    out.pop_back();
  return out;
}

std::string host_header(const ListUrl& list) {
  std::string h = list.host.find(':') != std::string::npos ? "[" + list.host + "]" : list.host;
  if (list.port != 80) h += ":" + std::to_string(list.port);
  return h;
}

// One GET, bounded by `timeout` from the connect to the end of the response.
asio::awaitable<Result> exchange(const ListUrl& list, const Request& req, std::chrono::milliseconds timeout,
                                 std::size_t body_limit) {
  const auto ex = co_await asio::this_coro::executor;
  error_code ec;
  tcp::resolver resolver(ex);
  const auto endpoints = co_await resolver.async_resolve(list.host, std::to_string(list.port),
                                                         asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return Result{Outcome::kConnectFailed, "cannot resolve " + list.host + ": " + ec.message()};

  beast::tcp_stream stream(ex);
  stream.expires_after(timeout);
  co_await stream.async_connect(endpoints, asio::redirect_error(asio::use_awaitable, ec));
  if (ec == beast::error::timeout)
    co_return Result{Outcome::kTimeout, "no connection within " + seconds_text(timeout)};
  if (ec) co_return Result{Outcome::kConnectFailed, "cannot connect: " + ec.message()};

  http::request<http::empty_body> get{http::verb::get, req.target, 11};
  get.set(http::field::host, host_header(list));
  get.set(http::field::user_agent, "kaillera-relay/" KF_VERSION);
  for (const auto& [name, value] : req.headers)
    get.set(name, value);
  get.keep_alive(false);
  co_await http::async_write(stream, get, asio::redirect_error(asio::use_awaitable, ec));
  if (ec == beast::error::timeout)
    co_return Result{Outcome::kTimeout, "could not send within " + seconds_text(timeout)};
  if (ec) co_return Result{Outcome::kHttpError, "sending the request failed: " + ec.message()};

  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.header_limit(kHeaderLimit);
  parser.body_limit(body_limit);
  co_await http::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
  if (ec == beast::error::timeout)
    co_return Result{Outcome::kTimeout, "no answer within " + seconds_text(timeout)};
  // A body beyond the limit is not read, but the status line is all a touch needs.
  const bool cut = ec == http::error::body_limit && parser.is_header_done();
  if (ec && !cut) co_return Result{Outcome::kHttpError, "no valid HTTP response: " + ec.message()};
  error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  const unsigned status = parser.get().result_int();
  std::string detail = "HTTP " + std::to_string(status);
  if (const std::string body = excerpt(parser.get().body()); !body.empty()) detail += ": " + body;
  co_return Result{status / 100 == 2 ? Outcome::kOk : Outcome::kHttpError, std::move(detail)};
}

}  // namespace

struct Announcer::Impl {
  Impl(AnnouncerOptions o, AnnounceCounters& c) : options(std::move(o)), counters(c) {}

  struct Started {
    std::uint64_t serial;
    std::string rom;
  };

  // What one touch of `list` carries: the newest load, and for touch_server.php the games started after
  // `sent_serial`. `newest` becomes that list's `sent_serial` once the list took the touch.
  Load take_load(const ListUrl& list, std::uint64_t sent_serial, std::uint64_t& newest) {
    std::lock_guard lock(mu);
    Load load = latest;
    if (list.kind == ListKind::kTouchServer) {
      for (const auto& s : started) {
        if (s.serial > sent_serial) load.started.push_back(s.rom);
      }
    }
    newest = next_serial - 1;
    return load;
  }

  asio::awaitable<void> list_loop(const ListUrl& list) {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    auto next = Clock::now() + options.first;
    std::uint64_t sent_serial = 0;
    std::optional<Outcome> last;
    while (true) {
      timer.expires_at(next);
      error_code ec;
      co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      Result r;
      std::uint64_t newest = 0;
      try {
        const Request req = build_request(list, options.identity, take_load(list, sent_serial, newest));
        spdlog::debug("announce: GET {}", req.target);
        r = co_await exchange(list, req, options.timeout, options.body_limit);
      } catch (const std::exception& e) {
        r = {Outcome::kHttpError, std::string("failed: ") + e.what()};
      }
      counters.add(list.kind, r.outcome);
      if (r.outcome == Outcome::kOk) sent_serial = newest;
      if (!last || *last != r.outcome) {
        if (r.outcome == Outcome::kOk) {
          spdlog::info("announce: {} takes our touches ({}); touching it every {}", list.url, r.detail,
                       seconds_text(options.interval));
        } else {
          spdlog::warn("announce: {} fails: {}: {}; retrying every {}, logged again when this changes",
                       list.url, outcome_name(r.outcome), r.detail, seconds_text(options.interval));
        }
        last = r.outcome;
      } else {
        spdlog::debug("announce: {}: {}: {}", list.url, outcome_name(r.outcome), r.detail);
      }
      const auto now = Clock::now();
      next += options.interval;
      if (next <= now) next = now + options.interval;  // the touch took longer than the interval: no burst
    }
  }

  AnnouncerOptions options;
  AnnounceCounters& counters;
  std::mutex mu;
  Load latest;  // users, games, waiting (started stays empty here)
  std::deque<Started> started;
  std::uint64_t next_serial = 1;
  std::thread thread;
  bool running = false;
  asio::io_context io{1};  // last: destroyed first, with the loops' frames, while the rest still lives
};

Announcer::Announcer(AnnouncerOptions options)
    : impl_(std::make_unique<Impl>(std::move(options), counters_)) {}

Announcer::~Announcer() {
  stop();
}

void Announcer::start() {
  if (impl_->running || impl_->options.lists.empty()) return;
  impl_->running = true;
  for (const auto& list : impl_->options.lists)
    asio::co_spawn(impl_->io, impl_->list_loop(list), asio::detached);
  impl_->thread = std::thread([impl = impl_.get()] {
    try {
      impl->io.run();
    } catch (const std::exception& e) {
      spdlog::error("announce: stopped by an error: {}", e.what());
    }
  });
}

void Announcer::stop() {
  if (!impl_->running) return;
  impl_->running = false;
  impl_->io.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

void Announcer::publish(std::uint32_t users, std::uint32_t games, std::vector<WaitingGame> waiting,
                        std::vector<std::string> started) {
  std::lock_guard lock(impl_->mu);
  impl_->latest.users = users;
  impl_->latest.games = games;
  impl_->latest.waiting = std::move(waiting);
  for (auto& rom : started) {
    impl_->started.push_back({impl_->next_serial++, std::move(rom)});
    if (impl_->started.size() > kMaxStarted) impl_->started.pop_front();
  }
}

}  // namespace kaillera::relay::announce
