#include "common/kaillera/bundle.hpp"

#include <algorithm>

namespace kaillera::proto {

Result<Bundle> parse_bundle(Bytes d) {
  if (d.empty()) return Error::kEmpty;
  const std::size_t count = d[0];
  if (count == 0 || count > kMaxBundleCount) return Error::kBadCount;
  Bundle b;
  std::size_t pos = 1;
  for (std::size_t i = 0; i < count; ++i) {
    if (d.size() - pos < kMessageHeaderSize) return Error::kTruncated;
    const auto seq = static_cast<std::uint16_t>(d[pos] | (d[pos + 1] << 8));
    const std::size_t len = static_cast<std::size_t>(d[pos + 2] | (d[pos + 3] << 8));
    pos += kMessageHeaderSize;
    if (len < 2 || len > d.size() - pos) return Error::kBadLength;
    b.messages[i] = RawMessage{seq, d[pos], d.subspan(pos + 1, len - 1)};
    pos += len;
  }
  b.count = count;
  return b;
}

Result<std::size_t> write_bundle(std::span<std::uint8_t> out, std::span<const Framed> messages) {
  if (messages.empty() || messages.size() > kMaxBundleCount || out.empty()) return Error::kBadCount;
  out[0] = static_cast<std::uint8_t>(messages.size());
  std::size_t pos = 1;
  for (const Framed& f : messages) {
    if (out.size() - pos < kMessageHeaderSize) return Error::kTooLarge;
    auto n = encode(f.message, out.subspan(pos + kMessageHeaderSize));
    if (!n || *n > 0xFFFF) return Error::kTooLarge;
    out[pos] = static_cast<std::uint8_t>(f.seq);
    out[pos + 1] = static_cast<std::uint8_t>(f.seq >> 8);
    out[pos + 2] = static_cast<std::uint8_t>(*n);
    out[pos + 3] = static_cast<std::uint8_t>(*n >> 8);
    pos += kMessageHeaderSize + *n;
  }
  return pos;
}

ReceiveWindow::Accepted ReceiveWindow::accept(const Bundle& b, bool skip_gaps) {
  Accepted a;
  // Distances ahead of `last_`, for the messages that are new. Iterate oldest (back) to newest (front).
  std::array<std::uint16_t, kMaxBundleCount> dist{};
  for (std::size_t i = b.count; i-- > 0;) {
    const auto d = static_cast<std::uint16_t>(b.messages[i].seq - last_);
    if (d == 0 || d > kWindow) continue;
    bool dup = false;
    for (std::size_t k = 0; k < a.count; ++k)
      dup = dup || dist[k] == d;
    if (dup) continue;
    dist[a.count] = d;
    a.order[a.count++] = static_cast<std::uint8_t>(i);
  }
  if (a.count == 0) {
    a.duplicate_only = true;
    return a;
  }
  // Usually already ascending; a simple insertion sort keeps odd bundles right.
  for (std::size_t i = 1; i < a.count; ++i) {
    for (std::size_t j = i; j > 0 && dist[j - 1] > dist[j]; --j) {
      std::swap(dist[j - 1], dist[j]);
      std::swap(a.order[j - 1], a.order[j]);
    }
  }
  if (!skip_gaps) {
    // Only the run that continues from last_ + 1; what lies beyond a hole waits for the peer to send it
    // again.
    std::size_t run = 0;
    while (run < a.count && dist[run] == run + 1)
      ++run;
    a.held = a.count - run;
    a.count = run;
    if (run == 0) return a;
    last_ = static_cast<std::uint16_t>(last_ + run);
    started_ = true;
    return a;
  }
  const std::uint16_t newest = dist[a.count - 1];
  a.lost = static_cast<std::uint16_t>(newest - a.count);
  last_ = static_cast<std::uint16_t>(last_ + newest);
  started_ = true;
  return a;
}

Outbox::Outbox(std::size_t history, std::size_t max_datagram)
    : ring_(std::max<std::size_t>(history, 1) * 2),
      history_(std::max<std::size_t>(history, 1)),
      max_datagram_(max_datagram) {}

Outbox::Slot& Outbox::reserve_slot(std::size_t size) {
  // Keep `history_` sent messages plus everything pending: grow the ring (rarely) rather than overwrite.
  if (stored_ + 1 > ring_.size()) {
    std::vector<Slot> bigger(ring_.size() * 2);
    for (std::size_t i = 0; i < stored_; ++i)
      bigger[i] = std::move(ring_[(head_ + ring_.size() - stored_ + i) % ring_.size()]);
    head_ = stored_;
    ring_ = std::move(bigger);
  }
  Slot& s = ring_[head_];
  s.bytes.resize(size);
  return s;
}

Result<std::uint16_t> Outbox::commit_slot(Slot& slot) {
  if (kMessageHeaderSize + slot.bytes.size() + 1 > max_datagram_ || slot.bytes.size() > 0xFFFF) {
    return Error::kTooLarge;
  }
  slot.seq = next_seq_++;
  head_ = (head_ + 1) % ring_.size();
  ++pending_;
  stored_ = std::min(stored_ + 1, history_ + pending_);  // forget sent messages beyond the history
  return slot.seq;
}

Result<std::uint16_t> Outbox::push_message(const Message& m) {
  return std::visit([&](const auto& msg) { return push(msg); }, m);
}

const Outbox::Slot& Outbox::from_newest(std::size_t back) const {
  return ring_[(head_ + ring_.size() - 1 - back) % ring_.size()];
}

std::size_t Outbox::write(std::span<std::uint8_t> out, std::size_t newest_back, std::size_t max_count) {
  const std::size_t limit = std::min(out.size(), max_datagram_);
  const std::size_t available = stored_ - newest_back;
  max_count = std::min({max_count, available, kMaxBundleCount});
  std::size_t pos = 1;
  std::size_t n = 0;
  for (; n < max_count; ++n) {
    const Slot& s = from_newest(newest_back + n);
    const std::size_t need = kMessageHeaderSize + s.bytes.size();
    if (pos + need > limit) break;
    out[pos] = static_cast<std::uint8_t>(s.seq);
    out[pos + 1] = static_cast<std::uint8_t>(s.seq >> 8);
    out[pos + 2] = static_cast<std::uint8_t>(s.bytes.size());
    out[pos + 3] = static_cast<std::uint8_t>(s.bytes.size() >> 8);
    std::copy(s.bytes.begin(), s.bytes.end(),
              out.begin() + static_cast<std::ptrdiff_t>(pos + kMessageHeaderSize));
    pos += need;
  }
  if (n == 0) return 0;
  out[0] = static_cast<std::uint8_t>(n);
  return pos;
}

std::size_t Outbox::write_next(std::span<std::uint8_t> out, std::size_t redundancy, std::size_t max_new) {
  // Take the oldest pending messages, as many as fit, so no seq is ever skipped.
  const std::size_t limit = std::min(out.size(), max_datagram_);
  const std::size_t most = std::min({pending_, std::max<std::size_t>(max_new, 1), kMaxBundleCount});
  std::size_t take = 0;
  std::size_t bytes = 1;
  while (take < most) {
    const std::size_t need = kMessageHeaderSize + from_newest(pending_ - 1 - take).bytes.size();
    if (bytes + need > limit) break;
    bytes += need;
    ++take;
  }
  if (take == 0) return 0;
  // Repeat what the previous `redundancy` datagrams carried as new (at least `redundancy` messages), so that
  // losing any `redundancy` datagrams in a row loses nothing, however many messages each one held.
  const std::size_t repeat = std::max(recent_messages(redundancy), redundancy);
  const std::size_t size = write(out, pending_ - take, take + repeat);
  recent_new_[recent_head_] = static_cast<std::uint8_t>(take);
  recent_head_ = (recent_head_ + 1) % kRecentDatagrams;
  pending_ -= take;
  stored_ = std::min(stored_, history_ + pending_);
  return size;
}

std::size_t Outbox::recent_messages(std::size_t datagrams) const {
  std::size_t n = 0;
  for (std::size_t i = 0; i < std::min(datagrams, kRecentDatagrams); ++i) {
    n += recent_new_[(recent_head_ + kRecentDatagrams - 1 - i) % kRecentDatagrams];
  }
  return n;
}

std::size_t Outbox::write_resend(std::span<std::uint8_t> out, std::size_t n) {
  if (stored_ == pending_) return 0;
  return write(out, pending_, n);
}

}  // namespace kaillera::proto
