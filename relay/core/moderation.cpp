#include "relay/core/moderation.hpp"

#include <algorithm>
#include <charconv>

#include "common/net/address.hpp"

namespace kaillera::relay {

namespace {

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

std::uint32_t mask_of(std::uint8_t prefix) {
  return prefix == 0 ? 0u : ~std::uint32_t{0} << (32 - prefix);
}

}  // namespace

std::string_view level_name(Level l) {
  switch (l) {
    case Level::kBanned:
      return "banned";
    case Level::kNormal:
      return "normal";
    case Level::kElevated:
      return "elevated";
    case Level::kModerator:
      return "moderator";
    case Level::kAdmin:
      return "admin";
    case Level::kOwner:
      return "owner";
  }
  return "normal";
}

std::optional<Level> parse_level(std::string_view name) {
  for (int i = 0; i <= static_cast<int>(Level::kOwner); ++i) {
    const auto l = static_cast<Level>(i);
    const std::string_view n = level_name(l);
    if (n.size() == name.size() &&
        std::equal(n.begin(), n.end(), name.begin(), [](char a, char b) { return a == lower(b); })) {
      return l;
    }
  }
  return std::nullopt;
}

std::optional<AddressRange> parse_range(std::string_view text) {
  const auto slash = text.find('/');
  const auto ip = net::parse_ipv4(text.substr(0, slash));
  if (!ip) return std::nullopt;
  AddressRange r{*ip, 32};
  if (slash != std::string_view::npos) {
    const std::string_view p = text.substr(slash + 1);
    unsigned v = 0;
    auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), v);
    if (p.empty() || ec != std::errc() || end != p.data() + p.size() || v > 32) return std::nullopt;
    r.prefix = static_cast<std::uint8_t>(v);
    if ((r.net & ~mask_of(r.prefix)) != 0) return std::nullopt;  // host bits set: a typo, not a network
  }
  return r;
}

std::string to_string(const AddressRange& r) {
  std::string s = net::ip_to_string(r.net);
  if (r.prefix != 32) s += "/" + std::to_string(r.prefix);
  return s;
}

bool glob_match(std::string_view pattern, std::string_view text) {
  // Iterative matcher with one backtrack point: linear in practice, never exponential.
  std::size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || lower(pattern[p]) == lower(text[t]))) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*')
    ++p;
  return p == pattern.size();
}

// ---------------------------------------------------------------------------------------------------------------

const AccessEntry* AccessList::match(std::uint32_t ip) const {
  for (const auto& e : entries) {
    for (const auto& r : e.ranges) {
      if (r.contains(ip)) return &e;
    }
    if (std::find(e.resolved.begin(), e.resolved.end(), ip) != e.resolved.end()) return &e;
  }
  return nullptr;
}

namespace {
bool allowed(const std::vector<std::string>& allow, const std::vector<std::string>& deny,
             std::string_view s) {
  for (const auto& p : deny) {
    if (glob_match(p, s)) return false;
  }
  if (allow.empty()) return true;
  return std::any_of(allow.begin(), allow.end(), [&](const std::string& p) { return glob_match(p, s); });
}
}  // namespace

bool AccessList::game_allowed(std::string_view rom) const {
  return allowed(games_allow, games_deny, rom);
}
bool AccessList::emulator_allowed(std::string_view emulator) const {
  return allowed(emulators_allow, emulators_deny, emulator);
}

AccessList admins_access(const std::vector<std::string>& admins) {
  AccessList list;
  for (const auto& a : admins) {
    auto ip = net::parse_ipv4(a);
    if (!ip) continue;
    AccessEntry e;
    e.level = Level::kAdmin;
    e.ranges.push_back({*ip, 32});
    e.label = "relay.toml admins";
    list.entries.push_back(std::move(e));
  }
  return list;
}

// ---------------------------------------------------------------------------------------------------------------

void Moderation::RangeIndex::add(const AddressRange& r, std::uint64_t id) {
  by_prefix[r.prefix][r.net & mask_of(r.prefix)].push_back(id);
}

void Moderation::RangeIndex::remove(const AddressRange& r, std::uint64_t id) {
  auto p = by_prefix.find(r.prefix);
  if (p == by_prefix.end()) return;
  auto n = p->second.find(r.net & mask_of(r.prefix));
  if (n == p->second.end()) return;
  std::erase(n->second, id);
  if (n->second.empty()) p->second.erase(n);
  if (p->second.empty()) by_prefix.erase(p);
}

template <class F>
void Moderation::RangeIndex::for_each(std::uint32_t ip, F&& f) const {
  for (const auto& [prefix, nets] : by_prefix) {
    auto it = nets.find(ip & mask_of(prefix));
    if (it == nets.end()) continue;
    for (std::uint64_t id : it->second)
      f(id);
  }
}

void Moderation::set_access(AccessList list) {
  access_ = std::move(list);
}

void Moderation::load(ModerationState state) {
  bans_.clear();
  silences_.clear();
  grants_.clear();
  ban_index_ = {};
  silence_index_ = {};
  for (auto& b : state.bans)
    add_ban(std::move(b));
  for (auto& s : state.silences)
    add_silence(std::move(s));
  for (auto& g : state.grants)
    add_grant(std::move(g));
  next_id_ = std::max(next_id_, state.next_id);
}

const Sanction* Moderation::find(const std::unordered_map<std::uint64_t, Sanction>& all,
                                 const RangeIndex& index, std::uint32_t ip, ModTime now) const {
  const Sanction* best = nullptr;
  index.for_each(ip, [&](std::uint64_t id) {
    auto it = all.find(id);
    if (it == all.end() || !it->second.active(now)) return;
    const Sanction& s = it->second;
    // The one that lasts longest decides (a permanent one over any timed one).
    if (!best || (best->until && (!s.until || *s.until > *best->until))) best = &s;
  });
  return best;
}

const Sanction* Moderation::ban_of(std::uint32_t ip, ModTime now) const {
  return find(bans_, ban_index_, ip, now);
}

const Sanction* Moderation::silence_of(std::uint32_t ip, ModTime now) const {
  return find(silences_, silence_index_, ip, now);
}

bool Moderation::silenced(std::uint32_t ip, ModTime now) const {
  if (silence_of(ip, now)) return true;
  const AccessEntry* e = access_.match(ip);
  return e && e->silenced;
}

const Grant* Moderation::grant_of(std::uint32_t ip, ModTime now) const {
  const Grant* best = nullptr;
  for (const auto& [id, g] : grants_) {
    if (g.ip == ip && now < g.until && (!best || g.level > best->level)) best = &g;
  }
  return best;
}

Level Moderation::granted_level(std::uint32_t ip, ModTime now) const {
  const AccessEntry* e = access_.match(ip);
  Level l = e ? e->level : access_.default_level;
  if (const Grant* g = grant_of(ip, now); g && g->level > l) l = g->level;
  return l;
}

Level Moderation::level_of(std::uint32_t ip, ModTime now) const {
  const Level l = granted_level(ip, now);
  // A ban never locks out staff (their level comes from the access file or an owner's grant): lower the
  // level first. Everyone else in the banned range is banned.
  if (!is_staff(l) && ban_of(ip, now)) return Level::kBanned;
  return l;
}

void Moderation::add_ban(Sanction s) {
  next_id_ = std::max(next_id_, s.id + 1);
  ban_index_.add(s.range, s.id);
  bans_[s.id] = std::move(s);
}

void Moderation::add_silence(Sanction s) {
  next_id_ = std::max(next_id_, s.id + 1);
  silence_index_.add(s.range, s.id);
  silences_[s.id] = std::move(s);
}

void Moderation::add_grant(Grant g) {
  next_id_ = std::max(next_id_, g.id + 1);
  grants_[g.id] = std::move(g);
}

bool Moderation::remove_ban(std::uint64_t id) {
  auto it = bans_.find(id);
  if (it == bans_.end()) return false;
  ban_index_.remove(it->second.range, id);
  bans_.erase(it);
  return true;
}

bool Moderation::remove_silence(std::uint64_t id) {
  auto it = silences_.find(id);
  if (it == silences_.end()) return false;
  silence_index_.remove(it->second.range, id);
  silences_.erase(it);
  return true;
}

bool Moderation::remove_grant(std::uint64_t id) {
  return grants_.erase(id) != 0;
}

namespace {
template <class Map>
auto active_sorted(const Map& all, ModTime now) {
  std::vector<const typename Map::mapped_type*> v;
  for (const auto& [id, x] : all) {
    if (x.active(now)) v.push_back(&x);
  }
  std::sort(v.begin(), v.end(), [](auto* a, auto* b) { return a->id < b->id; });
  return v;
}
}  // namespace

std::vector<const Sanction*> Moderation::bans(ModTime now) const {
  return active_sorted(bans_, now);
}
std::vector<const Sanction*> Moderation::silences(ModTime now) const {
  return active_sorted(silences_, now);
}
std::vector<const Grant*> Moderation::grants(ModTime now) const {
  std::vector<const Grant*> v;
  for (const auto& [id, g] : grants_) {
    if (now < g.until) v.push_back(&g);
  }
  std::sort(v.begin(), v.end(), [](auto* a, auto* b) { return a->id < b->id; });
  return v;
}

bool Moderation::expire(ModTime now) {
  bool any = false;
  for (auto it = bans_.begin(); it != bans_.end();) {
    if (!it->second.active(now)) {
      ban_index_.remove(it->second.range, it->first);
      it = bans_.erase(it);
      any = true;
    } else {
      ++it;
    }
  }
  for (auto it = silences_.begin(); it != silences_.end();) {
    if (!it->second.active(now)) {
      silence_index_.remove(it->second.range, it->first);
      it = silences_.erase(it);
      any = true;
    } else {
      ++it;
    }
  }
  for (auto it = grants_.begin(); it != grants_.end();) {
    if (now >= it->second.until) {
      it = grants_.erase(it);
      any = true;
    } else {
      ++it;
    }
  }
  return any;
}

}  // namespace kaillera::relay
