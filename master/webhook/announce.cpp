#include "master/webhook/announce.hpp"

#include <algorithm>
#include <set>

namespace kaillera::master::webhook {

namespace {

char fold(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string folded(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    c = fold(c);
  return out;
}

// Length of the UTF-8 sequence starting with `lead` (1 for stray continuation or invalid bytes).
std::size_t utf8_length(unsigned char lead) {
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  if (lead >= 0xE0) return lead <= 0xEF ? 3 : 1;
  if (lead >= 0xC2) return 2;
  return 1;
}

std::string game_key(const GameView& g) {
  return g.server_id + '\x1f' + std::to_string(g.game_id) + '\x1f' + g.name;
}

}  // namespace

bool glob_match(std::string_view pattern, std::string_view text) {
  // Iterative matching with one backtrack point (the last '*'): linear in practice, never exponential.
  std::size_t p = 0, t = 0;
  std::size_t star_p = std::string_view::npos, star_t = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star_p = p++;
      star_t = t;
      continue;
    }
    if (p < pattern.size() && pattern[p] == '?') {
      ++p;
      t += std::min(utf8_length(static_cast<unsigned char>(text[t])), text.size() - t);
      continue;
    }
    if (p < pattern.size() && fold(pattern[p]) == fold(text[t])) {
      ++p;
      ++t;
      continue;
    }
    if (star_p == std::string_view::npos) return false;
    p = star_p + 1;
    star_t += std::min(utf8_length(static_cast<unsigned char>(text[star_t])), text.size() - star_t);
    t = star_t;
  }
  while (p < pattern.size() && pattern[p] == '*')
    ++p;
  return p == pattern.size();
}

bool relay_passes(const Filter& f, const RelayView& r) {
  if (r.external && !f.external) return false;
  if (!f.relays.empty()) {
    const std::string name = folded(r.name);
    const bool named = std::any_of(f.relays.begin(), f.relays.end(),
                                   [&](const std::string& x) { return x == r.id || folded(x) == name; });
    if (!named) return false;
  }
  if (!f.locations.empty()) {
    const std::string where = folded(r.location);
    const bool in = std::any_of(f.locations.begin(), f.locations.end(), [&](const std::string& x) {
      return where.find(folded(x)) != std::string::npos;
    });
    if (!in) return false;
  }
  return true;
}

bool game_passes(const Filter& f, const GameView& g) {
  if (g.players < f.min_players) return false;
  if (f.games.empty()) return true;
  return std::any_of(f.games.begin(), f.games.end(),
                     [&](const std::string& p) { return glob_match(p, g.name); });
}

std::vector<Event> Announcer::observe(const Observation& obs) {
  std::vector<Event> out;
  const UnixMillis now = obs.now;
  std::map<std::string, const RelayView*> relays;
  for (const auto& r : obs.relays)
    relays[r.id] = &r;

  // Relays.
  for (const auto& r : obs.relays) {
    auto it = online_.find(r.id);
    const bool changed = it == online_.end() ? r.online : it->second != r.online;
    online_[r.id] = r.online;
    if (first_ || !changed || !relay_passes(config_.filter, r)) continue;
    const EventType type = r.online ? EventType::kRelayOnline : EventType::kRelayOffline;
    if (config_.wants(type)) out.push_back(Event{type, now, r, std::nullopt, {}, 0});
  }
  for (auto it = online_.begin(); it != online_.end();) {  // removed from the list
    it = relays.count(it->first) ? std::next(it) : online_.erase(it);
  }

  // Games in the list now.
  std::set<std::string> seen;
  for (const auto& g : obs.games) {
    const auto relay = relays.find(g.server_id);
    if (relay == relays.end()) continue;  // a game without its server: not shown anywhere
    const std::string key = game_key(g);
    if (!seen.insert(key).second) continue;
    auto [it, fresh] = games_.try_emplace(key);
    Track& t = it->second;
    if (fresh) {
      t.first_seen = now;
      t.done = first_;  // in the list before we looked: never announced
    } else if (!t.present && !t.eligible) {
      t.first_seen = now;  // the debounce counts time spent waiting without a break
    }
    t.present = true;
    t.last_seen = now;
    t.game = g;
    if (t.done) continue;
    const RelayView& r = *relay->second;
    if (!t.eligible) {
      if (now - t.first_seen < config_.debounce_ms) continue;
      if (!relay_passes(config_.filter, r) || !game_passes(config_.filter, g)) continue;
      t.eligible = true;
      // A game that is full already waits for nobody: only game_started says so (below).
      const bool full = g.max_players > 0 && g.players >= g.max_players;
      if (!full && config_.wants(EventType::kGameOpened))
        out.push_back(Event{EventType::kGameOpened, now, r, g, {}, t.first_seen});
    }
    if (g.max_players > 0 && g.players >= g.max_players) {
      t.done = true;
      if (config_.wants(EventType::kGameStarted))
        out.push_back(Event{EventType::kGameStarted, now, r, g, "full", t.first_seen});
    }
  }

  // Games that left the list: started when their relay's playing games rose (as many as it rose by, lowest
  // game ids first), else closed. Either way nothing more is said about them.
  std::map<std::string, std::vector<std::map<std::string, Track>::iterator>> left;  // by server
  for (auto it = games_.begin(); it != games_.end(); ++it) {
    Track& t = it->second;
    if (!t.present || seen.count(it->first)) continue;
    t.present = false;
    if (t.eligible && !t.done) left[it->first.substr(0, it->first.find('\x1f'))].push_back(it);
    t.done = t.done || t.eligible;
  }
  for (auto& [server, tracks] : left) {
    const auto relay = relays.find(server);
    if (relay == relays.end() || !relay->second->online) continue;
    const RelayView& rv = *relay->second;
    const auto before = playing_.find(server);
    std::int64_t rose = before == playing_.end() ? 0 : rv.playing_games - before->second;
    // Every game being played listed by id: exactly those started. Otherwise the count's rise decides.
    const bool listed = static_cast<std::int64_t>(rv.playing_ids.size()) == rv.playing_games;
    std::sort(tracks.begin(), tracks.end(),
              [](const auto& x, const auto& y) { return x->second.game.game_id < y->second.game.game_id; });
    for (const auto& it : tracks) {
      const bool playing = std::find(rv.playing_ids.begin(), rv.playing_ids.end(), it->second.game.game_id) !=
                           rv.playing_ids.end();
      if (!playing) {
        if (listed || before == playing_.end() || rose <= 0) continue;
      }
      --rose;
      if (config_.wants(EventType::kGameStarted))
        out.push_back(Event{EventType::kGameStarted, now, *relay->second, it->second.game, "started",
                            it->second.first_seen});
    }
  }

  // Forget games long gone, and remember each server's playing games for the next observation.
  for (auto it = games_.begin(); it != games_.end();) {
    it = !it->second.present && now - it->second.last_seen > kForgetMs ? games_.erase(it) : std::next(it);
  }
  playing_.clear();
  for (const auto& r : obs.relays)
    if (r.online) playing_[r.id] = r.playing_games;
  first_ = false;
  return out;
}

}  // namespace kaillera::master::webhook
