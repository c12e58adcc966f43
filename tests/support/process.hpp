// Helpers shared by the tests that run real processes on loopback (tests/integration/ and tests/master/):
// bounded polling, a scratch directory, a child process that is always killed and reaped (RAII), running a
// command to completion, and a minimal raw HTTP/1.1 client. Every wait polls with a deadline; nothing sleeps
// and hopes.
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
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace kf_test {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Polls `done` every `step` until it is true or `timeout` passes.
inline bool poll_until(const std::function<bool()>& done, std::chrono::milliseconds timeout,
                       std::chrono::milliseconds step = 5ms) {
  const auto deadline = Clock::now() + timeout;
  while (true) {
    if (done()) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(step);
  }
}

// The lines of a text (a log, a command's output), without their newlines.
inline std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    lines.push_back(line);
  return lines;
}

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/kf-test-XXXXXX";
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
  // A path inside the directory; converts implicitly to std::string where one is wanted.
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// A child process with stdout and stderr in `log` (or stderr apart in `err_log` when one is given), stdin
// from /dev/null. The destructor kills (SIGKILL) and reaps it if it still runs, so a failed assertion never
// leaves a process behind.
class Process {
 public:
  Process(const std::string& program, const std::vector<std::string>& args, const std::filesystem::path& log,
          const std::optional<std::filesystem::path>& err_log = std::nullopt)
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
    if (err_log) {
      posix_spawn_file_actions_addopen(&actions, 2, err_log->c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    } else {
      posix_spawn_file_actions_adddup2(&actions, 1, 2);
    }
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

  // Reaps the process if it has ended. Returns its exit code (128 + signal when killed by one) or nullopt.
  std::optional<int> poll_exit() {
    if (status_) return status_;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    return status_;
  }
  // Waits at most `timeout` for the process to end.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout) {
    poll_until([&] { return poll_exit().has_value(); }, timeout, 5ms);
    return status_;
  }

  // What the process wrote to `log`.
  std::string log() const { return read_file(log_); }

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
  std::filesystem::path log_;
};

struct CommandResult {
  int exit_code = -1;  // -1: did not finish in time
  std::string output;  // stdout and stderr
};

// Runs a command to completion (bounded by `timeout`; killed after it).
inline CommandResult run_command(const std::string& program, const std::vector<std::string>& args,
                                 const std::filesystem::path& log, std::chrono::milliseconds timeout = 20s) {
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

  // The value of header `name` (lower case), or "" when absent.
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

// GET `target` with `extra_headers` (each line ending in "\r\n") and "Connection: close".
inline HttpResponse http_get(std::uint16_t port, const std::string& target,
                             const std::string& extra_headers = "") {
  return http_exchange(port, "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extra_headers +
                                 "Connection: close\r\n\r\n");
}

}  // namespace kf_test
