// Charsets of Kaillera text. Clients send their Windows code page's bytes; the relay passes them through and
// says which charset they are in (config `charset`). Where text must become UTF-8 (JSON, gRPC, the web page),
// it is decoded here, undecodable bytes replaced by U+FFFD, never dropped.
#pragma once

#include <cstddef>
#include <optional>
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
// UTF-8 to `charset` exactly, for operator-written text that must reach clients unchanged: nullopt when
// `utf8` is not UTF-8, has a character the charset cannot encode (no '?', no transliteration) or the charset
// is unknown. `bad_at` then gets the byte offset in `utf8` of the first such character (npos: unknown
// charset). Unlike a round trip through to_utf8, many-to-one mappings pass (Shift_JIS encodes both U+301C
// WAVE DASH and U+FF5E FULLWIDTH TILDE as 0x8160).
std::optional<std::string> encode_exact(std::string_view utf8, std::string_view charset,
                                        std::size_t* bad_at = nullptr);

}  // namespace kaillera::text
