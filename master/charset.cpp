#include "master/charset.hpp"

#include <errno.h>
#include <iconv.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>

namespace kaillera::master {

namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

struct IconvCloser {
  void operator()(void* cd) const { iconv_close(static_cast<iconv_t>(cd)); }
};
using Converter = std::unique_ptr<void, IconvCloser>;

// One converter per charset and thread (iconv_t keeps state and is not thread-safe).
iconv_t converter(const std::string& charset) {
  thread_local std::map<std::string, Converter> cache;
  auto it = cache.find(charset);
  if (it == cache.end()) {
    if (cache.size() > 64) cache.clear();
    iconv_t cd = iconv_open("UTF-8", charset.c_str());
    it = cache.emplace(charset, Converter(cd == reinterpret_cast<iconv_t>(-1) ? nullptr : cd)).first;
  }
  return it->second ? static_cast<iconv_t>(it->second.get()) : reinterpret_cast<iconv_t>(-1);
}

// Length of the valid UTF-8 sequence at the start of `s`, or 0.
std::size_t utf8_sequence(std::string_view s) {
  const auto b = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  if (s.empty()) return 0;
  const unsigned char c = b(0);
  if (c < 0x80) return 1;
  std::size_t n = 0;
  std::uint32_t cp = 0;
  if ((c & 0xE0) == 0xC0) {
    n = 2;
    cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    n = 3;
    cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (s.size() < n) return 0;
  for (std::size_t i = 1; i < n; ++i) {
    if ((b(i) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(i) & 0x3F);
  }
  if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
      (cp >= 0xD800 && cp <= 0xDFFF)) {
    return 0;
  }
  return n;
}

std::string sanitize_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  while (!s.empty()) {
    const std::size_t n = utf8_sequence(s);
    if (n == 0) {
      out.append(kReplacement);
      s.remove_prefix(1);
    } else {
      out.append(s.substr(0, n));
      s.remove_prefix(n);
    }
  }
  return out;
}

bool is_utf8_name(const std::string& c) {
  return c == "utf-8" || c == "utf8";
}

}  // namespace

std::string normalize_charset(std::string_view charset) {
  while (!charset.empty() && (charset.front() == ' ' || charset.front() == '\t'))
    charset.remove_prefix(1);
  while (!charset.empty() && (charset.back() == ' ' || charset.back() == '\t'))
    charset.remove_suffix(1);
  std::string out(charset);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c); });
  return out;
}

bool charset_known(std::string_view charset) {
  const std::string c = normalize_charset(charset);
  if (c.empty() || c.size() > 40) return false;
  if (is_utf8_name(c)) return true;
  return converter(c) != reinterpret_cast<iconv_t>(-1);
}

bool is_valid_utf8(std::string_view s) {
  while (!s.empty()) {
    const std::size_t n = utf8_sequence(s);
    if (n == 0) return false;
    s.remove_prefix(n);
  }
  return true;
}

bool is_ascii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

std::string guess_charset(std::string_view raw, std::string_view fallback) {
  if (!is_ascii(raw) && is_valid_utf8(raw)) return "utf-8";
  return std::string(fallback);
}

std::string to_utf8(std::string_view raw, std::string_view charset) {
  if (is_ascii(raw)) return std::string(raw);
  const std::string c = normalize_charset(charset);
  if (is_utf8_name(c)) return sanitize_utf8(raw);
  iconv_t cd = c.empty() ? reinterpret_cast<iconv_t>(-1) : converter(c);
  if (cd == reinterpret_cast<iconv_t>(-1)) {
    std::string out;
    for (const char ch : raw) {
      if (static_cast<unsigned char>(ch) < 0x80) {
        out.push_back(ch);
      } else {
        out.append(kReplacement);
      }
    }
    return out;
  }
  iconv(cd, nullptr, nullptr, nullptr, nullptr);  // reset the shift state
  std::string out;
  out.reserve(raw.size() * 2 + 8);
  std::string in(raw);
  char* inp = in.data();
  std::size_t inleft = in.size();
  char buf[512];
  while (inleft > 0) {
    char* outp = buf;
    std::size_t outleft = sizeof buf;
    const std::size_t r = iconv(cd, &inp, &inleft, &outp, &outleft);
    out.append(buf, static_cast<std::size_t>(outp - buf));
    if (r != static_cast<std::size_t>(-1)) break;
    if (errno == E2BIG) continue;
    // EILSEQ (a byte this charset does not define) or EINVAL (an incomplete sequence at the end):
    // one replacement character per byte skipped.
    out.append(kReplacement);
    ++inp;
    --inleft;
    iconv(cd, nullptr, nullptr, nullptr, nullptr);
  }
  // Flush any shift state.
  char* outp = buf;
  std::size_t outleft = sizeof buf;
  iconv(cd, nullptr, nullptr, &outp, &outleft);
  out.append(buf, static_cast<std::size_t>(outp - buf));
  return sanitize_utf8(out);
}

}  // namespace kaillera::master
