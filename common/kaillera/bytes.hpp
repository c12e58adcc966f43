// Bounds-checked little-endian field access. The three "visitors" (Reader, Writer, Sizer) share one method
// set so that a message's field list, written once, serves decode, encode and size (see messages.hpp).
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <vector>

#include "common/kaillera/result.hpp"

namespace kaillera::proto {

using Bytes = std::span<const std::uint8_t>;

inline Bytes as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
inline std::string_view as_chars(Bytes b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// Reads fields from a byte span. On the first failure it remembers the error and every later call fails.
class Reader {
 public:
  explicit Reader(Bytes in) : in_(in) {}

  bool u8(std::uint8_t& v) {
    if (!need(1)) return false;
    v = in_[pos_++];
    return true;
  }
  // An optional trailing byte: absent means 0 (the 0x14 drop request comes as 1 to 3 bytes, KAILLERA.md
  // §9.27).
  bool u8_opt(std::uint8_t& v) {
    if (pos_ >= in_.size()) {
      v = 0;
      return ok();
    }
    return u8(v);
  }
  bool u16(std::uint16_t& v) {
    if (!need(2)) return false;
    v = static_cast<std::uint16_t>(in_[pos_] | (in_[pos_ + 1] << 8));
    pos_ += 2;
    return true;
  }
  bool u32(std::uint32_t& v) {
    if (!need(4)) return false;
    v = static_cast<std::uint32_t>(in_[pos_]) | (static_cast<std::uint32_t>(in_[pos_ + 1]) << 8) |
        (static_cast<std::uint32_t>(in_[pos_ + 2]) << 16) | (static_cast<std::uint32_t>(in_[pos_ + 3]) << 24);
    pos_ += 4;
    return true;
  }
  // NUL-terminated raw bytes; the view excludes the NUL and points into the input.
  bool str(std::string_view& v) {
    if (!ok()) return false;
    if (pos_ >= in_.size()) return fail(Error::kUnterminatedString);
    const std::uint8_t* start = in_.data() + pos_;
    const void* nul = std::memchr(start, 0, in_.size() - pos_);
    if (nul == nullptr) return fail(Error::kUnterminatedString);
    std::size_t n = static_cast<const std::uint8_t*>(nul) - start;
    v = std::string_view(reinterpret_cast<const char*>(start), n);
    pos_ += n + 1;
    return true;
  }
  // u16 length followed by that many bytes.
  bool blob16(Bytes& v) {
    std::uint16_t n = 0;
    if (!u16(n) || !need(n)) return false;
    v = in_.subspan(pos_, n);
    pos_ += n;
    return true;
  }
  // A list of `count` entries whose encodings take at least `min_entry_size` bytes each. The bound check
  // comes before any allocation so a forged count cannot make us reserve gigabytes.
  template <class E>
  bool list(std::vector<E>& out, std::uint32_t count, std::size_t min_entry_size) {
    if (!ok()) return false;
    if (count > (in_.size() - pos_) / min_entry_size) return fail(Error::kBadCount);
    out.resize(count);
    for (auto& e : out) {
      if (!E::fields(*this, e)) return false;
    }
    return true;
  }

  bool ok() const { return !failed_; }
  Error error() const { return error_; }
  std::size_t position() const { return pos_; }
  std::size_t remaining() const { return in_.size() - pos_; }

 private:
  bool need(std::size_t n) {
    if (failed_) return false;
    if (in_.size() - pos_ < n) return fail(Error::kTruncated);
    return true;
  }
  bool fail(Error e) {
    if (!failed_) error_ = e;
    failed_ = true;
    return false;
  }
  Bytes in_;
  std::size_t pos_ = 0;
  bool failed_ = false;
  Error error_ = Error::kTruncated;
};

// Counts the bytes a field list takes.
class Sizer {
 public:
  bool u8(std::uint8_t) { return add(1); }
  bool u8_opt(std::uint8_t) { return add(1); }
  bool u16(std::uint16_t) { return add(2); }
  bool u32(std::uint32_t) { return add(4); }
  bool str(std::string_view v) {
    std::size_t n = v.find('\0');
    return add((n == std::string_view::npos ? v.size() : n) + 1);
  }
  bool blob16(Bytes v) { return add(2 + v.size()); }
  template <class E>
  bool list(const std::vector<E>& in, std::uint32_t, std::size_t) {
    for (const auto& e : in)
      E::fields(*this, e);
    return true;
  }
  std::size_t size() const { return n_; }

 private:
  bool add(std::size_t n) {
    n_ += n;
    return true;
  }
  std::size_t n_ = 0;
};

// Writes fields into a fixed output span; fails with kTooLarge instead of writing past its end.
class Writer {
 public:
  explicit Writer(std::span<std::uint8_t> out) : out_(out) {}

  bool u8(std::uint8_t v) {
    if (!need(1)) return false;
    out_[pos_++] = v;
    return true;
  }
  bool u8_opt(std::uint8_t v) { return u8(v); }
  bool u16(std::uint16_t v) {
    if (!need(2)) return false;
    out_[pos_++] = static_cast<std::uint8_t>(v);
    out_[pos_++] = static_cast<std::uint8_t>(v >> 8);
    return true;
  }
  bool u32(std::uint32_t v) {
    if (!need(4)) return false;
    for (int i = 0; i < 4; ++i)
      out_[pos_++] = static_cast<std::uint8_t>(v >> (8 * i));
    return true;
  }
  // Writes the bytes up to the first NUL they contain (a NUL inside would end the string on the wire anyway).
  bool str(std::string_view v) {
    std::size_t n = v.find('\0');
    if (n == std::string_view::npos) n = v.size();
    if (!need(n + 1)) return false;
    if (n != 0) std::memcpy(out_.data() + pos_, v.data(), n);
    pos_ += n;
    out_[pos_++] = 0;
    return true;
  }
  bool blob16(Bytes v) {
    if (v.size() > 0xFFFF) return fail();
    if (!u16(static_cast<std::uint16_t>(v.size())) || !need(v.size())) return false;
    if (!v.empty()) std::memcpy(out_.data() + pos_, v.data(), v.size());
    pos_ += v.size();
    return true;
  }
  template <class E>
  bool list(const std::vector<E>& in, std::uint32_t, std::size_t) {
    for (const auto& e : in) {
      if (!E::fields(*this, e)) return false;
    }
    return true;
  }
  bool ok() const { return !failed_; }
  std::size_t position() const { return pos_; }
  std::span<std::uint8_t> written() const { return out_.first(pos_); }

 private:
  bool need(std::size_t n) {
    if (failed_) return false;
    if (out_.size() - pos_ < n) return fail();
    return true;
  }
  bool fail() {
    failed_ = true;
    return false;
  }
  std::span<std::uint8_t> out_;
  std::size_t pos_ = 0;
  bool failed_ = false;
};

}  // namespace kaillera::proto
