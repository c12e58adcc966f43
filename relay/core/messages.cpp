#include "relay/core/messages.hpp"

#include <algorithm>
#include <cassert>
#include <sstream>

#include <toml++/toml.h>

namespace kaillera::relay {

// relay/messages/en.toml, embedded by the build (messages_en.cpp.in).
extern const char* const kEnglishCatalog;

namespace {

bool placeholder_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

// The placeholder starting at text[i] == '{': its length with the braces, or 0 when it is not one.
std::size_t placeholder_at(std::string_view text, std::size_t i) {
  std::size_t j = i + 1;
  while (j < text.size() && placeholder_char(text[j]))
    ++j;
  if (j == i + 1 || j >= text.size() || text[j] != '}') return 0;
  return j - i + 1;
}

std::string flatten(const toml::table& t, const std::string& prefix, std::string_view source,
                    Messages::Entries& out) {
  for (const auto& [k, node] : t) {
    const std::string key = prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
    if (const auto* sub = node.as_table()) {
      if (std::string problem = flatten(*sub, key, source, out); !problem.empty()) return problem;
    } else if (const auto* s = node.as_string()) {
      out.emplace_back(key, s->get());
    } else {
      std::ostringstream where;
      where << source << ": " << key << " (line " << node.source().begin.line << "): must be a string";
      return where.str();
    }
  }
  return {};
}

}  // namespace

const Messages::Entries& Messages::english() {
  static const Entries entries = [] {
    Entries e;
    [[maybe_unused]] const std::string problem = parse(kEnglishCatalog, "en.toml (built in)", e);
    assert(problem.empty());
    return e;
  }();
  return entries;
}

Messages::Messages() {
  static const std::shared_ptr<const Table> english_table = [] {
    auto t = std::make_shared<Table>();
    for (const auto& [k, v] : english())
      t->emplace(k, Entry{v, false});
    return t;
  }();
  table_ = english_table;
}

std::vector<std::string> Messages::placeholders(std::string_view text) {
  std::vector<std::string> names;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '{') continue;
    if (const std::size_t n = placeholder_at(text, i)) {
      names.emplace_back(text.substr(i + 1, n - 2));
      i += n - 1;
    }
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

std::string Messages::parse(std::string_view toml_text, std::string_view source, Entries& out) {
  toml::table table;
  try {
    table = toml::parse(toml_text, source);
  } catch (const toml::parse_error& e) {
    std::ostringstream where;
    where << source << " (line " << e.source().begin.line << "): " << e.description();
    return where.str();
  }
  // toml++ iterates tables in key order; keep it (the file's order is not needed for lookups).
  return flatten(table, "", source, out);
}

Messages::Table& Messages::own() {
  if (table_.use_count() != 1) table_ = std::make_shared<Table>(*table_);
  return const_cast<Table&>(*table_);
}

std::string Messages::set(std::string_view key, std::string text) {
  auto it = table_->find(key);
  if (it == table_->end()) return std::string(key) + ": no such message key";
  const auto* english_text = [&]() -> const std::string* {
    for (const auto& [k, v] : english())
      if (k == key) return &v;
    return nullptr;
  }();
  const auto want = placeholders(english_text ? *english_text : it->second.text);
  const auto got = placeholders(text);
  for (const auto& p : want) {
    if (!std::binary_search(got.begin(), got.end(), p)) {
      return std::string(key) + ": placeholder {" + p + "} is missing";
    }
  }
  for (const auto& p : got) {
    if (!std::binary_search(want.begin(), want.end(), p)) {
      return std::string(key) + ": unknown placeholder {" + p + "}";
    }
  }
  Entry& e = own().find(key)->second;
  e.text = std::move(text);
  e.fallback = false;
  return {};
}

void Messages::set_encoded(std::string_view key, std::string bytes) {
  if (table_->find(key) == table_->end()) return;
  own().find(key)->second.text = std::move(bytes);
}

void Messages::mark_fallback(std::string_view key) {
  auto it = table_->find(key);
  if (it == table_->end()) return;
  for (const auto& [k, v] : english()) {
    if (k != key) continue;
    Entry& e = own().find(key)->second;
    e.text = v;
    e.fallback = true;
  }
}

const std::string* Messages::text(std::string_view key) const {
  auto it = table_->find(key);
  return it == table_->end() ? nullptr : &it->second.text;
}

bool Messages::is_fallback(std::string_view key) const {
  auto it = table_->find(key);
  return it != table_->end() && it->second.fallback;
}

std::vector<std::string> Messages::keys() const {
  std::vector<std::string> k;
  k.reserve(table_->size());
  for (const auto& [key, e] : *table_)
    k.push_back(key);
  std::sort(k.begin(), k.end());
  return k;
}

std::string Messages::format(std::string_view key, std::initializer_list<MessageArg> args,
                             bool* fallback) const {
  auto it = table_->find(key);
  if (it == table_->end()) {
    assert(!"unknown message key");
    return "{" + std::string(key) + "}";
  }
  if (fallback) *fallback = it->second.fallback;
  const std::string& t = it->second.text;
  std::string out;
  out.reserve(t.size() + 16);
  for (std::size_t i = 0; i < t.size(); ++i) {
    if (t[i] == '{') {
      if (const std::size_t n = placeholder_at(t, i)) {
        const std::string_view name(t.data() + i + 1, n - 2);
        const MessageArg* a = nullptr;
        for (const auto& x : args)
          if (x.name == name) a = &x;
        if (a) {
          out += a->value;
          i += n - 1;
          continue;
        }
      }
    }
    out += t[i];
  }
  return out;
}

}  // namespace kaillera::relay
