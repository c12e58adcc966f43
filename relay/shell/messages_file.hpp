// The relay's languages (docs/OPERATING.md "Languages"): reads relay/messages/<language>.toml and an
// operator's overrides (messages_file) over the built-in English catalog, checks every text against English
// (known key, the same placeholders) and encodes the texts in the relay's charset for the core.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "relay/core/messages.hpp"

namespace kaillera::relay::shell {

// The languages that ship with the relay (relay/messages/*.toml). Others may be added as files.
inline constexpr std::string_view kLanguages[] = {"en", "pt-BR", "es", "ja", "ko", "zh-CN", "ru"};

struct CatalogLoad {
  std::optional<Messages> messages;    // empty when refused; in the charset
  Messages utf8;                       // the same texts in UTF-8 (for text the shell writes in UTF-8 first)
  std::string error;                   // "language: ...", "messages_file: ...": names the key and the text
  std::vector<std::string> fallbacks;  // keys sent in English: the charset cannot encode their translation
  std::string file;                    // the language file read ("" for English)
};

// Where language files are looked for: `configured` (messages_dir) alone when given; else next to the
// executable (../share/kaillera-federation/messages), the install prefix's, and the source tree's.
std::vector<std::string> message_dirs(const std::string& configured);

// The catalog for `language` (a file <language>.toml in one of `dirs`; "en" needs none) with the
// `overrides_file` (may be empty) over it, in `charset`. A text the charset cannot encode is English.
CatalogLoad load_messages(std::string_view language, const std::string& overrides_file,
                          const std::string& charset, const std::vector<std::string>& dirs);

// Applies a catalog file's entries: "" or the problem, naming the file and the key.
std::string apply_messages(const Messages::Entries& entries, std::string_view source, Messages& m);

}  // namespace kaillera::relay::shell
