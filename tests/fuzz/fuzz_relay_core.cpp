// libFuzzer target: datagrams from the network into a relay core that has two players in a running game.
// The input is split into datagrams (a length byte each); each goes to the game port from one of the two
// players' addresses, or to the handshake port from a stranger. Nothing may crash or read out of bounds,
// and the game must still be counted as running afterwards.
#include <cstdint>
#include <cstdlib>

#include "tests/support/core_game.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  kf_support::CoreGame game;
  for (int i = 0; i < 10; ++i)
    game.frame();
  kf_support::CountingSink sink;
  auto now = kf_support::r::TimePoint{} + std::chrono::hours(2);
  std::size_t pos = 0;
  while (pos < size) {
    const std::size_t len = std::min<std::size_t>(data[pos], size - pos - 1);
    const std::uint8_t route = pos + 1 < size ? data[pos + 1] : 0;
    const kaillera::proto::Bytes d(data + pos + 1, len);
    pos += 1 + len;
    const kaillera::net::Endpoint from = route % 3 == 0   ? kaillera::net::Endpoint{0xCB007101, 5000}
                                         : route % 3 == 1 ? kaillera::net::Endpoint{0xC6336402, 5001}
                                                          : kaillera::net::Endpoint{0xC0000201, 7};
    game.server().on_datagram(route % 2 ? 27888 : 27889, from, 64, d, now, sink);
    now += std::chrono::milliseconds(route % 50);
    game.server().on_tick(now, sink);
  }
  if (game.server().counters().games_started != 1) std::abort();
  return 0;
}
