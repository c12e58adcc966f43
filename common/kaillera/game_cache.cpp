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
  const std::uint32_t h = hash(data);
  for (std::size_t i = size_; i-- > 0;) {  // newest first: repeated inputs are usually recent
    const std::size_t p = physical(i);
    if (hashes_[p] == h && !unknown_[p] && entries_[p].size() == data.size() &&
        std::equal(data.begin(), data.end(), entries_[p].begin())) {
      return static_cast<std::uint8_t>(i);
    }
  }
  return std::nullopt;
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
