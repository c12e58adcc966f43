// Names travel as the bytes a Kaillera client typed, in the relay's charset (Windows-1252, Shift_JIS, ...).
// The classic list formats pass those bytes through; JSON, gRPC and the web page need UTF-8. to_utf8()
// converts with iconv and replaces every undecodable byte by U+FFFD, so nothing is dropped silently.
#pragma once

#include <string>
#include <string_view>

namespace kaillera::master {

inline constexpr std::string_view kDefaultCharset = "windows-1252";

// True when iconv can convert from `charset` to UTF-8.
bool charset_known(std::string_view charset);

// Lower-case, trimmed; "" stays "".
std::string normalize_charset(std::string_view charset);

// `raw` in `charset` as valid UTF-8. An unknown charset decodes as ASCII (other bytes become U+FFFD).
std::string to_utf8(std::string_view raw, std::string_view charset);

bool is_valid_utf8(std::string_view s);
bool is_ascii(std::string_view s);

// For text of unknown charset (touch requests): "utf-8" when it is valid UTF-8 with at least one non-ASCII
// character, else `fallback`.
std::string guess_charset(std::string_view raw, std::string_view fallback);

}  // namespace kaillera::master
