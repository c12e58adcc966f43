// Helpers for the master's process tests: the shared process, scratch-directory, polling and raw HTTP helpers
// (tests/support/process.hpp, pulled into this namespace), a UDP "Kaillera server" that answers PING with
// PONG, and the kaillera-master binary started on ephemeral loopback ports. Every wait has a deadline;
// nothing sleeps and hopes.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/process.hpp"

namespace kf_master_test {

using namespace std::chrono_literals;
using kf_test::Clock;
using kf_test::CommandResult;
using kf_test::http_exchange;
using kf_test::http_get;
using kf_test::HttpResponse;
using kf_test::lines_of;
using kf_test::poll_until;
using kf_test::Process;
using kf_test::read_file;
using kf_test::run_command;
using kf_test::TempDir;

// A UDP socket on 127.0.0.1 that plays a Kaillera server's handshake port: answers PING\0 with PONG\0 (when
// `answer` is true) from a background thread, and counts the PINGs it saw.
class PongResponder {
 public:
  explicit PongResponder(bool answer = true) : answer_(answer) {
    fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error("socket failed");
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) throw std::runtime_error("bind failed");
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { loop(); });
  }
  ~PongResponder() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  PongResponder(const PongResponder&) = delete;
  PongResponder& operator=(const PongResponder&) = delete;

  std::uint16_t port() const { return port_; }
  int pings() const { return pings_.load(); }

 private:
  void loop() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      char buf[512];
      sockaddr_in from{};
      socklen_t len = sizeof from;
      const ssize_t n = ::recvfrom(fd_, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len);
      if (n == 5 && std::memcmp(buf, "PING\0", 5) == 0) {
        ++pings_;
        if (answer_) ::sendto(fd_, "PONG\0", 5, 0, reinterpret_cast<sockaddr*>(&from), len);
      }
    }
  }
  int fd_ = -1;
  std::uint16_t port_ = 0;
  bool answer_;
  std::atomic<bool> stop_{false};
  std::atomic<int> pings_{0};
  std::thread thread_;
};

#ifdef KF_MASTER_BIN
// kaillera-master on ephemeral loopback ports with a SQLite file in `dir`.
class Master {
 public:
  Master(const TempDir& dir, std::vector<std::string> extra, const std::string& name = "master")
      : ready_(dir / (name + ".ready.json")) {
    std::filesystem::remove(ready_);
    std::vector<std::string> args = {
        "--db",        dir / "master.db", "--grpc",      "127.0.0.1:0",  "--http",
        "127.0.0.1:0", "--check-bind",    "127.0.0.1:0", "--ready-file", ready_};
    args.insert(args.end(), extra.begin(), extra.end());
    process_ = std::make_unique<Process>(KF_MASTER_BIN, args, dir / (name + ".log"));
    const bool ready = poll_until(
        [&] {
          if (process_->poll_exit()) return true;
          const std::string text = read_file(ready_);
          if (text.empty() || text.back() != '\n') return false;
          info_ = nlohmann::json::parse(text, nullptr, false);
          return !info_.is_discarded();
        },
        15s);
    if (!ready || !process_->running()) {
      throw std::runtime_error("kaillera-master did not start:\n" + process_->log());
    }
    http_port_ = info_["http_port"].get<std::uint16_t>();
    grpc_port_ = info_["grpc_port"].get<std::uint16_t>();
  }

  std::uint16_t http_port() const { return http_port_; }
  std::uint16_t grpc_port() const { return grpc_port_; }
  std::string grpc_address() const { return "127.0.0.1:" + std::to_string(grpc_port_); }
  Process& process() { return *process_; }
  std::string log() const { return process_->log(); }

  // SIGTERM, then the exit code (nullopt if it did not stop within `timeout`).
  std::optional<int> stop(std::chrono::milliseconds timeout = 10s) {
    process_->signal(SIGTERM);
    return process_->wait_exit(timeout);
  }

 private:
  std::string ready_;
  std::unique_ptr<Process> process_;
  nlohmann::json info_;
  std::uint16_t http_port_ = 0, grpc_port_ = 0;
};
#endif  // KF_MASTER_BIN

}  // namespace kf_master_test
