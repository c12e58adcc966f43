// `kaillera load`: drives G concurrent 2-player LAN games against a relay, each player sending 60 input
// packets a second open-loop (as a load generator must, so the relay's speed cannot slow the offered load),
// and measures, for every frame, the time from the later of the two players' inputs to the arrival of the
// relayed block at each player: the relay-added latency, kernel included.
//
// Lean on purpose: players are small state machines on the codec, one socket each on their own loopback
// address (127.1.x.y), one thread, epoll. A frame is on time when its block arrives within one frame period
// (16.7 ms) of the later input.
//
// A relay may refuse a game: TOO at the handshake, a ConnectionRejected (0x16) at login, or an "Error" room
// line in answer to the start. Such a game is counted as refused, by where, and its other player leaves; it
// is not a failure. A game that neither starts nor is refused within the set-up timeout has failed.
//
// Two ways to load: all games at once (the default: every game set up, then all started together and measured
// after a warm-up), or a ramp (`ramp_games_per_second` > 0): a new game every 1/rate seconds, each starting
// as soon as its room is full and playing from then to the end, so the run passes a relay's ceiling and shows
// what its admitted games keep while it refuses the rest. A ramp measures every frame of every admitted game.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/net/address.hpp"

namespace kaillera::client {

struct LoadOptions {
  net::Endpoint server;  // the relay's handshake endpoint
  std::uint32_t games = 10;
  double seconds = 10;        // measured play time, after every game has started
  double warmup_seconds = 2;  // played but not measured
  double setup_timeout = 60;  // logins and rooms must be ready by then
  std::uint32_t bytes_per_frame = 2;
  bool use_cache = false;            // n02 never sends 0x13; SupraClient can
  int relay_pid = 0;                 // when set: the relay's CPU use is read from /proc
  double ramp_games_per_second = 0;  // > 0: open games at this rate instead of all at once
};

// Where a relay refused a game.
struct Refusals {
  std::uint32_t hello = 0;  // TOO to the handshake
  std::uint32_t login = 0;  // ConnectionRejected (0x16) with its reason
  std::uint32_t start = 0;  // an "Error" room line in answer to StartGame
  std::uint32_t total() const { return hello + login + start; }
};

struct LoadResult {
  bool ok = false;
  std::string error;
  std::uint32_t games = 0, games_started = 0;
  Refusals refused;                // games the relay refused, by where
  std::uint32_t games_failed = 0;  // neither started nor refused within the set-up timeout
  std::string first_refusal;       // the relay's reason, as the first refused login or start gave it
  bool ramp = false;
  double seconds = 0;
  std::uint64_t inputs_sent = 0;      // input packets sent in the measured window
  std::uint64_t blocks_received = 0;  // relayed blocks received in the measured window
  std::uint64_t blocks_expected = 0;  // 2 per frame both players sent in the window
  std::uint64_t on_time = 0;
  std::uint64_t mismatches = 0;     // a block whose bytes are not the two inputs of its frame
  std::uint64_t lost_for_good = 0;  // server seqs the players never got
  double p50_us = 0, p90_us = 0, p99_us = 0, p999_us = 0, max_us = 0;
  double relay_cpu_percent = -1;       // of one core, over the measured window
  double relay_cpu_us_per_input = -1;  // relay CPU per input packet relayed
  // Of which in user space and in the kernel, as /proc counts them: in clock ticks the kernel charges to one
  // side or the other, which on a VM can be far off (docs/BENCHMARKS.md: use callgrind for the user side).
  double relay_user_us_per_input = -1;
  double relay_sys_us_per_input = -1;
};

LoadResult run_load(const LoadOptions& options);
std::string to_json(const LoadResult& r);
std::string to_text(const LoadResult& r);

}  // namespace kaillera::client
