// Charsets of Kaillera text. Clients send their Windows code page's bytes; the relay passes them through and
// says which charset they are in (config `charset`). Where text must become UTF-8 (JSON, gRPC, the web page),
// it is decoded here, undecodable bytes replaced by U+FFFD, never dropped.
#pragma once

#include <string>
#include <string_view>

namespace kaillera::text {

// The iconv name for a config charset name (windows-1252, shift_jis, gbk, cp949, windows-1251, utf-8, ...),
// or "" when unknown. Matching ignores case and '-'/'_'.
std::string iconv_name(std::string_view charset);
bool known_charset(std::string_view charset);

// Bytes in `charset` to UTF-8; every byte that does not decode becomes U+FFFD.
std::string to_utf8(std::string_view bytes, std::string_view charset);
// UTF-8 to `charset`; characters the charset lacks become '?'.
std::string from_utf8(std::string_view utf8, std::string_view charset);

}  // namespace kaillera::text
