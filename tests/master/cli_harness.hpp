// Shared by the tests that run the real `kaillera` binary against the real kaillera-master (test_list_cli,
// test_pick_cli): running the CLI with stdout and stderr apart, and issuing a relay token. Needs
// KF_CLIENT_BIN and KF_MASTER_BIN.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "tests/master/master_harness.hpp"

namespace kf_master_test {

inline std::chrono::system_clock::time_point deadline(std::chrono::milliseconds ms = 5000ms) {
  return std::chrono::system_clock::now() + ms;
}

struct CliResult {
  int exit_code = -1;  // -1: did not finish in time
  std::string out, err;
  std::chrono::milliseconds took{0};
};

// The `kaillera` binary to completion, stdout and stderr apart; killed and reaped if it overruns.
inline CliResult run_cli(const TempDir& dir, const std::vector<std::string>& args,
                         std::chrono::milliseconds timeout = 30s) {
  static int serial = 0;
  const std::string base = dir / ("cli-" + std::to_string(++serial));
  const auto start = Clock::now();
  Process cli(KF_CLIENT_BIN, args, base + ".out", base + ".err");
  CliResult r;
  r.exit_code = cli.wait_exit(timeout).value_or(-1);
  r.took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  r.out = read_file(base + ".out");
  r.err = read_file(base + ".err");
  return r;
}

// `kaillera-master relay add NAME --db DB`: the token from the last line of its output.
inline std::string add_relay(const TempDir& dir, const std::string& name) {
  const auto r =
      run_command(KF_MASTER_BIN, {"relay", "add", name, "--db", dir / "master.db"}, dir / "relay-add.log");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  const auto end = r.output.find_last_not_of("\n");
  const auto start = r.output.rfind('\n', end);
  std::string token = r.output.substr(start + 1, end - start);
  EXPECT_EQ(token.rfind("kf_", 0), 0u) << r.output;
  return token;
}

}  // namespace kf_master_test
