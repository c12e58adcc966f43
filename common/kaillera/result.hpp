// Errors as values for the packet path: every decoder returns Result<T>, never throws.
#pragma once

#include <cstdint>
#include <string_view>
#include <utility>
#include <variant>

namespace kaillera::proto {

enum class Error : std::uint8_t {
  kTruncated,           // a field runs past the end of its message or datagram
  kUnterminatedString,  // a NUL-terminated string has no NUL before the end
  kUnknownType,         // message type outside 0x01..0x17
  kBadCount,            // bundle count 0 or above 32, or a list count larger than the bytes can hold
  kBadLength,           // message length < 2 or beyond the datagram
  kEmpty,               // nothing to parse
  kNotHandshake,        // not one of the raw connect messages
  kBadPort,             // HELLOD00D without a port 1..65535
  kTooLarge,            // the encoding would not fit the output buffer or a u16 length
};

constexpr std::string_view to_string(Error e) {
  switch (e) {
    case Error::kTruncated:
      return "truncated";
    case Error::kUnterminatedString:
      return "unterminated_string";
    case Error::kUnknownType:
      return "unknown_type";
    case Error::kBadCount:
      return "bad_count";
    case Error::kBadLength:
      return "bad_length";
    case Error::kEmpty:
      return "empty";
    case Error::kNotHandshake:
      return "not_handshake";
    case Error::kBadPort:
      return "bad_port";
    case Error::kTooLarge:
      return "too_large";
  }
  return "unknown";
}

// A value or an Error. Small on purpose: no exceptions, no allocation of its own.
template <class T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Error e) : v_(e) {}                 // NOLINT
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  Error error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

}  // namespace kaillera::proto
