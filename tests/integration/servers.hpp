// Starting the real kaillera-relay and kaillera-master binaries for tests: ephemeral loopback ports, read
// back from their --ready-file; each process is stopped by its pid when the handle goes (Process's
// destructor).
#pragma once

#include <algorithm>
#include <nlohmann/json.hpp>

#include "tests/integration/relay_process.hpp"

namespace kf_test {

struct RunningRelay {
  std::unique_ptr<Process> process;
  std::uint16_t handshake_port = 0;
  std::uint16_t game_port = 0;
  std::uint16_t metrics_port = 0;
};

inline RunningRelay start_relay(const TempDir& dir, const std::string& tag,
                                std::vector<std::string> extra = {}) {
  RunningRelay r;
  const auto ready = dir / ("relay-" + tag + ".json");
  std::vector<std::string> args = {"--listen",    "127.0.0.1:0",  "--game-ports", "0",           "--metrics",
                                   "127.0.0.1:0", "--ready-file", ready.string(), "--log-level", "debug"};
  if (std::find(extra.begin(), extra.end(), "--max-users") == extra.end()) {
    args.push_back("--max-users");
    args.push_back("0");
  }
  args.insert(args.end(), extra.begin(), extra.end());
  r.process = std::make_unique<Process>(KF_RELAY_BIN, args, dir / ("relay-" + tag + ".log"));
  poll_until([&] { return std::filesystem::exists(ready) || r.process->poll_exit().has_value(); }, 10s);
  if (!std::filesystem::exists(ready)) return r;
  const auto j = nlohmann::json::parse(read_file(ready));
  r.handshake_port = j.at("handshake_port").get<std::uint16_t>();
  r.game_port = j.at("game_port_first").get<std::uint16_t>();
  r.metrics_port = j.at("metrics_port").get<std::uint16_t>();
  return r;
}

// The value of one metric line ("name value" or "name{labels} value"), or -1.
inline double metric(std::uint16_t port, const std::string& name) {
  const auto res = http_get(port, "/metrics");
  std::istringstream in(res.body);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(name + " ", 0) == 0) return std::stod(line.substr(name.size() + 1));
  }
  return -1;
}

}  // namespace kf_test
