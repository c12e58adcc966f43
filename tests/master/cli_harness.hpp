// Shared by the tests that run the real `kaillera` binary against the real kaillera-master (test_list_cli,
// test_pick_cli): running the CLI with stdout and stderr apart, and issuing a relay token. Needs
// KF_CLIENT_BIN and KF_MASTER_BIN.
#pragma once

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
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

// A TCP port on 127.0.0.1 that nobody serves: bound (so no one else takes it) and, with `listen`, accepting
// connections into the backlog without ever answering — a master that hangs.
class DeadPort {
 public:
  explicit DeadPort(bool listen) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error("socket failed");
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) throw std::runtime_error("bind failed");
    if (listen && ::listen(fd_, 16) != 0) throw std::runtime_error("listen failed");
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
  }
  ~DeadPort() { ::close(fd_); }
  DeadPort(const DeadPort&) = delete;
  DeadPort& operator=(const DeadPort&) = delete;
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

}  // namespace kf_master_test
