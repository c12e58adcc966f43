// libFuzzer target: any bytes as a chat command line, parsed as typed in the lobby and in a room.
// parse_command must never crash, and what it returns must hold together: a command whose arguments parsed
// has a table entry; user ids are 1..65535; minutes, when given, are 1..525600 (a year); swap orders are
// distinct player numbers 1..8; and every view it returns (the word, the free text, a name) points into the
// input line.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "relay/core/command_parse.hpp"

namespace {

namespace r = kaillera::relay;

void check(bool ok) {
  if (!ok) std::abort();
}

// An empty view may point anywhere (or nowhere); a non-empty one lies inside `line`.
bool inside(std::string_view part, std::string_view line) {
  if (part.empty()) return true;
  return part.data() >= line.data() && part.data() + part.size() <= line.data() + line.size();
}

void one(std::string_view line, bool in_room) {
  const r::Command c = r::parse_command(line, in_room);
  if (c.ok) check(c.info != nullptr);
  check(inside(c.word, line));
  check(inside(c.text, line));
  check(c.word.find(' ') == std::string_view::npos);
  if (c.info != nullptr) {
    // The entry found is the word typed (case-insensitively).
    check(c.info->word.size() == c.word.size());
    for (std::size_t i = 0; i < c.word.size(); ++i) {
      char a = c.word[i];
      if (a >= 'A' && a <= 'Z') a = static_cast<char>(a - 'A' + 'a');
      check(a == c.info->word[i]);
    }
  }
  if (c.minutes) check(*c.minutes >= 1 && *c.minutes <= 525600);
  if (c.target) {
    switch (c.target->kind) {
      case r::Target::Kind::kUserId:
        check(c.target->user_id >= 1);  // a u16: at most 65535 by its type
        break;
      case r::Target::Kind::kAddress:
        check(c.target->range.prefix == 32);
        break;
      case r::Target::Kind::kRange:
        check(c.target->range.prefix < 32);
        break;
      case r::Target::Kind::kName:
        check(!c.target->name.empty());
        check(inside(c.target->name, line));
        break;
      case r::Target::Kind::kEntryId:
        check(c.target->entry_id >= 1);
        break;
    }
  }
  if (c.ok && c.info->args == r::Args::kOrder) {
    check(c.number >= 2 && c.number <= 8);
    unsigned seen = 0;
    for (std::uint32_t i = 0; i < c.number; ++i) {
      const unsigned d = c.order[i];
      check(d >= 1 && d <= 8);
      check((seen & (1u << d)) == 0);
      seen |= 1u << d;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  one(line, false);
  one(line, true);
  return 0;
}
