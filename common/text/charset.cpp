#include "common/text/charset.hpp"

#include <iconv.h>

#include <cerrno>
#include <utility>

namespace kaillera::text {
namespace {

std::string normalise(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '-' || c == '_') continue;
    out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
  }
  return out;
}

class Iconv {
 public:
  Iconv(const std::string& to, const std::string& from) : cd_(iconv_open(to.c_str(), from.c_str())) {}
  ~Iconv() {
    if (ok()) iconv_close(cd_);
  }
  Iconv(const Iconv&) = delete;
  Iconv& operator=(const Iconv&) = delete;
  bool ok() const { return cd_ != reinterpret_cast<iconv_t>(-1); }
  iconv_t get() const { return cd_; }

 private:
  iconv_t cd_;
};

// Converts, replacing each input byte that fails with `replacement` and going on after it.
std::string convert(std::string_view in, const std::string& to, const std::string& from,
                    std::string_view replacement) {
  Iconv cd(to, from);
  if (!cd.ok()) return std::string(in);
  std::string out;
  out.reserve(in.size() * 2);
  char* src = const_cast<char*>(in.data());
  std::size_t left = in.size();
  char buf[256];
  while (left > 0) {
    char* dst = buf;
    std::size_t room = sizeof buf;
    const std::size_t r = iconv(cd.get(), &src, &left, &dst, &room);
    out.append(buf, static_cast<std::size_t>(dst - buf));
    if (r == static_cast<std::size_t>(-1)) {
      if (errno == E2BIG) continue;
      // EILSEQ or EINVAL (a sequence cut by the end): replace one byte and go on.
      out.append(replacement);
      ++src;
      --left;
      iconv(cd.get(), nullptr, nullptr, nullptr, nullptr);
    }
  }
  char* dst = buf;
  std::size_t room = sizeof buf;
  iconv(cd.get(), nullptr, nullptr, &dst, &room);
  out.append(buf, static_cast<std::size_t>(dst - buf));
  return out;
}

}  // namespace

std::string iconv_name(std::string_view charset) {
  static const std::pair<const char*, const char*> kNames[] = {
      {"windows1252", "WINDOWS-1252"},
      {"cp1252", "WINDOWS-1252"},
      {"latin1", "ISO-8859-1"},
      {"iso88591", "ISO-8859-1"},
      {"shiftjis", "CP932"},
      {"sjis", "CP932"},
      {"cp932", "CP932"},
      {"windows31j", "CP932"},
      {"gbk", "GBK"},
      {"cp936", "GBK"},
      {"gb2312", "GBK"},
      {"cp949", "CP949"},
      {"xibm949", "CP949"},
      {"euckr", "CP949"},
      {"windows1251", "WINDOWS-1251"},
      {"cp1251", "WINDOWS-1251"},
      {"utf8", "UTF-8"},
      {"big5", "BIG5"},
      {"windows1250", "WINDOWS-1250"},
      {"cp1250", "WINDOWS-1250"},
  };
  const std::string n = normalise(charset);
  for (const auto& [k, v] : kNames) {
    if (n == k) return v;
  }
  return {};
}

bool known_charset(std::string_view charset) {
  return !iconv_name(charset).empty();
}

std::string to_utf8(std::string_view bytes, std::string_view charset) {
  std::string from = iconv_name(charset);
  if (from.empty()) from = "WINDOWS-1252";
  return convert(bytes, "UTF-8", from, "\xEF\xBF\xBD");
}

std::string from_utf8(std::string_view utf8, std::string_view charset) {
  std::string to = iconv_name(charset);
  if (to.empty()) to = "WINDOWS-1252";
  if (to == "UTF-8") return std::string(utf8);
  return convert(utf8, to + "//TRANSLIT", "UTF-8", "?");
}

std::optional<std::string> encode_exact(std::string_view utf8, std::string_view charset,
                                        std::size_t* bad_at) {
  const std::string to = iconv_name(charset);
  Iconv cd(to, "UTF-8");
  if (to.empty() || !cd.ok()) {
    if (bad_at != nullptr) *bad_at = std::string_view::npos;
    return std::nullopt;
  }
  std::string out;
  out.reserve(utf8.size() * 2);
  char* src = const_cast<char*>(utf8.data());
  std::size_t left = utf8.size();
  char buf[256];
  // The final call (src null) flushes a stateful encoding's shift sequence; none of ours has one.
  for (bool flush = false;;) {
    char* dst = buf;
    std::size_t room = sizeof buf;
    const std::size_t r =
        flush ? iconv(cd.get(), nullptr, nullptr, &dst, &room) : iconv(cd.get(), &src, &left, &dst, &room);
    out.append(buf, static_cast<std::size_t>(dst - buf));
    if (r == static_cast<std::size_t>(-1)) {
      if (errno == E2BIG) continue;
      // EILSEQ (not UTF-8, or no such character in the charset) or EINVAL (cut at the end).
      if (bad_at != nullptr) *bad_at = static_cast<std::size_t>(src - utf8.data());
      return std::nullopt;
    }
    if (flush) break;
    if (left == 0) flush = true;
  }
  return out;
}

}  // namespace kaillera::text
