#include "common/kaillera/handshake.hpp"

#include <cstring>

namespace kaillera::proto {
namespace {

bool starts_with(std::string_view s, std::string_view p) {
  return s.substr(0, p.size()) == p;
}

Result<std::size_t> put(std::span<std::uint8_t> out, std::string_view a, std::string_view b = {}) {
  if (out.size() < a.size() + b.size() + 1) return Error::kTooLarge;
  std::memcpy(out.data(), a.data(), a.size());
  if (!b.empty()) std::memcpy(out.data() + a.size(), b.data(), b.size());
  out[a.size() + b.size()] = 0;
  return a.size() + b.size() + 1;
}

}  // namespace

Result<Handshake> parse_handshake(Bytes datagram) {
  if (datagram.empty()) return Error::kEmpty;
  std::string_view text = as_chars(datagram);
  if (auto nul = text.find('\0'); nul != std::string_view::npos) text = text.substr(0, nul);

  if (starts_with(text, "HELLOD00D")) {
    std::string_view digits = text.substr(9);
    if (digits.empty() || digits.size() > 5) return Error::kBadPort;
    std::uint32_t port = 0;
    for (char c : digits) {
      if (c < '0' || c > '9') return Error::kBadPort;
      port = port * 10 + static_cast<std::uint32_t>(c - '0');
    }
    if (port == 0 || port > 0xFFFF) return Error::kBadPort;
    return Handshake{HandshakeKind::kHelloD00D, {}, static_cast<std::uint16_t>(port)};
  }
  if (starts_with(text, "HELLO")) return Handshake{HandshakeKind::kHello, text.substr(5), 0};
  if (text == "PING") return Handshake{HandshakeKind::kPing, {}, 0};
  if (text == "PONG") return Handshake{HandshakeKind::kPong, {}, 0};
  if (text == "TOO") return Handshake{HandshakeKind::kToo, {}, 0};
  if (text == "VER") return Handshake{HandshakeKind::kVer, {}, 0};
  return Error::kNotHandshake;
}

Result<std::size_t> write_hello(std::span<std::uint8_t> out, std::string_view version) {
  return put(out, "HELLO", version);
}

Result<std::size_t> write_hellod00d(std::span<std::uint8_t> out, std::uint16_t port) {
  char digits[6];
  int n = 0;
  char rev[6];
  std::uint32_t p = port;
  do {
    rev[n++] = static_cast<char>('0' + p % 10);
    p /= 10;
  } while (p != 0);
  for (int i = 0; i < n; ++i)
    digits[i] = rev[n - 1 - i];
  return put(out, "HELLOD00D", std::string_view(digits, static_cast<std::size_t>(n)));
}

Result<std::size_t> write_simple(std::span<std::uint8_t> out, HandshakeKind kind) {
  switch (kind) {
    case HandshakeKind::kToo:
      return put(out, "TOO");
    case HandshakeKind::kVer:
      return put(out, "VER");
    case HandshakeKind::kPing:
      return put(out, "PING");
    case HandshakeKind::kPong:
      return put(out, "PONG");
    case HandshakeKind::kHello:
      return write_hello(out);
    case HandshakeKind::kHelloD00D:
      break;
  }
  return Error::kNotHandshake;
}

}  // namespace kaillera::proto
