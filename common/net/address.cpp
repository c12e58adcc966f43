#include "common/net/address.hpp"

#include <charconv>

namespace kaillera::net {

std::optional<std::uint32_t> parse_ipv4(std::string_view text) {
  std::uint32_t ip = 0;
  const char* p = text.data();
  const char* end = text.data() + text.size();
  for (int i = 0; i < 4; ++i) {
    unsigned octet = 0;
    auto [next, ec] = std::from_chars(p, end, octet);
    if (ec != std::errc() || next == p || next - p > 3 || octet > 255) return std::nullopt;
    ip = (ip << 8) | octet;
    p = next;
    if (i < 3) {
      if (p == end || *p != '.') return std::nullopt;
      ++p;
    }
  }
  if (p != end) return std::nullopt;
  return ip;
}

std::optional<Endpoint> parse_endpoint(std::string_view text, std::optional<std::uint16_t> default_port) {
  const auto colon = text.rfind(':');
  std::string_view host = colon == std::string_view::npos ? text : text.substr(0, colon);
  if (host == "localhost") host = "127.0.0.1";
  auto ip = parse_ipv4(host);
  if (!ip) return std::nullopt;
  if (colon == std::string_view::npos) {
    if (!default_port) return std::nullopt;
    return Endpoint{*ip, *default_port};
  }
  std::string_view port_text = text.substr(colon + 1);
  unsigned port = 0;
  auto [next, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || next != port_text.data() + port_text.size() || port_text.empty() || port > 65535) {
    return std::nullopt;
  }
  return Endpoint{*ip, static_cast<std::uint16_t>(port)};
}

std::string ip_to_string(std::uint32_t ip) {
  return std::to_string(ip >> 24) + "." + std::to_string((ip >> 16) & 255) + "." +
         std::to_string((ip >> 8) & 255) + "." + std::to_string(ip & 255);
}

std::string to_string(const Endpoint& e) {
  return ip_to_string(e.ip) + ":" + std::to_string(e.port);
}

}  // namespace kaillera::net
