// `kaillera pick`: asks a master's gRPC Directory.PickRelay for the fairest relay for a group of players
// (DESIGN.md data flow 5) and renders the answer as a table for people or as JSON. The header carries no
// gRPC types, so main.cpp stays light; pick_client.cpp talks gRPC.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace kaillera::client {

// A player's own measurement of a listed server (PickRequest.own_measurements).
struct OwnMeasurement {
  std::string player;  // IPv4, one of the players
  std::string host;    // the server as listed
  std::uint32_t port = 0;
  std::optional<std::uint32_t> hops;
  std::uint32_t rtt_ms = 0;  // 0 = unknown
};

struct PickQuery {
  std::vector<std::string> players;  // as given: the master checks them
  std::string group;                 // a pick group's code; its members join the players
  std::string objective;             // "hops", "latency", "balanced"; empty = the master's default
  std::uint32_t deadline_ms = 0;     // how long the master waits for probes; 0 = its default
  std::vector<OwnMeasurement> own;
};

struct PickResult {
  bool ok = false;
  bool invalid_argument = false;  // the master refused the request as malformed (INVALID_ARGUMENT)
  std::string error;              // when !ok: why, naming the master where that helps
  std::string json;               // when ok: see pick_client.cpp (the shape of POST /api/v1/pick)
  std::string table;              // when ok: for people
};

// Calls Directory.PickRelay on `master` (HOST:PORT, plaintext), giving up after `timeout` (connecting
// included).
PickResult pick_relay(const std::string& master, const PickQuery& query, std::chrono::milliseconds timeout);

// "hops", "latency", "balanced" (or nullopt): the proto's Objective number.
std::optional<int> objective_number(const std::string& name);

}  // namespace kaillera::client
