#include "master/address_checker.hpp"

#include <array>
#include <stdexcept>
#include <unordered_map>
#include <vector>

#include <boost/asio/post.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/kaillera/handshake.hpp"
#include "common/net/udp_socket.hpp"

namespace kaillera::master {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

struct AddressChecker::Impl : std::enable_shared_from_this<AddressChecker::Impl> {
  Impl(asio::io_context& io, std::chrono::milliseconds t, std::chrono::milliseconds r)
      : io(io), waiter(io), timer(io), timeout(t), resend(r) {}
  ~Impl() {
    if (waiter.is_open()) waiter.release();  // the UdpSocket owns and closes the fd
  }

  struct Pending {
    Clock::time_point deadline;
    Clock::time_point next_ping;
    std::vector<Done> waiting;
  };

  void start(const net::Endpoint& at, Done done) {
    if (stopped) {
      in_flight.fetch_sub(1);
      return;
    }
    auto [it, fresh] = pending.try_emplace(at);
    it->second.waiting.push_back(std::move(done));
    if (fresh) {
      const auto now = Clock::now();
      it->second.deadline = now + timeout;
      it->second.next_ping = now;
      ping(at, it->second, now);
      arm_timer();
    } else {
      in_flight.fetch_sub(1);  // shares the existing check
    }
  }

  void ping(const net::Endpoint& at, Pending& p, Clock::time_point now) {
    std::array<std::uint8_t, 8> buf{};
    const auto n = proto::write_simple(buf, proto::HandshakeKind::kPing);
    if (n) {
      udp.send_to(at, std::span<const std::uint8_t>(buf.data(), *n));
      counters.pings_sent.fetch_add(1);
    }
    p.next_ping = now + resend;
  }

  void finish(const net::Endpoint& at, bool pong) {
    auto it = pending.find(at);
    if (it == pending.end()) return;
    auto waiting = std::move(it->second.waiting);
    pending.erase(it);
    in_flight.fetch_sub(1);
    (pong ? counters.pongs : counters.timeouts).fetch_add(1);
    for (auto& d : waiting)
      d(pong);
  }

  void arm_timer() {
    if (timer_armed || pending.empty() || stopped) return;
    timer_armed = true;
    timer.expires_after(std::chrono::milliseconds(50));
    timer.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      self->timer_armed = false;
      if (ec || self->stopped) return;
      self->on_tick();
    });
  }

  void on_tick() {
    const auto now = Clock::now();
    std::vector<net::Endpoint> expired;
    for (auto& [at, p] : pending) {
      if (now >= p.deadline) {
        expired.push_back(at);
      } else if (now >= p.next_ping) {
        ping(at, p, now);
      }
    }
    for (const auto& at : expired)
      finish(at, false);
    arm_timer();
  }

  void wait_readable() {
    waiter.async_wait(asio::posix::stream_descriptor::wait_read,
                      [self = shared_from_this()](const boost::system::error_code& ec) {
                        if (ec || self->stopped) return;
                        self->on_readable();
                      });
  }

  void on_readable() {
    for (int round = 0; round < 16; ++round) {
      const auto batch = udp.receive_batch();
      if (batch.empty()) break;
      for (const auto& d : batch) {
        const auto parsed = proto::parse_handshake(d.data);
        if (parsed && parsed->kind == proto::HandshakeKind::kPong && pending.count(d.from) != 0) {
          finish(d.from, true);
        } else {
          counters.stray.fetch_add(1);
        }
      }
    }
    wait_readable();
  }

  asio::io_context& io;
  net::UdpSocket udp;
  asio::posix::stream_descriptor waiter;
  asio::steady_timer timer;
  std::chrono::milliseconds timeout, resend;
  std::unordered_map<net::Endpoint, Pending, net::EndpointHash> pending;
  std::atomic<std::size_t> in_flight{0};
  CheckerCounters counters;
  bool timer_armed = false;
  bool stopped = false;
};

AddressChecker::AddressChecker(asio::io_context& io, const net::Endpoint& bind,
                               std::chrono::milliseconds timeout, std::chrono::milliseconds resend)
    : impl_(std::make_shared<Impl>(io, timeout, resend)) {
  if (std::string err = impl_->udp.open(bind, 16, 512); !err.empty()) {
    throw std::runtime_error("cannot bind the UDP check socket to " + net::to_string(bind) + ": " + err);
  }
  impl_->waiter.assign(impl_->udp.fd());
  impl_->wait_readable();
}

AddressChecker::~AddressChecker() {
  stop();
}

bool AddressChecker::check(const net::Endpoint& at, Done done) {
  if (impl_->in_flight.fetch_add(1) >= kMaxInFlight) {
    impl_->in_flight.fetch_sub(1);
    impl_->counters.refused.fetch_add(1);
    return false;
  }
  asio::post(impl_->io,
             [impl = impl_, at, done = std::move(done)]() mutable { impl->start(at, std::move(done)); });
  return true;
}

net::Endpoint AddressChecker::local() const {
  return impl_->udp.local();
}

const CheckerCounters& AddressChecker::counters() const {
  return impl_->counters;
}

void AddressChecker::stop() {
  asio::post(impl_->io, [impl = impl_] {
    impl->stopped = true;
    impl->timer.cancel();
    boost::system::error_code ignored;
    impl->waiter.cancel(ignored);
  });
}

}  // namespace kaillera::master
