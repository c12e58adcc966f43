// Proves that a Kaillera server answers at an address before the master lists it: sends PING\0 to the address
// (again every resend interval) and reports success once PONG\0 comes back from exactly that ip:port, or
// failure at the deadline. Checks of one address share their PINGs. Runs on an Asio io_context; check() may
// be called from any thread and its callback runs on the io_context's thread.
#pragma once

#include <utility>  // before Asio (TOOLCHAIN.md)

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>

#include <boost/asio/io_context.hpp>

#include "common/net/address.hpp"
#include "master/metrics.hpp"

namespace kaillera::master {

class AddressChecker {
 public:
  using Done = std::function<void(bool pong)>;
  static constexpr std::size_t kMaxInFlight = 4096;

  // Binds the UDP socket; throws std::runtime_error when it cannot.
  AddressChecker(boost::asio::io_context& io, const net::Endpoint& bind, std::chrono::milliseconds timeout,
                 std::chrono::milliseconds resend = std::chrono::milliseconds(500));
  ~AddressChecker();
  AddressChecker(const AddressChecker&) = delete;
  AddressChecker& operator=(const AddressChecker&) = delete;

  // Returns false (and never calls `done`) when kMaxInFlight addresses are being checked already.
  bool check(const net::Endpoint& at, Done done);
  net::Endpoint local() const;
  const CheckerCounters& counters() const;
  void stop();

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace kaillera::master
