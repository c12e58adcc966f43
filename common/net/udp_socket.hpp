// A non-blocking IPv4 UDP socket that receives and sends in batches (recvmmsg/sendmmsg) and reports the IP
// TTL of every received datagram (IP_RECVTTL). Plain POSIX: the relay's Asio shell waits for readability on
// native_handle() and then calls receive_batch (Asio's async_receive_from would hide the TTL).
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/net/address.hpp"

namespace kaillera::net {

struct ReceivedDatagram {
  Endpoint from;
  std::uint8_t ttl = 0;         // 0 when the kernel gave none
  std::int64_t rx_time_ns = 0;  // kernel receive time (CLOCK_REALTIME) when timestamps are on, else 0
  std::span<const std::uint8_t> data;
};

struct OutgoingDatagram {
  Endpoint to;
  std::span<const std::uint8_t> data;
};

class UdpSocket {
 public:
  UdpSocket() = default;
  ~UdpSocket();
  UdpSocket(const UdpSocket&) = delete;
  UdpSocket& operator=(const UdpSocket&) = delete;
  UdpSocket(UdpSocket&& o) noexcept;
  UdpSocket& operator=(UdpSocket&& o) noexcept;

  // Binds to `local` (port 0 = any). Returns an empty string or the error text.
  std::string open(const Endpoint& local, std::size_t batch = 64, std::size_t max_datagram = 2048);

  // Asks the kernel to stamp every received datagram with its arrival time (SO_TIMESTAMPNS): for latency
  // measurements that must not include the reader's own scheduling delay.
  bool enable_timestamps();

  // Receives up to `batch` waiting datagrams without blocking. The spans stay valid until the next call.
  std::span<const ReceivedDatagram> receive_batch();

  // Sends the datagrams; returns how many the kernel took (the rest would block or failed).
  std::size_t send_batch(std::span<const OutgoingDatagram> out);
  bool send_to(const Endpoint& to, std::span<const std::uint8_t> data);

  int fd() const { return fd_; }
  // Datagrams larger than the receive buffer, dropped by receive_batch (for the caller's counters).
  std::uint64_t truncated() const { return truncated_; }
  // Datagrams the kernel dropped because the receive buffer was full (SO_RXQ_OVFL). The kernel stamps its
  // count on the datagrams it queues after a drop, so drops show here with the next datagram read.
  std::uint64_t kernel_drops() const { return kernel_drops_; }
  Endpoint local() const { return local_; }

 private:
  void close();
  int fd_ = -1;
  Endpoint local_;
  std::size_t batch_ = 0;
  std::uint64_t truncated_ = 0;
  std::uint64_t kernel_drops_ = 0;
  std::size_t max_datagram_ = 0;
  std::vector<std::uint8_t> buffers_;
  std::vector<std::uint8_t> controls_;
  std::vector<ReceivedDatagram> received_;
  std::vector<mmsghdr> msgs_;
  std::vector<iovec> iovs_;
  std::vector<sockaddr_in> addrs_;
  std::size_t filled_ = 0;  // headers the last recvmmsg filled (receive_batch resets those)
};

}  // namespace kaillera::net
