// v086 bundle framing (KAILLERA.md §2): one datagram = count, then `count` messages newest first, each
// u16 seq · u16 length (type + body) · u8 type · body. The sending side repeats recent messages so a lost
// datagram costs nothing; the receiving side keeps a modular 16-bit window.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "common/kaillera/bytes.hpp"
#include "common/kaillera/messages.hpp"
#include "common/kaillera/result.hpp"

namespace kaillera::proto {

constexpr std::size_t kMaxBundleCount = 32;
constexpr std::size_t kMessageHeaderSize = 4;  // seq + length

// One framed message as it sits in a datagram; body points into the datagram.
struct RawMessage {
  std::uint16_t seq = 0;
  std::uint8_t type = 0;
  Bytes body;
};

// The messages of one datagram in wire order (newest first). Fixed storage: parsing allocates nothing.
struct Bundle {
  std::array<RawMessage, kMaxBundleCount> messages;
  std::size_t count = 0;
  std::span<const RawMessage> view() const { return {messages.data(), count}; }
};

// Parses exactly `count` messages and ignores bytes after them (the count byte may be smaller than the
// messages present, §9.5). Every length is checked against what is left; nothing is read past the end.
Result<Bundle> parse_bundle(Bytes datagram);

// One message with the seq to frame it under (for tools and tests that write bundles directly).
struct Framed {
  std::uint16_t seq;
  Message message;
};
// Writes `messages` (already newest first) as one datagram; kTooLarge if it does not fit `out`.
Result<std::size_t> write_bundle(std::span<std::uint8_t> out, std::span<const Framed> messages);

// The receive window of one direction of one session, with modular arithmetic around 0xFFFF.
class ReceiveWindow {
 public:
  // How far ahead a seq may be and still count as new: beyond every message a client can have in flight
  // (frame delay up to ~60 packets at 1 s of ping on LAN, plus redundancy).
  static constexpr std::uint16_t kWindow = 128;

  struct Accepted {
    std::array<std::uint8_t, kMaxBundleCount> order{};  // indexes into Bundle::messages, ascending seq
    std::size_t count = 0;
    bool duplicate_only = false;  // nothing new: the peer is missing our data (treat as a resend request)
    std::uint16_t lost = 0;       // seqs skipped for good before or between the new messages
    std::uint16_t held = 0;       // new messages beyond a hole, not accepted (skip_gaps = false)
  };

  // Decides which messages of `b` are new, in the order to process them, and advances the window.
  // skip_gaps = true: a hole is given up at once (counted in `lost`). false: only the messages that continue
  // without a hole are accepted; the rest (`held`) must come again, as peers resend their recent messages.
  Accepted accept(const Bundle& b, bool skip_gaps = true);

  std::uint16_t last() const { return last_; }
  bool started() const { return started_; }
  void reset() {
    last_ = 0xFFFF;
    started_ = false;
  }

 private:
  std::uint16_t last_ = 0xFFFF;  // "nothing yet": the first new seq is 0
  bool started_ = false;
};

// The sending side of one session: numbers messages from 0 (wrapping after 0xFFFF), keeps the recent ones
// encoded, and writes datagrams that carry the new messages plus redundant copies of older ones.
class Outbox {
 public:
  // `history`: how many sent messages are kept for redundancy and resends.
  explicit Outbox(std::size_t history = 16, std::size_t max_datagram = 1400);

  // Encodes `m` and queues it; fails with kTooLarge when it could never fit a datagram.
  template <class T>
  Result<std::uint16_t> push(const T& m) {
    Sizer s;
    T::fields(s, m);
    Slot& slot = reserve_slot(1 + s.size());
    Writer w(std::span<std::uint8_t>(slot.bytes.data(), slot.bytes.size()));
    w.u8(static_cast<std::uint8_t>(T::kType));
    T::fields(w, m);
    return commit_slot(slot);
  }
  Result<std::uint16_t> push_message(const Message& m);

  // Queued messages not yet sent.
  std::size_t pending() const { return pending_; }
  std::uint16_t next_seq() const { return next_seq_; }

  // Writes one datagram holding up to `max_new` pending messages (the oldest pending first, so seqs stay in
  // order) and repeats what the previous `redundancy` datagrams carried as new (at least `redundancy`
  // messages), so any `redundancy` datagrams lost in a row cost nothing; never above max_datagram bytes or
  // 32 messages, which bound the repetition when bursts were large.
  // Returns the datagram size, 0 when nothing is pending.
  std::size_t write_next(std::span<std::uint8_t> out, std::size_t redundancy, std::size_t max_new = 8);

  // Writes the newest `n` sent messages again (a resend after a duplicate-only datagram). 0 if none was sent.
  std::size_t write_resend(std::span<std::uint8_t> out, std::size_t n);

  // Writes the newest `n` sent messages again as a ladder: datagrams of at most `step` messages, oldest
  // first, each one's newest seq `step` past the previous one's. A receiver that only accepts bundles a few
  // seqs ahead of what it has (n02 accepts 1..9) climbs back from wherever it stopped. `emit(bytes)` is
  // called for each datagram, in order; returns how many were written.
  template <class Emit>
  std::size_t write_resend_ladder(std::span<std::uint8_t> scratch, std::size_t n, std::size_t step,
                                  Emit&& emit) {
    const std::size_t sent = stored_ - pending_;
    n = std::min(n, sent);
    step = std::max<std::size_t>(1, std::min(step, kMaxBundleCount));
    if (n == 0) return 0;
    std::size_t datagrams = 0;
    for (std::size_t chunk = (n - 1) / step + 1; chunk-- > 0;) {
      const std::size_t newest_back = pending_ + chunk * step;
      const std::size_t size = write(scratch, newest_back, std::min(step, n - chunk * step));
      if (size == 0) continue;
      emit(std::span<const std::uint8_t>(scratch.data(), size));
      ++datagrams;
    }
    return datagrams;
  }
  std::size_t sent_in_history() const { return stored_ - pending_; }

  std::size_t max_datagram() const { return max_datagram_; }
  // How many messages the last `datagrams` datagrams written by write_next carried as new.
  std::size_t recent_messages(std::size_t datagrams) const;

 private:
  struct Slot {
    std::uint16_t seq = 0;
    std::vector<std::uint8_t> bytes;  // type + body; capacity is reused
  };
  Slot& reserve_slot(std::size_t size);
  Result<std::uint16_t> commit_slot(Slot& slot);
  // Slot of the message `back` places before the newest queued one (0 = newest).
  const Slot& from_newest(std::size_t back) const;
  std::size_t write(std::span<std::uint8_t> out, std::size_t newest_back, std::size_t max_count);

  static constexpr std::size_t kRecentDatagrams = 16;
  std::array<std::uint8_t, kRecentDatagrams> recent_new_{};  // new messages per recent datagram
  std::size_t recent_head_ = 0;
  std::vector<Slot> ring_;
  std::size_t history_;
  std::size_t max_datagram_;
  std::size_t head_ = 0;     // index where the next message goes
  std::size_t stored_ = 0;   // messages in the ring (sent + pending)
  std::size_t pending_ = 0;  // of which not yet sent
  std::uint16_t next_seq_ = 0;
};

}  // namespace kaillera::proto
