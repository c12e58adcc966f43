// Runs Sessions or Players against a real relay over UDP on this machine: one non-blocking socket per agent
// (the relay keys sessions by ip:port), poll() for input, a tick every few milliseconds, a bounded deadline.
// The agents stay pure; only this driver reads the clock and touches sockets.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "client/session.hpp"
#include "common/net/address.hpp"
#include "common/net/udp_socket.hpp"

namespace kaillera::client {

struct DriverOptions {
  net::Endpoint bind{0x7F000001, 0};  // 127.0.0.1, any port: each agent gets its own
  Millis tick{2};
  Millis deadline{60000};  // run() gives up after this long
};

struct DriverResult {
  bool timed_out = false;
  double seconds = 0;
  std::uint64_t datagrams_in = 0;
  std::uint64_t datagrams_out = 0;
  std::uint64_t send_failures = 0;
};

class UdpDriver {
 public:
  explicit UdpDriver(DriverOptions options = {});
  ~UdpDriver();
  UdpDriver(const UdpDriver&) = delete;
  UdpDriver& operator=(const UdpDriver&) = delete;

  // Gives `agent` (not owned; it must outlive run()) its own socket. Returns "" or the error text.
  std::string add(Agent& agent);
  // Runs until every agent is finished or the deadline passes.
  DriverResult run();

 private:
  struct Entry;
  DriverOptions options_;
  std::vector<std::unique_ptr<Entry>> entries_;
};

// "HOST:PORT" with HOST a dotted IPv4 address or a name resolved to IPv4 (e.g. localhost).
std::optional<net::Endpoint> resolve_endpoint(std::string_view text);

}  // namespace kaillera::client
