#include "client/udp_driver.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <string>

namespace kaillera::client {

struct UdpDriver::Entry final : Sink {
  Agent* agent = nullptr;
  net::UdpSocket socket;
  DriverResult* totals = nullptr;
  void send(const net::Endpoint& to, Bytes data) override {
    ++totals->datagrams_out;
    if (!socket.send_to(to, data)) ++totals->send_failures;
  }
};

UdpDriver::UdpDriver(DriverOptions options) : options_(options) {}
UdpDriver::~UdpDriver() = default;

std::string UdpDriver::add(Agent& agent) {
  auto e = std::make_unique<Entry>();
  e->agent = &agent;
  if (auto err = e->socket.open(options_.bind, 32, 2048); !err.empty()) return err;
  entries_.push_back(std::move(e));
  return {};
}

DriverResult UdpDriver::run() {
  DriverResult result;
  for (auto& e : entries_)
    e->totals = &result;
  const auto begin = Clock::now();
  const auto deadline = begin + options_.deadline;
  std::vector<pollfd> fds(entries_.size());
  for (std::size_t i = 0; i < entries_.size(); ++i)
    fds[i] = pollfd{entries_[i]->socket.fd(), POLLIN, 0};
  auto next_tick = begin;
  for (;;) {
    auto now = Clock::now();
    if (now >= next_tick) {
      for (auto& e : entries_) {
        if (!e->agent->finished()) e->agent->on_tick(now, *e);
      }
      next_tick = now + options_.tick;
    }
    const bool all_done =
        std::all_of(entries_.begin(), entries_.end(), [](const auto& e) { return e->agent->finished(); });
    if (all_done) break;
    if (now >= deadline) {
      result.timed_out = true;
      break;
    }
    const auto wait = std::chrono::duration_cast<Millis>(std::min(next_tick, deadline) - now).count();
    const int ready = ::poll(fds.data(), fds.size(), static_cast<int>(std::max<long long>(wait, 0)));
    if (ready <= 0) continue;
    now = Clock::now();
    for (std::size_t i = 0; i < entries_.size(); ++i) {
      if ((fds[i].revents & POLLIN) == 0) continue;
      Entry& e = *entries_[i];
      for (;;) {
        auto batch = e.socket.receive_batch();
        if (batch.empty()) break;
        result.datagrams_in += batch.size();
        for (const auto& d : batch) {
          if (!e.agent->finished()) e.agent->on_datagram(d.from, d.data, now, e);
        }
      }
    }
  }
  result.seconds = std::chrono::duration<double>(Clock::now() - begin).count();
  return result;
}

std::optional<net::Endpoint> resolve_endpoint(std::string_view text) {
  if (auto e = net::parse_endpoint(text)) return e;
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  const std::string host(text.substr(0, colon));
  auto port_only = net::parse_endpoint("0.0.0.0" + std::string(text.substr(colon)));
  if (!port_only) return std::nullopt;
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* res = nullptr;
  if (::getaddrinfo(host.c_str(), nullptr, &hints, &res) != 0 || res == nullptr) return std::nullopt;
  const auto* sin = reinterpret_cast<const sockaddr_in*>(res->ai_addr);
  net::Endpoint e{ntohl(sin->sin_addr.s_addr), port_only->port};
  ::freeaddrinfo(res);
  return e;
}

}  // namespace kaillera::client
