// libFuzzer target: any datagram through the bundle parser and every message decoder. Decoded messages are
// re-encoded and decoded again; the two encodings must be identical (one field list drives both directions).
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "common/kaillera/bundle.hpp"
#include "common/kaillera/game_cache.hpp"

namespace p = kaillera::proto;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const p::Bytes in(data, size);
  auto b = p::parse_bundle(in);
  if (!b) return 0;
  p::ReceiveWindow w;
  (void)w.accept(*b);
  p::GameDataCache cache;
  for (const auto& raw : b->view()) {
    auto m = p::decode_body(raw.type, raw.body);
    if (!m) continue;
    if (auto* gd = std::get_if<p::GameData>(&*m)) p::cache_for_send(cache, gd->data);
    if (auto* cd = std::get_if<p::CachedGameData>(&*m)) (void)cache.at(cd->index);
    std::vector<std::uint8_t> first(raw.body.size() + 64);
    auto n = p::encode(*m, first);
    if (!n) std::abort();  // whatever decoded must encode in no more than its own size (+ a drop byte)
    auto again = p::decode_body(first[0], p::Bytes(first).subspan(1, *n - 1));
    if (!again) std::abort();
    std::vector<std::uint8_t> second(first.size());
    auto n2 = p::encode(*again, second);
    if (!n2 || *n2 != *n || std::memcmp(first.data(), second.data(), *n) != 0) std::abort();
  }
  return 0;
}
