#include <utility>  // before Asio (TOOLCHAIN.md)

#include "common/http/listener.hpp"

#include <chrono>

#include <boost/system/error_code.hpp>
#include <spdlog/spdlog.h>

namespace kaillera::http {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

Listener::Listener(asio::io_context& io, std::string name, std::size_t max_connections)
    : acceptor_(io), retry_(io), name_(std::move(name)), max_connections_(max_connections) {}

void Listener::listen(const net::Endpoint& at) {
  const tcp::endpoint ep(asio::ip::address_v4(at.ip), at.port);
  acceptor_.open(ep.protocol());
  acceptor_.set_option(tcp::acceptor::reuse_address(true));
  acceptor_.bind(ep);
  acceptor_.listen(asio::socket_base::max_listen_connections);
  accept();
}

void Listener::accept() {
  acceptor_.async_accept([self = shared_from_this()](boost::system::error_code ec, tcp::socket socket) {
    if (self->stopped_ || ec == asio::error::operation_aborted) return;
    if (ec) {
      spdlog::warn("{}: accept failed: {}", self->name_, ec.message());
      self->retry_.expires_after(std::chrono::milliseconds(100));
      self->retry_.async_wait([self](boost::system::error_code wait_ec) {
        if (!wait_ec && !self->stopped_) self->accept();
      });
      return;
    }
    if (self->connections_.size() >= self->max_connections_) {
      boost::system::error_code ignored;
      socket.close(ignored);
    } else {
      self->on_accept(std::move(socket));
    }
    self->accept();
  });
}

net::Endpoint Listener::local() const {
  boost::system::error_code ec;
  const auto ep = acceptor_.local_endpoint(ec);
  if (ec) return {};
  return net::Endpoint{ep.address().to_v4().to_uint(), ep.port()};
}

void Listener::stop() {
  if (stopped_) return;
  stopped_ = true;
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  retry_.cancel();
  for (Connection* c : connections_)
    c->close();
}

}  // namespace kaillera::http
