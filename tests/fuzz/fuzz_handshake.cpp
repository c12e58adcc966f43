// libFuzzer target: any datagram through the handshake parser; what parses must write back and parse the
// same.
#include <cstdint>
#include <cstdlib>

#include "common/kaillera/handshake.hpp"

namespace p = kaillera::proto;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto h = p::parse_handshake(p::Bytes(data, size));
  if (!h) return 0;
  std::uint8_t out[2048];
  p::Result<std::size_t> n = p::Error::kEmpty;
  if (h->kind == p::HandshakeKind::kHello) {
    n = p::write_hello(out, h->version);
  } else if (h->kind == p::HandshakeKind::kHelloD00D) {
    n = p::write_hellod00d(out, h->port);
  } else {
    n = p::write_simple(out, h->kind);
  }
  if (!n) std::abort();
  auto back = p::parse_handshake(p::Bytes(out, *n));
  if (!back || back->kind != h->kind || back->port != h->port || back->version != h->version) std::abort();
  return 0;
}
