// The relay's message catalog (docs/OPERATING.md "Languages"): every text the relay sends to players, by a
// stable key ("command.unknown"), with named placeholders ("Unknown command /{command}. Try /help").
//
// English is compiled in (relay/messages/en.toml, embedded at build time), so a relay works without files.
// The shell reads a language file and an operator's overrides, checks each against English (the same keys,
// the same placeholders) and encodes the texts in the relay's charset; the core gets the result as a value
// inside its Config and only formats. Pure: no files, no clock.
#pragma once

#include <concepts>
#include <cstddef>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace kaillera::relay {

// One placeholder's value: bytes as they go out (names and chat are the clients' own bytes).
struct MessageArg {
  std::string_view name;
  std::string value;
  MessageArg(std::string_view n, std::string_view v) : name(n), value(v) {}
  MessageArg(std::string_view n, const std::string& v) : name(n), value(v) {}
  MessageArg(std::string_view n, const char* v) : name(n), value(v) {}
  template <std::integral T>
  MessageArg(std::string_view n, T v) : name(n), value(std::to_string(v)) {}
};

class Messages {
 public:
  using Entries = std::vector<std::pair<std::string, std::string>>;  // (key, text), in file order

  Messages();  // English

  // The built-in English catalog (keys in file order).
  static const Entries& english();
  // The placeholder names of a text ("{player} left" -> {"player"}), sorted, without duplicates. A
  // placeholder is '{' + [a-z0-9_]+ + '}'; any other brace is text.
  static std::vector<std::string> placeholders(std::string_view text);
  // A catalog file's text: TOML with a table per section ("[command] unknown = ..." is "command.unknown").
  // Returns "" or the problem, naming `source` and the key or line.
  static std::string parse(std::string_view toml_text, std::string_view source, Entries& out);

  // Replaces a key's text; "" or the problem, naming the key: unknown key, or placeholders that differ
  // from English's (one missing, one unknown).
  std::string set(std::string_view key, std::string text);
  // Replaces a key's text with the same text in another charset (no checks: the bytes of a multi-byte
  // charset may look like braces). Unknown keys are ignored.
  void set_encoded(std::string_view key, std::string bytes);
  // The key's text is English because the translation could not be encoded; formatting it counts.
  void mark_fallback(std::string_view key);

  // The text of `key` with its placeholders filled. `fallback` (optional) is set when the text is an
  // English fallback. An unknown key gives "{key}" (a bug: the catalog test catches it).
  std::string format(std::string_view key, std::initializer_list<MessageArg> args = {},
                     bool* fallback = nullptr) const;
  const std::string* text(std::string_view key) const;
  bool is_fallback(std::string_view key) const;
  std::size_t size() const { return table_->size(); }
  std::vector<std::string> keys() const;

 private:
  struct Entry {
    std::string text;
    bool fallback = false;
  };
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using Table = std::unordered_map<std::string, Entry, Hash, std::equal_to<>>;
  Table& own();  // copy on write
  std::shared_ptr<const Table> table_;
};

}  // namespace kaillera::relay
