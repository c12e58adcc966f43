// The raw connect messages of the handshake port (KAILLERA.md §1.1): not v086-framed, ASCII + NUL.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "common/kaillera/bytes.hpp"
#include "common/kaillera/result.hpp"

namespace kaillera::proto {

enum class HandshakeKind : std::uint8_t { kHello, kHelloD00D, kToo, kVer, kPing, kPong };

struct Handshake {
  HandshakeKind kind;
  std::string_view version;  // kHello: the text between HELLO and the NUL (or the end)
  std::uint16_t port = 0;    // kHelloD00D
};

constexpr std::string_view kProtocolVersion = "0.83";

// Parses leniently as real clients send: a trailing NUL is optional (homemade clients omit it, §9.6);
// anything after the first NUL is ignored. HELLOD00D is matched before HELLO.
Result<Handshake> parse_handshake(Bytes datagram);

// True when the first byte says "raw connect message" rather than a v086 bundle (whose first byte is 1..32).
inline bool looks_like_handshake(Bytes datagram) {
  return !datagram.empty() &&
         (datagram[0] == 'H' || datagram[0] == 'P' || datagram[0] == 'T' || datagram[0] == 'V');
}

// Writers return the bytes written (including the NUL) or kTooLarge.
Result<std::size_t> write_hello(std::span<std::uint8_t> out, std::string_view version = kProtocolVersion);
Result<std::size_t> write_hellod00d(std::span<std::uint8_t> out, std::uint16_t port);
Result<std::size_t> write_simple(std::span<std::uint8_t> out, HandshakeKind kind);  // TOO, VER, PING, PONG

}  // namespace kaillera::proto
