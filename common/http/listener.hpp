// The accept side of a small HTTP/1.1 server on an io_context, shared by the master's HTTP server and the
// relay's metrics endpoint: binds and listens, accepts forever (after an accept error such as EMFILE it
// retries every 100 ms), closes connections beyond `max_connections` at once, and on stop() closes the
// acceptor and every open connection. A server derives from Listener, owns it through a std::shared_ptr and
// turns each accepted socket into a Connection in on_accept(); connections add() themselves while they live.
#pragma once

#include <utility>  // before Asio (TOOLCHAIN.md)

#include <cstddef>
#include <memory>
#include <string>
#include <unordered_set>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/net/address.hpp"

namespace kaillera::http {

class Listener : public std::enable_shared_from_this<Listener> {
 public:
  // An open connection, as stop() sees it.
  class Connection {
   public:
    virtual void close() = 0;

   protected:
    ~Connection() = default;
  };

  // `name` prefixes log lines ("http", "metrics").
  Listener(boost::asio::io_context& io, std::string name, std::size_t max_connections);
  virtual ~Listener() = default;
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  // Binds and listens on `at` (port 0 = ephemeral) and starts accepting; throws std::system_error when it
  // cannot. Call on an object owned by a std::shared_ptr.
  void listen(const net::Endpoint& at);
  net::Endpoint local() const;
  // Stops accepting and closes every open connection.
  void stop();
  bool stopped() const { return stopped_; }

  void add(Connection* c) { connections_.insert(c); }
  void remove(Connection* c) { connections_.erase(c); }

 protected:
  // A new connection within the limit; it is the server's to serve.
  virtual void on_accept(boost::asio::ip::tcp::socket socket) = 0;

 private:
  void accept();

  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer retry_;  // after an accept error such as EMFILE
  std::string name_;
  std::size_t max_connections_;
  std::unordered_set<Connection*> connections_;
  bool stopped_ = false;
};

}  // namespace kaillera::http
