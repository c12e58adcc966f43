#include "common/net/udp_socket.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace kaillera::net {
namespace {

constexpr std::size_t kControlSize =
    CMSG_SPACE(sizeof(int)) + CMSG_SPACE(sizeof(timespec)) + CMSG_SPACE(sizeof(std::uint32_t));

sockaddr_in to_sockaddr(const Endpoint& e) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(e.ip);
  a.sin_port = htons(e.port);
  return a;
}

}  // namespace

UdpSocket::~UdpSocket() {
  close();
}

UdpSocket::UdpSocket(UdpSocket&& o) noexcept {
  *this = std::move(o);
}

UdpSocket& UdpSocket::operator=(UdpSocket&& o) noexcept {
  if (this != &o) {
    close();
    fd_ = o.fd_;
    o.fd_ = -1;
    local_ = o.local_;
    batch_ = o.batch_;
    max_datagram_ = o.max_datagram_;
    buffers_ = std::move(o.buffers_);
    controls_ = std::move(o.controls_);
    received_ = std::move(o.received_);
    truncated_ = o.truncated_;
    kernel_drops_ = o.kernel_drops_;
    msgs_ = std::move(o.msgs_);
    iovs_ = std::move(o.iovs_);
    addrs_ = std::move(o.addrs_);
    filled_ = o.filled_;
  }
  return *this;
}

void UdpSocket::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

std::string UdpSocket::open(const Endpoint& local, std::size_t batch, std::size_t max_datagram) {
  close();
  fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return std::string("socket: ") + std::strerror(errno);
  int one = 1;
  ::setsockopt(fd_, IPPROTO_IP, IP_RECVTTL, &one, sizeof one);
  // The kernel's count of datagrams it dropped because the receive buffer was full, on every datagram.
  ::setsockopt(fd_, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one);
  int bufsize = 4 << 20;
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &bufsize, sizeof bufsize);
  ::setsockopt(fd_, SOL_SOCKET, SO_SNDBUF, &bufsize, sizeof bufsize);
  sockaddr_in a = to_sockaddr(local);
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    std::string err = "bind " + to_string(local) + ": " + std::strerror(errno);
    close();
    return err;
  }
  socklen_t len = sizeof a;
  ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
  local_ = Endpoint{ntohl(a.sin_addr.s_addr), ntohs(a.sin_port)};
  batch_ = batch;
  max_datagram_ = max_datagram;
  buffers_.assign(batch * max_datagram, 0);
  controls_.assign(batch * kControlSize, 0);
  received_.reserve(batch);
  msgs_.assign(batch, mmsghdr{});
  iovs_.resize(batch);
  addrs_.resize(batch);
  // The headers point at their buffers once and for all; receive_batch resets only what the kernel wrote.
  for (std::size_t i = 0; i < batch; ++i) {
    iovs_[i] = {buffers_.data() + i * max_datagram, max_datagram};
    msghdr& h = msgs_[i].msg_hdr;
    h.msg_name = &addrs_[i];
    h.msg_iov = &iovs_[i];
    h.msg_iovlen = 1;
    h.msg_control = controls_.data() + i * kControlSize;
  }
  filled_ = batch;
  return {};
}

bool UdpSocket::enable_timestamps() {
  int one = 1;
  return fd_ >= 0 && ::setsockopt(fd_, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one) == 0;
}

std::span<const ReceivedDatagram> UdpSocket::receive_batch() {
  received_.clear();
  if (fd_ < 0) return {};
  auto& msgs = msgs_;
  auto& addrs = addrs_;
  // recvmmsg rewrote the lengths and flags of the headers it filled last time (only those): a wake-up with
  // one datagram costs one header's reset, not a whole batch's.
  for (std::size_t i = 0; i < filled_; ++i) {
    msghdr& h = msgs[i].msg_hdr;
    h.msg_namelen = sizeof(sockaddr_in);
    h.msg_controllen = kControlSize;
    h.msg_flags = 0;
  }
  filled_ = 0;
  const int n = ::recvmmsg(fd_, msgs.data(), static_cast<unsigned>(batch_), MSG_DONTWAIT, nullptr);
  if (n <= 0) return {};
  filled_ = static_cast<std::size_t>(n);
  for (int i = 0; i < n; ++i) {
    const msghdr& h = msgs[i].msg_hdr;
    if (h.msg_flags & MSG_TRUNC) {  // larger than any valid datagram
      ++truncated_;
      continue;
    }
    ReceivedDatagram d;
    d.from = Endpoint{ntohl(addrs[i].sin_addr.s_addr), ntohs(addrs[i].sin_port)};
    for (cmsghdr* c = CMSG_FIRSTHDR(const_cast<msghdr*>(&h)); c != nullptr;
         c = CMSG_NXTHDR(const_cast<msghdr*>(&h), c)) {
      if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL) {
        int ttl = 0;
        std::memcpy(&ttl, CMSG_DATA(c), sizeof ttl);
        d.ttl = static_cast<std::uint8_t>(ttl);
      } else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
        timespec ts{};
        std::memcpy(&ts, CMSG_DATA(c), sizeof ts);
        d.rx_time_ns = static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
      } else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) {
        std::uint32_t dropped = 0;  // since the socket opened, wrapping at 2^32
        std::memcpy(&dropped, CMSG_DATA(c), sizeof dropped);
        const auto seen = static_cast<std::uint32_t>(kernel_drops_);
        kernel_drops_ += static_cast<std::uint32_t>(dropped - seen);
      }
    }
    d.data = {buffers_.data() + static_cast<std::size_t>(i) * max_datagram_, msgs[i].msg_len};
    received_.push_back(d);
  }
  return received_;
}

std::size_t UdpSocket::send_batch(std::span<const OutgoingDatagram> out) {
  std::size_t sent = 0;
  constexpr std::size_t kChunk = 64;
  mmsghdr msgs[kChunk];
  iovec iovs[kChunk];
  sockaddr_in addrs[kChunk];
  while (sent < out.size()) {
    const std::size_t n = std::min(kChunk, out.size() - sent);
    for (std::size_t i = 0; i < n; ++i) {
      const auto& o = out[sent + i];
      addrs[i] = to_sockaddr(o.to);
      iovs[i] = {const_cast<std::uint8_t*>(o.data.data()), o.data.size()};
      msgs[i] = {};
      msgs[i].msg_hdr.msg_name = &addrs[i];
      msgs[i].msg_hdr.msg_namelen = sizeof(sockaddr_in);
      msgs[i].msg_hdr.msg_iov = &iovs[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    const int r = ::sendmmsg(fd_, msgs, static_cast<unsigned>(n), MSG_DONTWAIT);
    if (r <= 0) {
      // Skip one datagram that the kernel refuses (e.g. unreachable) rather than retrying forever.
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      ++sent;
      continue;
    }
    sent += static_cast<std::size_t>(r);
  }
  return sent;
}

bool UdpSocket::send_to(const Endpoint& to, std::span<const std::uint8_t> data) {
  OutgoingDatagram d{to, data};
  return send_batch(std::span<const OutgoingDatagram>(&d, 1)) == 1;
}

}  // namespace kaillera::net
