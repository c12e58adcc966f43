// A small HTTP/1.1 server on 127.0.0.1 for the mirroring tests: it plays another master's public list. Each
// target ("/server_list.php", "/raw_server_list2.php?wg=1", ...) answers what the test set for it; it can
// also answer a body that never ends, answer nothing at all, or disappear (close its listening socket). One
// thread per connection; the destructor stops and joins them all. Every wait inside is bounded.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace kf_master_test {

class ListServer {
 public:
  enum class Mode {
    kBody,     // status, Content-Type and body, with Content-Length
    kEndless,  // 200 without a length, then body bytes until the client goes away
    kSilent,   // reads the request and never answers
  };
  struct Answer {
    int status = 200;
    std::string content_type = "text/plain";
    std::string body;
    Mode mode = Mode::kBody;
  };

  ListServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error("socket failed");
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_, 16) != 0)
      throw std::runtime_error("bind/listen failed");
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    accept_thread_ = std::thread([this] { accept_loop(); });
  }
  ~ListServer() { stop(); }
  ListServer(const ListServer&) = delete;
  ListServer& operator=(const ListServer&) = delete;

  std::uint16_t port() const { return port_; }
  std::string url(const std::string& target) const {
    return "http://127.0.0.1:" + std::to_string(port_) + target;
  }

  void set(const std::string& target, Answer a) {
    std::lock_guard lock(mu_);
    answers_[target] = std::move(a);
  }
  // Requests seen for `target` so far.
  int requests(const std::string& target) {
    std::lock_guard lock(mu_);
    return count_[target];
  }

  // Requests whose target starts with `prefix` (a path whose query string varies, like a touch request's).
  int requests_starting(const std::string& prefix) {
    std::lock_guard lock(mu_);
    int n = 0;
    for (const auto& [target, count] : count_)
      if (target.rfind(prefix, 0) == 0) n += count;
    return n;
  }

  // The list disappears: nothing listens on its port any more (connections are refused).
  void stop() {
    if (stop_.exchange(true)) return;
    accept_thread_.join();
    ::close(fd_);
    std::vector<std::thread> threads;
    {
      std::lock_guard lock(mu_);
      threads.swap(threads_);
    }
    for (auto& t : threads)
      t.join();
  }

 private:
  void accept_loop() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      std::lock_guard lock(mu_);
      threads_.emplace_back([this, c] { serve(c); });
    }
  }

  // Waits up to 20 ms for the socket to be readable; false when stopping.
  bool readable(int c) {
    while (!stop_) {
      pollfd p{c, POLLIN, 0};
      if (::poll(&p, 1, 20) > 0) return true;
    }
    return false;
  }

  bool send_all(int c, const std::string& data) {
    std::size_t off = 0;
    while (off < data.size() && !stop_) {
      pollfd p{c, POLLOUT, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      const ssize_t n = ::send(c, data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<std::size_t>(n);
    }
    return off == data.size();
  }

  void serve(int c) {
    std::string request;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (request.find("\r\n\r\n") == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      if (!readable(c)) break;
      char buf[4096];
      const ssize_t n = ::recv(c, buf, sizeof buf, 0);
      if (n <= 0) break;
      request.append(buf, static_cast<std::size_t>(n));
    }
    const auto sp1 = request.find(' ');
    const auto sp2 = request.find(' ', sp1 + 1);
    const std::string target =
        sp1 == std::string::npos || sp2 == std::string::npos ? "" : request.substr(sp1 + 1, sp2 - sp1 - 1);
    Answer a;
    bool known = false;
    {
      std::lock_guard lock(mu_);
      ++count_[target];
      if (auto it = answers_.find(target); it != answers_.end()) {
        a = it->second;
        known = true;
      }
    }
    if (!known) a = Answer{404, "text/plain", "no such list\n", Mode::kBody};
    switch (a.mode) {
      case Mode::kBody:
        send_all(c, "HTTP/1.1 " + std::to_string(a.status) + " X\r\nContent-Type: " + a.content_type +
                        "\r\nContent-Length: " + std::to_string(a.body.size()) +
                        "\r\nConnection: close\r\n\r\n" + a.body);
        break;
      case Mode::kEndless: {
        if (!send_all(c,
                      "HTTP/1.1 200 OK\r\nContent-Type: " + a.content_type + "\r\nConnection: close\r\n\r\n"))
          break;
        const std::string chunk(64 * 1024, 'x');
        while (!stop_ && send_all(c, chunk)) {
        }
        break;
      }
      case Mode::kSilent:
        while (readable(c)) {
          char buf[256];
          if (::recv(c, buf, sizeof buf, 0) <= 0) break;
        }
        break;
    }
    ::shutdown(c, SHUT_RDWR);
    ::close(c);
  }

  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread accept_thread_;
  std::mutex mu_;
  std::map<std::string, Answer> answers_;
  std::map<std::string, int> count_;
  std::vector<std::thread> threads_;
};

}  // namespace kf_master_test
