#include "master/web_texts.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <vector>

#include <nlohmann/json.hpp>

namespace kaillera::master {

// Generated (master/CMakeLists.txt): the embedded master/web/texts/<lang>.json.
std::optional<std::string_view> embedded_web_texts(std::string_view lang);

namespace {

using Texts = std::map<std::string, std::string, std::less<>>;

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return std::string(s);
}

std::set<std::string> placeholders(std::string_view text) {
  std::set<std::string> names;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '{') continue;
    std::size_t j = i + 1;
    while (j < text.size() &&
           ((text[j] >= 'a' && text[j] <= 'z') || (text[j] >= '0' && text[j] <= '9') || text[j] == '_'))
      ++j;
    if (j > i + 1 && j < text.size() && text[j] == '}') names.emplace(text.substr(i + 1, j - i - 1));
  }
  return names;
}

// Parsed once; a file that is not a JSON object of strings is empty (check_web_texts says why).
const Texts& texts_of(std::string_view lang) {
  static const std::map<std::string, Texts, std::less<>> all = [] {
    std::map<std::string, Texts, std::less<>> m;
    for (std::string_view l : kWebLanguages) {
      Texts t;
      if (auto json = embedded_web_texts(l)) {
        const auto doc = nlohmann::json::parse(*json, nullptr, false);
        if (doc.is_object()) {
          for (const auto& [k, v] : doc.items())
            if (v.is_string()) t.emplace(k, v.get<std::string>());
        }
      }
      m.emplace(std::string(l), std::move(t));
    }
    return m;
  }();
  auto it = all.find(lang);
  return it == all.end() ? all.find("en")->second : it->second;
}

std::string html_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace

std::optional<std::string_view> web_texts_json(std::string_view lang) {
  if (std::find(std::begin(kWebLanguages), std::end(kWebLanguages), lang) == std::end(kWebLanguages))
    return std::nullopt;
  return embedded_web_texts(lang);
}

std::string web_language_of(std::string_view tag) {
  const std::string t = lower(trim(tag));
  for (std::string_view l : kWebLanguages) {
    if (t == lower(l)) return std::string(l);
  }
  const std::string primary = t.substr(0, t.find('-'));
  if (primary == "pt") return "pt-BR";
  if (primary == "zh") return "zh-CN";
  for (std::string_view l : kWebLanguages) {
    if (primary == lower(l)) return std::string(l);
  }
  return {};
}

std::string web_language(std::string_view accept_language) {
  std::string best = "en";
  double best_q = 0;
  while (!accept_language.empty()) {
    const auto comma = accept_language.find(',');
    const std::string_view item = accept_language.substr(0, comma);
    accept_language =
        comma == std::string_view::npos ? std::string_view() : accept_language.substr(comma + 1);
    const auto semi = item.find(';');
    const std::string lang = web_language_of(item.substr(0, semi));
    double q = 1;
    if (semi != std::string_view::npos) {
      const std::string param = trim(item.substr(semi + 1));
      if (param.rfind("q=", 0) == 0) {
        try {
          q = std::stod(param.substr(2));
        } catch (...) {
          q = 0;
        }
      }
    }
    if (!lang.empty() && q > best_q) {
      best = lang;
      best_q = q;
    }
  }
  return best;
}

std::string check_web_texts() {
  for (std::string_view l : kWebLanguages) {
    const auto json = embedded_web_texts(l);
    if (!json) return std::string(l) + ".json: not embedded";
    const auto doc = nlohmann::json::parse(*json, nullptr, false);
    if (!doc.is_object()) return std::string(l) + ".json: not a JSON object";
    for (const auto& [k, v] : doc.items())
      if (!v.is_string()) return std::string(l) + ".json: " + k + ": not a string";
  }
  const Texts& en = texts_of("en");
  for (std::string_view l : kWebLanguages) {
    const Texts& t = texts_of(l);
    const std::string file = std::string(l) + ".json: ";
    for (const auto& [key, text] : en) {
      auto it = t.find(key);
      if (it == t.end()) return file + key + ": missing";
      const auto want = placeholders(text), got = placeholders(it->second);
      for (const auto& p : want)
        if (!got.count(p)) return file + key + ": placeholder {" + p + "} is missing";
      for (const auto& p : got)
        if (!want.count(p)) return file + key + ": unknown placeholder {" + p + "}";
    }
    for (const auto& [key, text] : t)
      if (!en.count(key)) return file + key + ": no such key in en.json";
  }
  return {};
}

std::string render_web_page(std::string_view page, std::string_view lang) {
  const Texts& en = texts_of("en");
  const Texts& t = texts_of(lang);
  nlohmann::json catalog = nlohmann::json::object();
  for (const auto& [key, text] : en) {
    auto it = t.find(key);
    catalog[key] = it == t.end() ? text : it->second;
  }
  std::string json = catalog.dump();
  // Inside <script>: no "</" may end it early.
  for (std::size_t at = json.find("</"); at != std::string::npos; at = json.find("</", at + 3))
    json.replace(at, 2, "<\\/");
  std::string out;
  out.reserve(page.size() + json.size());
  for (std::size_t i = 0; i < page.size();) {
    const auto open = page.find("{{", i);
    const auto close = open == std::string_view::npos ? open : page.find("}}", open + 2);
    if (close == std::string_view::npos) {
      out.append(page.substr(i));
      break;
    }
    out.append(page.substr(i, open - i));
    const std::string_view key = page.substr(open + 2, close - open - 2);
    if (key == "@lang") {
      out += lang;
    } else if (key == "@texts") {
      out += json;
    } else if (catalog.contains(std::string(key))) {
      out += html_escape(catalog[std::string(key)].get<std::string>());
    } else {
      out.append(page.substr(open, close + 2 - open));  // not a marker of ours: left as it was
    }
    i = close + 2;
  }
  return out;
}

}  // namespace kaillera::master
