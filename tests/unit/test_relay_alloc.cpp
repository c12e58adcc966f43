// "No allocation per datagram on the game-data path" (issue: relay architecture), checked by counting calls
// to the global operator new while a warmed-up 2-player game runs through the core. The driver builds its
// datagrams in fixed buffers and its sink only counts, so every allocation seen is the core's.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>

// The replacement operator new below uses malloc; GCC cannot see that the pairing is consistent.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

#include "tests/support/core_game.hpp"

namespace {
std::atomic<std::uint64_t> g_allocations{0};
}  // namespace

void* operator new(std::size_t n) {
  ++g_allocations;
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}

TEST(RelayAllocations, SteadyGameDataPathAllocatesNothing) {
  kf_support::CoreGame game;
  ASSERT_EQ(game.server().counters().games_started, 1u);
  for (int f = 0; f < 3000; ++f)
    game.frame();  // warm-up: buffers reach their working size
  const auto out_before = game.server().counters().game_data_out;
  const auto allocations_before = g_allocations.load();
  for (int f = 0; f < 3000; ++f)
    game.frame();
  const auto allocations = g_allocations.load() - allocations_before;
  EXPECT_EQ(game.server().counters().game_data_out - out_before, 6000u);  // every frame relayed to both
  EXPECT_GT(game.server().counters().cache_hits_out, 0u);
  EXPECT_EQ(allocations, 0u);
}

// The lag statistics on the same path: frames late by 40 ms every tenth (each a late frame in the window, the
// histogram and the cause's counts), over 100 s so that the window's slots are reused.
TEST(RelayAllocations, LateFramesCountedInTheLagWindowAllocateNothing) {
  kf_support::CoreGame game;
  for (int f = 0; f < 3000; ++f)
    game.frame();
  const auto allocations_before = g_allocations.load();
  const auto late_before = game.server().counters().frame_wait_hist[4];
  for (int f = 0; f < 6000; ++f)
    game.frame(std::chrono::microseconds(f % 10 == 0 ? 56667 : 16667));
  EXPECT_EQ(game.server().counters().frame_wait_hist[4] - late_before, 600u);  // 40 ms: in (33, 67]
  EXPECT_EQ(g_allocations.load() - allocations_before, 0u);
}
