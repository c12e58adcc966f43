// Micro benchmarks of the relay core (Google Benchmark). Results and the callgrind instruction counts are
// recorded in docs/BENCHMARKS.md.
#include <benchmark/benchmark.h>

#include "common/kaillera/bundle.hpp"
#include "common/kaillera/game_cache.hpp"
#include "tests/support/core_game.hpp"

namespace p = kaillera::proto;

// One frame of a 2-player LAN game through the core: 2 datagrams in (parse, window, decode, cache), the frame
// assembled, 2 blocks out (cache lookup, outbox, datagram written).
static void BM_RelayFrame2pLan(benchmark::State& state) {
  kf_support::CoreGame game;
  for (int i = 0; i < 1000; ++i)
    game.frame();
  for (auto _ : state)
    game.frame();
  state.SetItemsProcessed(state.iterations());
  state.counters["datagrams_out_per_frame"] =
      static_cast<double>(game.sink().datagrams) / static_cast<double>(state.iterations() + 1000);
}
BENCHMARK(BM_RelayFrame2pLan);

static void BM_ParseGameDataBundle(benchmark::State& state) {
  std::vector<p::Framed> f;
  const std::uint8_t data[24] = {1, 2, 3};
  for (std::uint16_t s = 3; s > 0; --s)
    f.push_back({s, p::GameData{"", p::Bytes(data, 24)}});
  std::vector<std::uint8_t> d(256);
  d.resize(*p::write_bundle(d, f));
  for (auto _ : state) {
    auto b = p::parse_bundle(d);
    auto m = p::decode_as<p::GameData>(b->messages[0].body);
    benchmark::DoNotOptimize(m);
  }
}
BENCHMARK(BM_ParseGameDataBundle);

static void BM_CacheLookupFull(benchmark::State& state) {
  p::GameDataCache c;
  std::uint8_t e[4] = {};
  for (int i = 0; i < 256; ++i) {
    e[0] = static_cast<std::uint8_t>(i);
    c.append(e);
  }
  std::uint8_t miss[4] = {0, 1, 0, 0};
  for (auto _ : state)
    benchmark::DoNotOptimize(c.find(miss));
}
BENCHMARK(BM_CacheLookupFull);

BENCHMARK_MAIN();
