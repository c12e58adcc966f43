// The web page's texts in the players' languages (master/web/texts/<lang>.json, embedded like the page): the
// language is the browser's (Accept-Language) unless ?lang= names one; the master fills the page's {{key}}
// markers with the texts and hands the page's script the whole catalog (docs: master/README.md).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace kaillera::master {

inline constexpr std::string_view kWebLanguages[] = {"en", "pt-BR", "es", "ja", "ko", "zh-CN", "ru"};

// The embedded JSON texts of `lang` (one of kWebLanguages), or nullopt.
std::optional<std::string_view> web_texts_json(std::string_view lang);

// The supported language `tag` stands for ("ja-JP" -> "ja", "pt" -> "pt-BR", "zh-Hans-CN" -> "zh-CN"), or "".
std::string web_language_of(std::string_view tag);
// The page's language for an Accept-Language header: the supported language with the highest q, the first
// of equal ones; "en" when none is supported.
std::string web_language(std::string_view accept_language);

// "" when every language has exactly English's keys with the same {placeholders}; else the first problem
// ("ja.json: pick.best: placeholder {rtt} is missing").
std::string check_web_texts();

// `page` in `lang`: {{key}} markers become the texts (HTML-escaped), {{@lang}} the language, {{@texts}} the
// catalog as JSON for the script. English fills keys a language lacks.
std::string render_web_page(std::string_view page, std::string_view lang);

}  // namespace kaillera::master
