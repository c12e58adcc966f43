// Helpers for the master's process tests: a child process that is always killed and reaped (RAII), a scratch
// directory, bounded polling, a raw HTTP client, a UDP "Kaillera server" that answers PING with PONG, and the
// kaillera-master binary started on ephemeral loopback ports. Every wait has a deadline; nothing sleeps and
// hopes.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

extern char** environ;

namespace kf_master_test {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

inline bool poll_until(const std::function<bool()>& done, std::chrono::milliseconds timeout,
                       std::chrono::milliseconds step = 10ms) {
  const auto deadline = Clock::now() + timeout;
  while (true) {
    if (done()) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(step);
  }
}

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/kf-master-test-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// A child process with stdout+stderr in `log`. The destructor kills (SIGKILL) and reaps it if it still runs.
class Process {
 public:
  Process(const std::string& program, const std::vector<std::string>& args, const std::string& log)
      : log_(log) {
    std::vector<std::string> all{program};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    const int rc = ::posix_spawn(&pid_, program.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) throw std::runtime_error("posix_spawn " + program + ": " + std::strerror(rc));
  }
  ~Process() {
    if (running()) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
  }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  bool running() const { return !status_.has_value(); }
  void signal(int sig) const {
    if (running()) ::kill(pid_, sig);
  }
  std::optional<int> poll_exit() {
    if (status_) return status_;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    return status_;
  }
  std::optional<int> wait_exit(std::chrono::milliseconds timeout) {
    poll_until([&] { return poll_exit().has_value(); }, timeout, 5ms);
    return status_;
  }
  std::string log() const { return read_file(log_); }

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
  std::string log_;
};

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

// Runs a command to completion (bounded by `timeout`; killed after it).
inline CommandResult run_command(const std::string& program, const std::vector<std::string>& args,
                                 const std::string& log, std::chrono::milliseconds timeout = 20s) {
  Process p(program, args, log);
  CommandResult r;
  const auto code = p.wait_exit(timeout);
  r.exit_code = code.value_or(-1);
  r.output = p.log();
  return r;
}

struct HttpResponse {
  int status = 0;  // 0: no answer
  std::string head, body;
  std::string header(const std::string& name) const {
    std::istringstream in(head);
    std::string line;
    while (std::getline(in, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      const auto colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string key = line.substr(0, colon);
      for (auto& c : key)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (key == name) {
        std::string v = line.substr(colon + 1);
        while (!v.empty() && v.front() == ' ')
          v.erase(0, 1);
        return v;
      }
    }
    return {};
  }
};

// Sends `request` verbatim to 127.0.0.1:port and reads until the server closes (bounded by `timeout`).
inline HttpResponse http_exchange(std::uint16_t port, const std::string& request,
                                  std::chrono::milliseconds timeout = 5000ms) {
  HttpResponse r;
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return r;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return r;
  }
  std::size_t sent = 0;
  while (sent < request.size()) {
    const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<std::size_t>(n);
  }
  std::string all;
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (::poll(&p, 1, static_cast<int>(std::max<long long>(left, 1))) <= 0) break;
    char buf[8192];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    all.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  const auto split = all.find("\r\n\r\n");
  if (all.rfind("HTTP/1.", 0) != 0 || split == std::string::npos) return r;
  r.head = all.substr(0, split);
  r.body = all.substr(split + 4);
  r.status = std::atoi(all.c_str() + 9);
  return r;
}

inline HttpResponse http_get(std::uint16_t port, const std::string& target,
                             const std::string& extra_headers = "") {
  return http_exchange(port, "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extra_headers +
                                 "Connection: close\r\n\r\n");
}

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
