// IPv4 endpoints (Kaillera clients speak IPv4 only) as plain values: hashable, printable, parseable.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace kaillera::net {

struct Endpoint {
  std::uint32_t ip = 0;  // host byte order
  std::uint16_t port = 0;
  friend bool operator==(const Endpoint&, const Endpoint&) = default;
  std::uint64_t key() const { return (static_cast<std::uint64_t>(ip) << 16) | port; }
};

// "a.b.c.d" in host order, or nullopt.
std::optional<std::uint32_t> parse_ipv4(std::string_view text);
// "a.b.c.d:port" (port 0..65535); "host" alone when default_port is given.
std::optional<Endpoint> parse_endpoint(std::string_view text, std::optional<std::uint16_t> default_port = {});
std::string ip_to_string(std::uint32_t ip);
std::string to_string(const Endpoint& e);

// 127.0.0.0/8
constexpr bool is_loopback(std::uint32_t ip) {
  return (ip >> 24) == 127;
}
// 10/8, 172.16/12, 192.168/16 (and loopback): what n02 skips when pinging a list.
constexpr bool is_private(std::uint32_t ip) {
  return (ip >> 24) == 10 || (ip >> 20) == ((172u << 4) | 1u) || (ip >> 16) == ((192u << 8) | 168u) ||
         is_loopback(ip);
}

struct EndpointHash {
  std::size_t operator()(const Endpoint& e) const { return std::hash<std::uint64_t>()(e.key()); }
};

}  // namespace kaillera::net
