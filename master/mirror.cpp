#include "master/mirror.hpp"

#include <optional>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <spdlog/spdlog.h>

namespace kaillera::master {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr std::uint32_t kHeaderLimit = 64 * 1024;

struct Source {
  Source(asio::io_context& io, MirrorUrl u) : url(std::move(u)), next(io) {}
  MirrorUrl url;
  asio::steady_timer next;
  MirrorCounters counters;
  std::string last_outcome;  // logged when it changes
};

// Prometheus label value: backslash, double quote and newline escaped.
std::string label(std::string_view v) {
  std::string out;
  for (const char c : v) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

struct MirrorFetcher::Impl : std::enable_shared_from_this<MirrorFetcher::Impl> {
  struct Fetch;

  Impl(asio::io_context& i, MirrorOptions o, std::function<void(const MirrorUrl&, const MirrorList&)> d)
      : io(i), options(std::move(o)), deliver(std::move(d)) {}

  void fetch(const std::shared_ptr<Source>& src);
  void finished(const std::shared_ptr<Source>& src, std::chrono::steady_clock::time_point started,
                const std::string& outcome, bool failed);

  asio::io_context& io;
  MirrorOptions options;
  std::function<void(const MirrorUrl&, const MirrorList&)> deliver;
  std::vector<std::shared_ptr<Source>> sources;
  std::vector<std::weak_ptr<Fetch>> running;  // one slot per source
  bool stopped = false;
};

// One GET of one list: resolve, connect, write, read, all under one deadline.
struct MirrorFetcher::Impl::Fetch : std::enable_shared_from_this<Fetch> {
  Fetch(std::shared_ptr<Impl> o, std::shared_ptr<Source> s)
      : owner(std::move(o)), src(std::move(s)), resolver(owner->io), socket(owner->io), deadline(owner->io) {}

  void start() {
    started = std::chrono::steady_clock::now();
    req.method(http::verb::get);
    req.target(src->url.target);
    req.version(11);
    req.set(http::field::host,
            src->url.port == 80 ? src->url.host : src->url.host + ":" + std::to_string(src->url.port));
    req.set(http::field::user_agent, std::string("kaillera-master/") + KF_VERSION);
    req.set(http::field::accept, "*/*");
    req.set(http::field::connection, "close");
    parser.header_limit(kHeaderLimit);
    parser.body_limit(owner->options.max_bytes);

    deadline.expires_after(owner->options.timeout);
    deadline.async_wait([self = shared_from_this()](const beast::error_code& ec) {
      if (ec || self->done) return;
      self->timed_out = true;
      self->abort();
    });
    resolver.async_resolve(
        src->url.host, std::to_string(src->url.port),
        [self = shared_from_this()](const beast::error_code& ec, tcp::resolver::results_type r) {
          if (ec) return self->finish(ec);
          asio::async_connect(self->socket, r, [self](const beast::error_code& ec2, const tcp::endpoint&) {
            if (ec2) return self->finish(ec2);
            self->write();
          });
        });
  }

  void write() {
    http::async_write(socket, req, [self = shared_from_this()](const beast::error_code& ec, std::size_t) {
      if (ec) return self->finish(ec);
      http::async_read_header(self->socket, self->buffer, self->parser,
                              [self](const beast::error_code& ec2, std::size_t) { self->read_body(ec2); });
    });
  }

  void read_body(const beast::error_code& ec) {
    if (ec) return finish(ec);
    // Boost 1.74's parser does not hold a Content-Length against body_limit (it does for chunked bodies and
    // bodies read to the end of the stream), so a declared length over the limit is refused here.
    if (const auto length = parser.content_length(); length && *length > owner->options.max_bytes)
      return finish(http::error::body_limit);
    http::async_read(
        socket, buffer, parser,
        [self = shared_from_this()](const beast::error_code& ec2, std::size_t) { self->finish(ec2); });
  }

  void abort() {
    beast::error_code ignored;
    resolver.cancel();
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
  }

  void finish(const beast::error_code& ec) {
    if (done) return;
    done = true;
    deadline.cancel();
    abort();
    if (owner->stopped) return;
    auto& c = src->counters;
    if (timed_out) {
      c.timeout.fetch_add(1);
      return owner->finished(
          src, started,
          "timeout (no complete answer within " + std::to_string(owner->options.timeout.count()) + " ms)",
          true);
    }
    if (ec == http::error::body_limit || ec == http::error::header_limit ||
        ec == http::error::buffer_overflow) {
      c.too_large.fetch_add(1);
      return owner->finished(src, started,
                             "too large (the body is cut at " + std::to_string(owner->options.max_bytes) +
                                 " bytes: mirror_max_bytes)",
                             true);
    }
    if (ec) {
      c.connect_error.fetch_add(1);
      return owner->finished(src, started, "fetch failed: " + ec.message(), true);
    }
    const auto& res = parser.get();
    if (res.result_int() != 200) {
      c.http_error.fetch_add(1);
      return owner->finished(src, started, "HTTP status " + std::to_string(res.result_int()), true);
    }
    const auto content_type = res[http::field::content_type];
    const MirrorList list =
        parse_mirror_response(src->url, std::string_view(content_type.data(), content_type.size()),
                              res.body(), owner->options.default_charset);
    if (!list.ok) {
      c.parse_error.fetch_add(1);
      return owner->finished(src, started, "not a list: " + list.error, true);
    }
    c.ok.fetch_add(1);
    c.skipped.fetch_add(list.skipped);
    owner->deliver(src->url, list);
    std::string outcome = "ok (" + std::to_string(list.servers.size()) + " servers, " +
                          std::to_string(list.games.size()) + " games, " + std::to_string(list.skipped) +
                          " malformed entries skipped, charset " + list.charset + ")";
    if (!list.error.empty()) outcome += "; " + list.error;
    owner->finished(src, started, outcome, false);
  }

  std::shared_ptr<Impl> owner;
  std::shared_ptr<Source> src;
  tcp::resolver resolver;
  tcp::socket socket;
  asio::steady_timer deadline;
  beast::flat_buffer buffer;
  http::request<http::empty_body> req;
  http::response_parser<http::string_body> parser;
  std::chrono::steady_clock::time_point started;
  bool timed_out = false;
  bool done = false;
};

void MirrorFetcher::Impl::fetch(const std::shared_ptr<Source>& src) {
  if (stopped) return;
  auto f = std::make_shared<Fetch>(shared_from_this(), src);
  for (std::size_t i = 0; i < sources.size(); ++i) {
    if (sources[i] == src) running[i] = f;
  }
  f->start();
}

void MirrorFetcher::Impl::finished(const std::shared_ptr<Source>& src,
                                   std::chrono::steady_clock::time_point started, const std::string& outcome,
                                   bool failed) {
  // Log when the kind of outcome changes (not every minute that a list stays fine or stays down).
  const std::string kind = outcome.substr(0, outcome.find_first_of(" :("));
  if (kind != src->last_outcome) {
    if (failed) {
      spdlog::warn("mirror {}: {}; keeping its last good copy for now", src->url.url, outcome);
    } else {
      spdlog::info("mirror {}: {}", src->url.url, outcome);
    }
    src->last_outcome = kind;
  } else {
    spdlog::debug("mirror {}: {}", src->url.url, outcome);
  }
  if (stopped) return;
  src->next.expires_at(started + options.interval);
  src->next.async_wait([self = shared_from_this(), src](const beast::error_code& ec) {
    if (!ec) self->fetch(src);
  });
}

MirrorFetcher::MirrorFetcher(asio::io_context& io, std::vector<MirrorUrl> urls, MirrorOptions options,
                             std::function<void(const MirrorUrl&, const MirrorList&)> deliver)
    : impl_(std::make_shared<Impl>(io, std::move(options), std::move(deliver))) {
  for (auto& u : urls)
    impl_->sources.push_back(std::make_shared<Source>(io, std::move(u)));
  impl_->running.resize(impl_->sources.size());
}

MirrorFetcher::~MirrorFetcher() {
  stop();
}

void MirrorFetcher::start() {
  for (const auto& s : impl_->sources)
    impl_->fetch(s);
}

void MirrorFetcher::stop() {
  impl_->stopped = true;
  for (const auto& s : impl_->sources)
    s->next.cancel();
  for (auto& w : impl_->running) {
    if (auto f = w.lock()) {
      f->done = true;
      f->deadline.cancel();
      f->abort();
    }
  }
}

std::string MirrorFetcher::metrics(const std::vector<MirrorHeld>& held) const {
  std::string out;
  const auto line = [&](std::string_view name, const std::string& labels, auto value) {
    out.append(name).append("{").append(labels).append("} ").append(std::to_string(value)).append("\n");
  };
  const auto family = [&](std::string_view name, std::string_view type, std::string_view help) {
    out.append("# HELP ").append(name).append(" ").append(help).append("\n");
    out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
  };
  family("kaillera_master_mirror_fetches_total", "counter", "Fetches of mirrored lists, by list and result.");
  for (const auto& s : impl_->sources) {
    const std::string m = "mirror=\"" + label(s->url.url) + "\"";
    const auto& c = s->counters;
    line("kaillera_master_mirror_fetches_total", m + ",result=\"ok\"", c.ok.load());
    line("kaillera_master_mirror_fetches_total", m + ",result=\"http_error\"", c.http_error.load());
    line("kaillera_master_mirror_fetches_total", m + ",result=\"timeout\"", c.timeout.load());
    line("kaillera_master_mirror_fetches_total", m + ",result=\"too_large\"", c.too_large.load());
    line("kaillera_master_mirror_fetches_total", m + ",result=\"connect_error\"", c.connect_error.load());
    line("kaillera_master_mirror_fetches_total", m + ",result=\"parse_error\"", c.parse_error.load());
  }
  family("kaillera_master_mirror_skipped_entries_total", "counter",
         "Entries of mirrored lists skipped because they did not fit the format.");
  for (const auto& s : impl_->sources)
    line("kaillera_master_mirror_skipped_entries_total", "mirror=\"" + label(s->url.url) + "\"",
         s->counters.skipped.load());
  family("kaillera_master_mirror_servers", "gauge",
         "Servers held from each mirrored list (its last good copy).");
  for (const auto& h : held)
    line("kaillera_master_mirror_servers", "mirror=\"" + label(h.url) + "\"", h.servers);
  family("kaillera_master_mirror_games", "gauge", "Waiting games held from each mirrored list.");
  for (const auto& h : held)
    line("kaillera_master_mirror_games", "mirror=\"" + label(h.url) + "\"", h.games);
  family("kaillera_master_mirror_last_good_seconds", "gauge",
         "Unix time of each mirrored list's last good fetch (0: none yet).");
  for (const auto& h : held)
    line("kaillera_master_mirror_last_good_seconds", "mirror=\"" + label(h.url) + "\"",
         h.last_good_unix_ms / 1000);
  return out;
}

}  // namespace kaillera::master
