// Helpers for tests that run the relay on loopback: the shared process, scratch-directory, polling and HTTP
// helpers (tests/support/process.hpp) plus a UDP client with bounded waits. Every wait polls with a deadline;
// nothing sleeps and hopes.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

#include "tests/support/process.hpp"

namespace kf_test {

// A UDP socket on 127.0.0.1 (ephemeral port) that sends to loopback ports and receives with a deadline.
class UdpClient {
 public:
  UdpClient() {
    fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error("socket failed");
    sockaddr_in a = loopback(0);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) throw std::runtime_error("bind failed");
  }
  ~UdpClient() { ::close(fd_); }
  UdpClient(const UdpClient&) = delete;
  UdpClient& operator=(const UdpClient&) = delete;

  void send(std::uint16_t port, const void* data, std::size_t size) const {
    sockaddr_in a = loopback(port);
    ::sendto(fd_, data, size, 0, reinterpret_cast<sockaddr*>(&a), sizeof a);
  }
  void send(std::uint16_t port, const std::string& bytes) const { send(port, bytes.data(), bytes.size()); }

  struct Datagram {
    std::string bytes;
    std::uint16_t from_port = 0;
  };
  // The next datagram, or nullopt after `timeout`.
  std::optional<Datagram> receive(std::chrono::milliseconds timeout) const {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return std::nullopt;
    char buf[8192];
    sockaddr_in from{};
    socklen_t len = sizeof from;
    const ssize_t n = ::recvfrom(fd_, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len);
    if (n < 0) return std::nullopt;
    return Datagram{std::string(buf, static_cast<std::size_t>(n)), ntohs(from.sin_port)};
  }

 private:
  static sockaddr_in loopback(std::uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    return a;
  }
  int fd_ = -1;
};

}  // namespace kf_test
