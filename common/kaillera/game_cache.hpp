// The 256-entry game-data cache of KAILLERA.md §5.6: a shifting FIFO with logical positions 0 = oldest …
// size-1 = newest. Appending to a full cache removes the oldest entry and every position moves down by one.
// Entries are compared by content (a hash only filters), never by hash alone (§9.26).
//
// Each session keeps two per direction of use: the sender's cache decides "0x13 index" vs "full 0x12";
// the receiver's mirror resolves incoming 0x13. Storage is reused: after warm-up nothing is allocated.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include "common/kaillera/bytes.hpp"

namespace kaillera::proto {

class GameDataCache {
 public:
  static constexpr std::size_t kCapacity = 256;

  // Logical position of an entry equal to `data`, if any.
  std::optional<std::uint8_t> find(Bytes data) const;
  // Appends `data` as the newest entry, evicting the oldest when full.
  void append(Bytes data);
  // Appends an entry whose content is not known (a receiver's mirror after the sender's 0x12 was lost for
  // good): positions stay aligned with the sender's cache, find() never matches it, and is_unknown() says so.
  void append_unknown();
  bool is_unknown(std::uint8_t index) const { return index < size_ && unknown_[physical(index)]; }
  // The entry at logical position `index`, or nullopt when the cache holds fewer entries.
  std::optional<Bytes> at(std::uint8_t index) const;

  std::size_t size() const { return size_; }
  void clear() {
    size_ = 0;
    head_ = 0;
  }

 private:
  static std::uint32_t hash(Bytes data);
  std::size_t physical(std::size_t logical) const { return (head_ + logical) % kCapacity; }

  std::array<std::vector<std::uint8_t>, kCapacity> entries_;
  std::array<std::uint32_t, kCapacity> hashes_{};
  std::array<bool, kCapacity> unknown_{};
  std::size_t head_ = 0;  // physical slot of logical position 0
  std::size_t size_ = 0;
};

// What a sender should put on the wire for `data`, updating its cache.
struct CacheDecision {
  bool cached;  // true: send 0x13 with `index`; false: send full 0x12 (already appended)
  std::uint8_t index;
};
CacheDecision cache_for_send(GameDataCache& sender_cache, Bytes data);

}  // namespace kaillera::proto
