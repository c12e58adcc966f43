#include "master/http_server.hpp"

#include <array>
#include <optional>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <spdlog/spdlog.h>

#include "common/http/listener.hpp"

namespace kaillera::master {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct HttpServer::Impl : kaillera::http::Listener {
  Impl(asio::io_context& io, Handler h, Observer o, HttpLimits l)
      : Listener(io, "http", l.max_connections), handler(std::move(h)), observer(std::move(o)), limits(l) {}
  void on_accept(tcp::socket socket) override;
  Handler handler;
  Observer observer;
  HttpLimits limits;
};

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

class Session : public kaillera::http::Listener::Connection, public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, std::shared_ptr<HttpServer::Impl> owner)
      : stream_(std::move(socket)), owner_(std::move(owner)) {
    owner_->add(this);
    beast::error_code ec;
    const auto remote = stream_.socket().remote_endpoint(ec);
    if (!ec && remote.address().is_v4()) remote_ip_ = remote.address().to_v4().to_uint();
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
    parser_->header_limit(static_cast<std::uint32_t>(owner_->limits.header_bytes));
    parser_->body_limit(owner_->limits.body_bytes);
    buffer_.max_size(owner_->limits.header_bytes + owner_->limits.body_bytes);
    stream_.expires_after(owner_->limits.idle_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (owner_->stopped() || ec == asio::error::operation_aborted) {
      close();
      return;
    }
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == asio::error::connection_reset || ec == asio::error::eof) {
      if (ec == beast::error::timeout && buffer_.size() > 0) {
        send_error(408, "request timeout");
      } else {
        close();
      }
      return;
    }
    if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
      send_error(431, "request line and headers longer than " + std::to_string(owner_->limits.header_bytes) +
                          " bytes");
      return;
    }
    if (ec == http::error::body_limit) {
      send_error(413, "request body longer than " + std::to_string(owner_->limits.body_bytes) + " bytes");
      return;
    }
    if (ec) {
      send_error(400, "malformed HTTP request (" + ec.message() + ")");
      return;
    }
    const auto& msg = parser_->get();
    ++served_;
    HttpRequest req;
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    req.remote_ip = remote_ip_;
    req.body = msg.body();
    for (const auto& field : msg) {
      req.headers.emplace_back(
          lower(std::string_view(field.name_string().data(), field.name_string().size())),
          std::string(field.value()));
    }
    const bool keep_alive = msg.keep_alive() && served_ < owner_->limits.requests_per_connection;
    HttpResponse res;
    try {
      res = owner_->handler(req);
    } catch (const std::exception& e) {
      spdlog::error("http: {} {}: {}", req.method, req.target.substr(0, 200), e.what());
      res = error_response(500, "internal error");
    }
    const unsigned version = msg.version();
    const bool head = msg.method() == http::verb::head;
    if (res.deferred) {
      // Answered later from another thread: hop back onto this connection's executor to write.
      auto deferred = std::move(res.deferred);
      auto self = shared_from_this();
      deferred([self, version, keep_alive, head](HttpResponse late) {
        asio::post(self->stream_.get_executor(),
                   [self, late = std::move(late), version, keep_alive, head]() mutable {
                     if (self->owner_->stopped()) {
                       self->close();
                       return;
                     }
                     const bool keep = keep_alive && late.status < 500;
                     self->respond(std::move(late), version, keep, head);
                   });
      });
      return;
    }
    const bool keep = keep_alive && res.status < 500;
    respond(std::move(res), version, keep, head);
  }

  void send_error(int status, std::string message) {
    respond(error_response(status, message), 11, false, false);
  }

  void respond(HttpResponse res, unsigned version, bool keep_alive, bool head) {
    if (owner_->observer) owner_->observer(res.status);
    res_ = std::move(res);
    out_ = {};
    out_.result(static_cast<unsigned>(res_.status));
    out_.version(version == 10 ? 10 : 11);
    out_.set(http::field::server, "kaillera-master/" KF_VERSION);
    out_.set(http::field::content_type, res_.content_type);
    for (const auto& [k, v] : res_.headers)
      out_.set(k, v);
    out_.keep_alive(keep_alive);
    const std::string_view payload = res_.payload();
    out_.content_length(payload.size());
    if (!head) out_.body() = http::span_body<const char>::value_type(payload.data(), payload.size());
    keep_alive_ = keep_alive;
    stream_.expires_after(owner_->limits.idle_timeout);
    http::async_write(stream_, out_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec || self->owner_->stopped()) {
        self->close();
      } else if (!self->keep_alive_) {
        self->linger();
      } else {
        self->read();
      }
    });
  }

  // Closes our side, then reads and drops what the client still sends (bounded in bytes and time) before
  // closing: closing a socket with unread data would send a reset that can destroy the response in flight.
  void linger() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(std::chrono::seconds(1));
    drain();
  }
  void drain() {
    stream_.async_read_some(asio::buffer(drain_),
                            [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                              self->drained_ += n;
                              if (ec || self->drained_ > 1024 * 1024 || self->owner_->stopped()) {
                                self->close();
                                return;
                              }
                              self->drain();
                            });
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  HttpResponse res_;  // owns what out_ points into until the write completes
  http::response<http::span_body<const char>> out_;
  std::shared_ptr<HttpServer::Impl> owner_;
  std::uint32_t remote_ip_ = 0;
  std::size_t served_ = 0;
  bool keep_alive_ = false;
  std::array<char, 4096> drain_{};
  std::size_t drained_ = 0;
};

}  // namespace

void HttpServer::Impl::on_accept(tcp::socket socket) {
  std::make_shared<Session>(std::move(socket), std::static_pointer_cast<Impl>(shared_from_this()))->start();
}

HttpServer::HttpServer(asio::io_context& io, const net::Endpoint& at, Handler handler, Observer observer,
                       HttpLimits limits)
    : impl_(std::make_shared<Impl>(io, std::move(handler), std::move(observer), limits)) {
  impl_->listen(at);
}

HttpServer::~HttpServer() {
  stop();
}

net::Endpoint HttpServer::local() const {
  return impl_->local();
}

void HttpServer::stop() {
  impl_->stop();
}

}  // namespace kaillera::master
