#include "relay/shell/messages_file.hpp"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/text/charset.hpp"

#ifndef KF_MESSAGES_INSTALL_DIR
#define KF_MESSAGES_INSTALL_DIR ""
#endif
#ifndef KF_MESSAGES_SOURCE_DIR
#define KF_MESSAGES_SOURCE_DIR ""
#endif

namespace kaillera::relay::shell {
namespace {

namespace fs = std::filesystem;

// A language name is a file name: letters, digits and '-' only (no path).
bool valid_language(std::string_view l) {
  if (l.empty() || l.size() > 16) return false;
  for (char c : l) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v)
    out += (out.empty() ? "" : ", ") + s;
  return out;
}

// The languages found in `dirs` (for the error message).
std::vector<std::string> available(const std::vector<std::string>& dirs) {
  std::vector<std::string> found = {"en"};
  for (const auto& d : dirs) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(d, ec)) {
      if (e.path().extension() != ".toml") continue;
      const std::string name = e.path().stem().string();
      if (std::find(found.begin(), found.end(), name) == found.end()) found.push_back(name);
    }
    if (found.size() > 1) break;  // the first directory with files is the one used
  }
  std::sort(found.begin() + 1, found.end());
  return found;
}

}  // namespace

std::vector<std::string> message_dirs(const std::string& configured) {
  if (!configured.empty()) return {configured};
  std::vector<std::string> dirs;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) dirs.push_back((exe.parent_path().parent_path() / "share/kaillera-federation/messages").string());
  for (const char* d : {KF_MESSAGES_INSTALL_DIR, KF_MESSAGES_SOURCE_DIR}) {
    if (*d != '\0' && std::find(dirs.begin(), dirs.end(), d) == dirs.end()) dirs.emplace_back(d);
  }
  return dirs;
}

std::string apply_messages(const Messages::Entries& entries, std::string_view source, Messages& m) {
  for (const auto& [key, text] : entries) {
    if (std::string problem = m.set(key, text); !problem.empty()) return std::string(source) + ": " + problem;
  }
  return {};
}

CatalogLoad load_messages(std::string_view language, const std::string& overrides_file,
                          const std::string& charset, const std::vector<std::string>& dirs) {
  CatalogLoad r;
  Messages m;
  if (!valid_language(language)) {
    r.error =
        "language: '" + std::string(language) + "' is not a language name (en, pt-BR, es, ja, ko, zh-CN, ru)";
    return r;
  }
  if (language != "en") {
    std::optional<std::string> text;
    for (const auto& d : dirs) {
      const std::string path = (fs::path(d) / (std::string(language) + ".toml")).string();
      if ((text = read_file(path))) {
        r.file = path;
        break;
      }
    }
    if (!text) {
      r.error = "language: no message file " + std::string(language) + ".toml in " +
                (dirs.empty() ? std::string("(no directory)") : join(dirs)) +
                " (languages there: " + join(available(dirs)) + "; messages_dir names another directory)";
      return r;
    }
    Messages::Entries entries;
    if (std::string problem = Messages::parse(*text, r.file, entries); !problem.empty()) {
      r.error = "language: " + problem;
      return r;
    }
    if (std::string problem = apply_messages(entries, r.file, m); !problem.empty()) {
      r.error = "language: " + problem;
      return r;
    }
  }
  if (!overrides_file.empty()) {
    const auto text = read_file(overrides_file);
    if (!text) {
      r.error = "messages_file: cannot read '" + overrides_file + "'";
      return r;
    }
    Messages::Entries entries;
    if (std::string problem = Messages::parse(*text, overrides_file, entries); !problem.empty()) {
      r.error = "messages_file: " + problem;
      return r;
    }
    if (std::string problem = apply_messages(entries, overrides_file, m); !problem.empty()) {
      r.error = "messages_file: " + problem;
      return r;
    }
  }
  r.utf8 = m;
  // Into the charset. English is ASCII, which every charset the relay knows writes as itself.
  for (const auto& key : m.keys()) {
    const std::string* utf8 = m.text(key);
    auto bytes = text::encode_exact(*utf8, charset);
    if (bytes) {
      if (*bytes != *utf8) m.set_encoded(key, std::move(*bytes));
    } else {
      m.mark_fallback(key);
      r.utf8.mark_fallback(key);
      r.fallbacks.push_back(key);
    }
  }
  r.messages = std::move(m);
  return r;
}

}  // namespace kaillera::relay::shell
