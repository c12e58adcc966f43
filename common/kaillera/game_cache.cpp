#include "common/kaillera/game_cache.hpp"

#include <algorithm>

namespace kaillera::proto {

std::uint32_t GameDataCache::hash(Bytes data) {
  std::uint32_t h = 2166136261u;  // FNV-1a: cheap, only a filter before the byte comparison
  for (std::uint8_t b : data)
    h = (h ^ b) * 16777619u;
  return h;
}

std::optional<std::uint8_t> GameDataCache::find(Bytes data) const {
  // The hashes are scanned in physical order, 64 at a time with no branch inside (the compiler turns each
  // group into a few vector compares), and only a group with an equal hash is looked at slot by slot: a miss
  // in a full cache, the usual case for a new input, costs about a tenth of a newest-first walk. With equal
  // entries (a mirror may hold them) the newest position wins, as in that walk.
  if (size_ == 0) return std::nullopt;
  const std::uint32_t h = hash(data);
  constexpr std::size_t kGroup = 64, kSubGroup = 8;
  static_assert(kCapacity % kGroup == 0);
  std::size_t best = kCapacity;  // none
  // Until the cache is full nothing was evicted, so the live entries are physical slots 0 .. size-1.
  const std::size_t end = size_ == kCapacity ? kCapacity : (size_ + kGroup - 1) / kGroup * kGroup;
  for (std::size_t base = 0; base < end; base += kGroup) {
    unsigned any = 0;
    for (std::size_t j = 0; j < kGroup; ++j)
      any |= hashes_[base + j] == h ? ~0u : 0u;
    if (any == 0) continue;
    for (std::size_t sub = base; sub < base + kGroup; sub += kSubGroup) {  // the same, 8 at a time
      unsigned hit = 0;
      for (std::size_t j = 0; j < kSubGroup; ++j)
        hit |= hashes_[sub + j] == h ? ~0u : 0u;
      if (hit == 0) continue;
      for (std::size_t p = sub; p < sub + kSubGroup; ++p) {
        if (hashes_[p] != h) continue;
        const std::size_t logical = (p + kCapacity - head_) % kCapacity;
        if (logical >= size_ || (best != kCapacity && logical <= best) || unknown_[p]) continue;
        if (entries_[p].size() == data.size() && std::equal(data.begin(), data.end(), entries_[p].begin()))
          best = logical;
      }
    }
  }
  if (best == kCapacity) return std::nullopt;
  return static_cast<std::uint8_t>(best);
}

void GameDataCache::append(Bytes data) {
  std::size_t p;
  if (size_ == kCapacity) {
    p = head_;  // the oldest slot becomes the newest; every logical position shifts down by one
    head_ = (head_ + 1) % kCapacity;
  } else {
    p = physical(size_);
    ++size_;
  }
  entries_[p].assign(data.begin(), data.end());
  hashes_[p] = hash(data);
  unknown_[p] = false;
}

void GameDataCache::append_unknown() {
  append(Bytes());
  unknown_[physical(size_ - 1)] = true;
}

std::optional<Bytes> GameDataCache::at(std::uint8_t index) const {
  if (index >= size_) return std::nullopt;
  const auto& e = entries_[physical(index)];
  return Bytes(e.data(), e.size());
}

CacheDecision cache_for_send(GameDataCache& cache, Bytes data) {
  if (auto i = cache.find(data)) return {true, *i};
  cache.append(data);
  return {false, 0};
}

}  // namespace kaillera::proto
