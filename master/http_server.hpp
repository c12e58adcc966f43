// A small HTTP/1.1 server (Boost.Beast) on an io_context: reads bounded requests, hands them to a Handler
// (http_routes.hpp) and writes the answer. Malformed or oversized requests get a precise 4xx and the
// connection closes; nothing on the network can stop the process.
#pragma once

#include <utility>  // before Asio (TOOLCHAIN.md)

#include <functional>
#include <memory>

#include <boost/asio/io_context.hpp>

#include "common/net/address.hpp"
#include "master/http_routes.hpp"

namespace kaillera::master {

struct HttpLimits {
  std::size_t header_bytes =
      64 * 1024;  // request line + headers (touch requests carry game lists in headers)
  std::size_t body_bytes = 4 * 1024;
  std::size_t max_connections = 1024;
  std::size_t requests_per_connection = 1000;
  std::chrono::milliseconds idle_timeout{10'000};
};

class HttpServer {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;
  using Observer = std::function<void(int status)>;  // every response's status (for metrics)

  // Binds and listens; throws std::system_error when it cannot.
  HttpServer(boost::asio::io_context& io, const net::Endpoint& at, Handler handler, Observer observer = {},
             HttpLimits limits = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  net::Endpoint local() const;
  void stop();

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace kaillera::master
