// Announces the relay to the classic public server lists (`announce` URLs, KAILLERA.md §7): a touch request
// to every list `first` after start, then every `interval`.
//
// It runs on its own thread with its own Asio io_context and never blocks the caller: the relay's game thread
// only publish()es its load into a mutex-protected slot (once a second). Each list has its own loop, so a
// list that is down, slow or answering errors delays nobody, not even the other lists: every exchange is
// bounded by `timeout` (connect, request and response together) and the response body by `body_limit`. A
// failed touch is retried at the next tick; the outcome of each touch is counted by list kind, and a list's
// state (ok / failing how) is logged once per change, not every minute.
//
// Plain http:// only; parse_list_url() refuses https:// at start-up.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "relay/announce/touch.hpp"

namespace kaillera::relay::announce {

enum class Outcome : std::uint8_t {
  kOk = 0,             // a 2xx answer
  kHttpError = 1,      // another status, or no valid HTTP response on an open connection
  kTimeout = 2,        // no complete answer within the timeout
  kConnectFailed = 3,  // the name did not resolve or the connection was refused
};
inline constexpr std::size_t kOutcomes = 4;
// "ok", "http_error", "timeout", "connect_failed" (the metrics label).
std::string_view outcome_name(Outcome o);

// Touches by list kind and outcome; written by the announcer's thread, read by the metrics endpoint.
class AnnounceCounters {
 public:
  void add(ListKind kind, Outcome outcome) {
    cells_[index(kind, outcome)].fetch_add(1, std::memory_order_relaxed);
  }
  std::uint64_t get(ListKind kind, Outcome outcome) const {
    return cells_[index(kind, outcome)].load(std::memory_order_relaxed);
  }

 private:
  static std::size_t index(ListKind k, Outcome o) {
    return static_cast<std::size_t>(k) * kOutcomes + static_cast<std::size_t>(o);
  }
  std::array<std::atomic<std::uint64_t>, kListKinds * kOutcomes> cells_{};
};

struct AnnouncerOptions {
  std::vector<ListUrl> lists;
  Identity identity;
  std::chrono::milliseconds first{10000};
  std::chrono::milliseconds interval{60000};
  std::chrono::milliseconds timeout{10000};
  std::size_t body_limit = 16 * 1024;
};

class Announcer {
 public:
  explicit Announcer(AnnouncerOptions options);
  ~Announcer();  // stops
  Announcer(const Announcer&) = delete;
  Announcer& operator=(const Announcer&) = delete;

  void start();
  void stop();

  // The newest load (users, games, waiting games) and the roms of games started since the previous call; the
  // started ones accumulate until a touch of each touch_server.php list has carried them (at most the newest
  // 64 are kept). Never blocks on the network.
  void publish(std::uint32_t users, std::uint32_t games, std::vector<WaitingGame> waiting,
               std::vector<std::string> started);

  const AnnounceCounters& counters() const { return counters_; }

  struct Impl;

 private:
  AnnounceCounters counters_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kaillera::relay::announce
