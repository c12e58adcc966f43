// Runs N frames of a 2-player LAN game through the relay core and exits: the program to count under
// `valgrind --tool=callgrind` (instructions are repeatable here, seconds are not). Usage: relay_core_frames N
#include <cstdio>
#include <cstdlib>

#include "tests/support/core_game.hpp"

int main(int argc, char** argv) {
  const long frames = argc > 1 ? std::atol(argv[1]) : 10000;
  kf_support::CoreGame game;
  for (long i = 0; i < frames; ++i)
    game.frame();
  std::printf("frames %ld relayed %llu\n", frames,
              static_cast<unsigned long long>(game.server().counters().game_data_out));
  return 0;
}
