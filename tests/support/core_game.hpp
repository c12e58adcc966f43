// A 2-player LAN game driven straight into the relay core with fixed buffers and a counting sink: used by the
// allocation test and the micro benchmark, where nothing but the core may allocate or spend time.
#pragma once

#include <array>
#include <chrono>

#include "common/kaillera/bundle.hpp"
#include "relay/core/server.hpp"

namespace kf_support {

namespace p = kaillera::proto;
namespace r = kaillera::relay;
namespace n = kaillera::net;

class CountingSink : public r::Sink {
 public:
  void send(std::uint16_t, const n::Endpoint&, r::ByteSpan data) override {
    ++datagrams;
    bytes += data.size();
  }
  std::uint64_t datagrams = 0, bytes = 0;
};

struct Driver {
  n::Endpoint addr;
  p::Outbox tx{16, 1400};
  std::array<std::uint8_t, 1400> buf{};
  template <class T>
  void send(r::Server& s, const T& m, r::TimePoint now, r::Sink& sink) {
    tx.push(m);
    const auto len = tx.write_next(buf, 3);
    s.on_datagram(27889, addr, 64, r::ByteSpan(buf.data(), len), now, sink);
  }
};

class CoreGame {
 public:
  CoreGame() : server_(config()) {
    const std::uint8_t hello[] = {'H', 'E', 'L', 'L', 'O', '0', '.', '8', '3', 0};
    for (Driver* d : {&a_, &b_}) {
      server_.on_datagram(27888, d->addr, 64, hello, now_, sink_);
      d->send(server_, p::UserInformation{d == &a_ ? "alice" : "bob", "MAME32k", 1}, now_, sink_);
      for (int i = 0; i < 4; ++i)
        d->send(server_, p::ClientAck{}, now_, sink_);
    }
    a_.send(server_, p::CreateGame{"", "Street Fighter II", "", 0xFFFFFFFF}, now_, sink_);
    b_.send(server_, p::JoinGame{"", 1, "", 0, 0xFFFF, 1}, now_, sink_);
    a_.send(server_, p::StartGame{}, now_, sink_);
    a_.send(server_, p::AllReady{}, now_, sink_);
    b_.send(server_, p::AllReady{}, now_, sink_);
  }
  // One frame: both players send their input (from a small alphabet, as button states are), the core
  // relays the frame to both; a tick every 6 frames as the shell gives. `period`: the time since the last.
  void frame(std::chrono::microseconds period = std::chrono::microseconds(16667)) {
    now_ += period;
    x_ = x_ * 1103515245u + 12345u;
    const std::uint8_t ia[2] = {static_cast<std::uint8_t>((x_ >> 16) % 12), 0};
    const std::uint8_t ib[2] = {static_cast<std::uint8_t>((x_ >> 20) % 300 % 256), 1};
    a_.send(server_, p::GameData{"", p::Bytes(ia, 2)}, now_, sink_);
    b_.send(server_, p::GameData{"", p::Bytes(ib, 2)}, now_, sink_);
    if (++frames_ % 6 == 0) server_.on_tick(now_, sink_);
  }
  r::Server& server() { return server_; }
  const CountingSink& sink() const { return sink_; }

 private:
  static r::Config config() {
    r::Config c;
    c.listen = "127.0.0.1:27888";
    return c;
  }
  r::TimePoint now_ = r::TimePoint{} + std::chrono::hours(1);
  CountingSink sink_;
  r::Server server_;
  Driver a_{{0xCB007101, 5000}}, b_{{0xC6336402, 5001}};
  std::uint32_t x_ = 1;
  std::uint64_t frames_ = 0;
};

}  // namespace kf_support
