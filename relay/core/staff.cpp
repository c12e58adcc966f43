// Moderation in the core (DESIGN.md "Moderate", docs/OPERATING.md "Staff"): who is admitted at login, the
// staff commands, and lasting changes. Decisions come from the in-memory Moderation view; every lasting
// change goes to the shell's Journal as a value, and the staff member who made it is told once the shell says
// it is written (change_written). Nobody acts on a user of an equal or higher level.
#include <algorithm>
#include <set>

#include "common/kaillera/conn_type.hpp"
#include "relay/core/server_impl.hpp"
#include "relay/core/text_util.hpp"

namespace kaillera::relay {

namespace {

constexpr std::size_t kMaxListed = 15;

// Names that advertise a site (EmuLinker-K refuses the same for normal users).
bool looks_like_url(std::string_view name) {
  for (std::string_view bad : {"www.", "http:", "https:", "://", "\\"}) {
    if (contains_ignore_case(name, bad)) return true;
  }
  return false;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// The public interface.

void Server::set_journal(Journal* journal) {
  impl_->journal = journal;
}

void Server::load_moderation(ModerationState state) {
  impl_->mod.load(std::move(state));
}

std::size_t Server::set_access(AccessList list, TimePoint now, Sink& out) {
  impl_->mod.set_access(std::move(list));
  const std::size_t changed = impl_->refresh_levels(now);
  impl_->flush(now, out);
  return changed;
}

void Server::change_written(std::uint64_t change_id, bool ok, TimePoint now, Sink& out) {
  Impl& s = *impl_;
  auto it = s.pending_acks.find(change_id);
  if (it == s.pending_acks.end()) return;
  const Impl::PendingAck ack = std::move(it->second);
  s.pending_acks.erase(it);
  if (!ok) ++s.counters.moderation_writes_failed;
  if (Session* u = s.find_user(ack.user_id)) {
    s.info(*u, ok ? ack.line : s.t("staff.not_saved", {{"change", ack.line}}));
  }
  s.flush(now, out);
}

void Server::set_reload_hook(ReloadHook hook) {
  impl_->reload_hook = std::move(hook);
}

void Server::notice(std::uint16_t user_id, std::string_view line, TimePoint now, Sink& out) {
  if (Session* u = impl_->find_user(user_id)) impl_->info(*u, line);
  impl_->flush(now, out);
}

const Moderation& Server::moderation() const {
  return impl_->mod;
}

Level Server::user_level(std::uint16_t user_id) const {
  const Session* u = impl_->find_user(user_id);
  return u ? u->level : Level::kNormal;
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers.

Session* Server::Impl::find_user(std::uint16_t id) {
  Session* u = session(id);
  return u && u->state == SessionState::kLoggedIn ? u : nullptr;
}

bool Server::Impl::outranks(const Session& issuer, Level target) const {
  return issuer.level > target;
}

std::size_t Server::Impl::refresh_levels(TimePoint now) {
  std::size_t changed = 0;
  for (auto& [id, u] : sessions) {
    if (u->state != SessionState::kLoggedIn) continue;
    Level l = mod.level_of(u->addr.ip, now);
    // A banned level among logged-in users comes only from the access file (reload never drops anyone):
    // they keep playing as normal users and are refused at their next login.
    if (l == Level::kBanned) l = Level::kNormal;
    if (l == u->level) continue;
    ++changed;
    const bool up = l > u->level;
    u->level = l;
    info(*u, t(up && l >= Level::kModerator ? "staff.level_now_help" : "staff.level_now",
               {{"level", level_text(l)}}));
  }
  return changed;
}

std::string Server::Impl::sanction_text(const Sanction& x, TimePoint now) const {
  std::string text;
  if (x.until) {
    const auto left = std::chrono::ceil<std::chrono::minutes>(*x.until - now).count();
    text = t("sanction.minutes_left", {{"minutes", std::max<long long>(1, left)}});
  } else {
    text = t("sanction.permanent");
  }
  if (!x.issuer.empty()) text += t("sanction.by", {{"staff", x.issuer}});
  if (!x.reason.empty()) text += t("sanction.reason", {{"reason", x.reason}});
  return text;
}

void Server::Impl::journal_change(ModerationChange c, Session& issuer, std::string ack) {
  ++counters.staff_actions;
  c.change_id = next_change_id++;
  if (journal == nullptr || !journal->has_state_file()) {
    info(issuer, t("staff.memory_only", {{"change", ack}}));
    return;
  }
  if (!journal->change(c)) {
    ++counters.moderation_writes_failed;
    info(issuer, t("staff.not_written", {{"change", ack}}));
    return;
  }
  pending_acks[c.change_id] = {issuer.id, std::move(ack)};
}

void Server::Impl::remove_banned(const AddressRange& range, std::string_view reason, TimePoint now) {
  std::vector<Session*> out;
  for (auto& [id, u] : sessions) {
    if (u->state == SessionState::kLoggedIn && range.contains(u->addr.ip) &&
        mod.level_of(u->addr.ip, now) == Level::kBanned) {
      out.push_back(u.get());
    }
  }
  for (Session* u : out)
    remove_session(*u, reason, now);
}

std::string Server::Impl::policy_refusal(Session& s, TimePoint now) {
  if (s.level == Level::kBanned) {
    ++counters.refused_banned;
    const Sanction* b = mod.ban_of(s.addr.ip, now);
    return b ? t("login.banned", {{"sanction", sanction_text(*b, now)}}) : t("login.not_admitted");
  }
  if (s.exempt()) return {};
  if (!mod.access().emulator_allowed(s.emulator)) {
    ++counters.refused_emulator;
    return t("login.emulator_denied", {{"emulator", s.emulator}});
  }
  if (cfg.refuse_url_names && looks_like_url(s.name)) {
    ++counters.refused_url_name;
    return t("login.url_name");
  }
  if (cfg.max_logins_per_address != 0) {
    std::uint32_t n = 0;
    for (const auto& [id, o] : sessions) {
      // The same name from the same address is a reconnect: it replaces its old session.
      if (o.get() != &s && o->state == SessionState::kLoggedIn && o->addr.ip == s.addr.ip &&
          !equals_ignore_case(trim(o->name), trim(s.name)))
        ++n;
    }
    if (n >= cfg.max_logins_per_address) {
      ++counters.refused_address_limit;
      return t("login.address_limit", {{"max", cfg.max_logins_per_address}});
    }
  }
  return {};
}

// ---------------------------------------------------------------------------------------------------------------
// Staff commands.

void Server::Impl::staff_command(Session& s, const Command& c, Game* room, TimePoint now) {
  (void)room;
  const Target& target = c.target ? *c.target : Target{};
  auto minutes_text = [&](std::optional<std::uint32_t> minutes) {
    return minutes ? t("sanction.for_minutes", {{"minutes", *minutes}}) : t("sanction.permanently");
  };
  auto lifted_text = [&](bool ban, std::uint64_t id) {
    return t(ban ? "staff.ban_lifted" : "staff.silence_lifted", {{"id", id}});
  };
  auto staff_event = [&](std::string_view action) {
    AuditEvent e{"staff", {}};
    e.text("action", action).num("issuer_id", s.id).text("issuer", s.name);
    e.text("issuer_ip", net::ip_to_string(s.addr.ip)).text("issuer_level", level_name(s.level));
    return e;
  };
  // The online user a user-id target names, with the checks every command needs.
  auto target_user = [&]() -> Session* {
    Session* t = find_user(target.user_id);
    if (!t) {
      reply(s, this->t("user.no_such_id", {{"id", target.user_id}}));
    } else if (t == &s) {
      reply(s, this->t("user.is_you"));
      t = nullptr;
    } else if (!outranks(s, t->level)) {
      reply(s, this->t("staff.outranked", {{"player", t->name}, {"level", level_text(t->level)}}));
      t = nullptr;
    }
    return t;
  };
  // The address range of a ban or silence target, and the name of the user it was issued against.
  auto target_range = [&](AddressRange& range, std::string& name) -> bool {
    if (target.kind == Target::Kind::kUserId) {
      Session* t = target_user();
      if (!t) return false;
      range = {t->addr.ip, 32};
      name = t->name;
      return true;
    }
    range = target.range;
    for (const auto& [id, u] : sessions) {
      if (u->state == SessionState::kLoggedIn && range.contains(u->addr.ip) && u.get() != &s &&
          !outranks(s, u->level)) {
        reply(s, t("staff.range_covers",
                   {{"range", to_string(range)}, {"player", u->name}, {"level", level_text(u->level)}}));
        return false;
      }
      if (u->state == SessionState::kLoggedIn && range.contains(u->addr.ip) && name.empty()) name = u->name;
    }
    if (range.contains(s.addr.ip)) {
      reply(s, t("staff.range_covers_you", {{"range", to_string(range)}}));
      return false;
    }
    return true;
  };
  // Addresses a /clear or /info target names: a user's, an address, or every address a name logged in from.
  auto target_ips = [&]() {
    std::vector<std::uint32_t> ips;
    auto add = [&](std::uint32_t ip) {
      if (std::find(ips.begin(), ips.end(), ip) == ips.end() && ips.size() < 4) ips.push_back(ip);
    };
    switch (target.kind) {
      case Target::Kind::kUserId:
        if (Session* t = find_user(target.user_id)) add(t->addr.ip);
        break;
      case Target::Kind::kAddress:
      case Target::Kind::kRange:
        add(target.range.net);
        break;
      case Target::Kind::kName:
        for (const auto& [id, u] : sessions) {
          if (u->state == SessionState::kLoggedIn && equals_ignore_case(trim(u->name), target.name))
            add(u->addr.ip);
        }
        for (auto it = recent_logins.rbegin(); it != recent_logins.rend(); ++it) {
          if (equals_ignore_case(trim(it->name), target.name)) add(it->ip);
        }
        break;
      case Target::Kind::kEntryId:
        break;
    }
    return ips;
  };

  switch (c.info->verb) {
    case Verb::kKick: {
      Session* t = target_user();
      if (!t) return;
      ++counters.staff_actions;
      reply(s, this->t("staff.kicked", {{"player", t->name}}));
      audit(staff_event("kick")
                .num("target_id", t->id)
                .text("target", t->name)
                .text("target_ip", net::ip_to_string(t->addr.ip)));
      remove_session(*t, this->t("quit.kicked", {{"staff", s.name}}), now);
      return;
    }
    case Verb::kBan:
    case Verb::kSilence: {
      const bool ban = c.info->verb == Verb::kBan;
      if (!ban && s.level < Level::kAdmin &&
          (!c.minutes || std::chrono::minutes(*c.minutes) > cfg.moderator_max_silence)) {
        reply(s, t("staff.silence_limit",
                   {{"minutes",
                     std::chrono::duration_cast<std::chrono::minutes>(cfg.moderator_max_silence).count()}}));
        return;
      }
      Sanction x;
      if (!target_range(x.range, x.target_name)) return;
      x.id = mod.next_id();
      if (c.minutes) x.until = now + std::chrono::minutes(*c.minutes);
      x.reason = std::string(c.text);
      x.issuer = s.name;
      x.issuer_ip = s.addr.ip;
      x.at = now;
      const std::string who = x.target_name.empty() ? to_string(x.range) : x.target_name;
      std::string announce =
          t(ban ? "staff.banned" : "staff.silenced", {{"who", who}, {"time", minutes_text(c.minutes)}});
      if (!x.reason.empty()) announce += t("sanction.reason", {{"reason", x.reason}});
      audit(staff_event(ban ? "ban" : "silence")
                .num("id", static_cast<std::int64_t>(x.id))
                .text("range", to_string(x.range))
                .text("target", x.target_name)
                .num("minutes", c.minutes ? static_cast<std::int64_t>(*c.minutes) : 0)
                .flag("permanent", !c.minutes)
                .text("reason", x.reason));
      ModerationChange change;
      change.kind = ban ? ModerationChange::Kind::kBan : ModerationChange::Kind::kSilence;
      change.sanction = x;
      const std::string ack =
          t(ban ? (x.target_name.empty() ? "staff.ban_saved" : "staff.ban_saved_name")
                : (x.target_name.empty() ? "staff.silence_saved" : "staff.silence_saved_name"),
            {{"id", x.id},
             {"range", to_string(x.range)},
             {"player", x.target_name},
             {"time", minutes_text(c.minutes)}});
      if (ban) {
        mod.add_ban(x);
      } else {
        mod.add_silence(x);
      }
      send_all(proto::ServerInformation{"Server", announce});
      journal_change(std::move(change), s, ack);
      if (ban)
        remove_banned(x.range,
                      x.reason.empty() ? t("quit.banned") : t("quit.banned_reason", {{"reason", x.reason}}),
                      now);
      return;
    }
    case Verb::kUnban:
    case Verb::kUnsilence: {
      const bool ban = c.info->verb == Verb::kUnban;
      std::vector<std::uint64_t> ids;
      for (const Sanction* x : ban ? mod.bans(now) : mod.silences(now)) {
        bool hit = false;
        switch (target.kind) {
          case Target::Kind::kEntryId:
            hit = x->id == target.entry_id;
            break;
          case Target::Kind::kUserId:
            if (Session* t = find_user(target.user_id)) hit = x->range.contains(t->addr.ip);
            break;
          case Target::Kind::kAddress:
            hit = x->range.contains(target.range.net);
            break;
          case Target::Kind::kRange:  // the range itself and every narrower one inside it
            hit = x->range.prefix >= target.range.prefix && target.range.contains(x->range.net);
            break;
          case Target::Kind::kName:
            break;
        }
        if (hit) ids.push_back(x->id);
      }
      if (ids.empty()) {
        reply(s, t(ban ? "staff.no_ban" : "staff.no_silence"));
        return;
      }
      for (std::uint64_t id : ids) {
        ban ? mod.remove_ban(id) : mod.remove_silence(id);
        ModerationChange change;
        change.kind = ban ? ModerationChange::Kind::kLiftBan : ModerationChange::Kind::kLiftSilence;
        change.id = id;
        change.by = s.name;
        audit(staff_event(ban ? "unban" : "unsilence").num("id", static_cast<std::int64_t>(id)));
        journal_change(std::move(change), s, lifted_text(ban, id));
      }
      return;
    }
    case Verb::kBans: {
      std::size_t shown = 0, total = 0;
      auto show = [&](const Sanction* x, std::string_view kind) {
        std::string line = t(x->target_name.empty() ? "bans.line" : "bans.line_name",
                             {{"id", x->id},
                              {"kind", kind},
                              {"range", to_string(x->range)},
                              {"player", x->target_name},
                              {"sanction", sanction_text(*x, now)}});
        if (!c.text.empty() && !contains_ignore_case(line, c.text)) return;
        ++total;
        if (shown < kMaxListed) {
          ++shown;
          reply(s, line);
        }
      };
      for (const Sanction* x : mod.bans(now))
        show(x, t("bans.ban"));
      for (const Sanction* x : mod.silences(now))
        show(x, t("bans.silence"));
      if (total == 0) reply(s, t(c.text.empty() ? "bans.none" : "bans.none_match"));
      if (total > shown) reply(s, t("bans.more", {{"count", total - shown}}));
      return;
    }
    case Verb::kClear: {
      const auto ips = target_ips();
      if (ips.empty()) {
        reply(s, t("staff.no_match"));
        return;
      }
      std::size_t lifted = 0;
      for (std::uint32_t ip : ips) {
        // A range clears what covers it and what lies inside it; an address, what covers the address.
        auto hits = [&](const AddressRange& r) {
          if (target.kind == Target::Kind::kRange)
            return r.contains(ip) || (r.prefix >= target.range.prefix && target.range.contains(r.net));
          return r.contains(ip);
        };
        auto lift = [&](std::vector<const Sanction*> list, bool ban) {
          for (const Sanction* x : list) {
            if (!hits(x->range)) continue;
            const std::uint64_t id = x->id;
            ban ? mod.remove_ban(id) : mod.remove_silence(id);
            ModerationChange change;
            change.kind = ban ? ModerationChange::Kind::kLiftBan : ModerationChange::Kind::kLiftSilence;
            change.id = id;
            change.by = s.name;
            journal_change(std::move(change), s, lifted_text(ban, id));
            ++lifted;
          }
        };
        lift(mod.bans(now), true);
        lift(mod.silences(now), false);
        if (s.level >= Level::kOwner) {
          for (const Grant* g : mod.grants(now)) {
            if (!hits({g->ip, 32})) continue;
            const std::uint64_t id = g->id;
            mod.remove_grant(id);
            ModerationChange change;
            change.kind = ModerationChange::Kind::kLiftGrant;
            change.id = id;
            change.by = s.name;
            journal_change(std::move(change), s, t("staff.grant_lifted", {{"id", id}}));
            ++lifted;
          }
        }
        audit(staff_event("clear").text("ip", net::ip_to_string(ip)));
      }
      if (lifted == 0) reply(s, t("staff.nothing_to_clear"));
      refresh_levels(now);
      return;
    }
    case Verb::kInfo: {
      const auto ips = target_ips();
      if (ips.empty()) {
        reply(s, t("staff.no_match"));
        return;
      }
      for (std::uint32_t ip : ips) {
        const AccessEntry* e = mod.access().match(ip);
        std::string line =
            t("info.address", {{"ip", net::ip_to_string(ip)}, {"level", level_text(mod.level_of(ip, now))}});
        if (e && !e->label.empty()) line += t("info.access_file", {{"label", e->label}});
        if (const Grant* g = mod.grant_of(ip, now)) {
          line +=
              t("info.grant", {{"level", level_text(g->level)},
                               {"minutes", std::chrono::ceil<std::chrono::minutes>(g->until - now).count()},
                               {"staff", g->issuer}});
        }
        reply(s, line);
        if (const Sanction* b = mod.ban_of(ip, now))
          reply(s, t("info.ban",
                     {{"id", b->id}, {"range", to_string(b->range)}, {"sanction", sanction_text(*b, now)}}));
        if (const Sanction* x = mod.silence_of(ip, now))
          reply(s, t("info.silence", {{"id", x->id}, {"sanction", sanction_text(*x, now)}}));
        for (const auto& [id, u] : sessions) {
          if (u->state != SessionState::kLoggedIn || u->addr.ip != ip) continue;
          const std::initializer_list<MessageArg> args = {{"id", u->id},
                                                          {"player", u->name},
                                                          {"ping", u->ping_ms},
                                                          {"conn", proto::conn_type_name(u->conn_type)},
                                                          {"game", u->game_id}};
          reply(s, u->game_id ? t("info.online_in_game", args) : t("info.online", args));
        }
        std::size_t n = 0;
        for (auto it = recent_logins.rbegin(); it != recent_logins.rend() && n < 5; ++it) {
          if (it->ip != ip) continue;
          ++n;
          const auto ago = std::chrono::duration_cast<std::chrono::minutes>(now - it->when).count();
          reply(s, t("info.login", {{"minutes", ago},
                                    {"player", it->name},
                                    {"emulator", it->emulator.substr(0, 24)},
                                    {"ping", it->ping_ms}}));
        }
      }
      return;
    }
    case Verb::kFindGame: {
      std::size_t found = 0;
      for (const auto& [id, g] : games) {
        const bool glob = c.text.find_first_of("*?") != std::string_view::npos;
        if (glob ? !glob_match(c.text, g->rom) : !contains_ignore_case(g->rom, c.text)) continue;
        if (++found > kMaxListed) continue;
        const Session* owner = session(g->owner);
        reply(s, t(g->state == GameState::kWaiting ? "findgame.waiting" : "findgame.playing",
                   {{"game", g->id},
                    {"rom", g->rom.substr(0, 32)},
                    {"owner", owner ? t("findgame.owner", {{"player", owner->name}, {"id", owner->id}})
                                    : std::string("?")},
                    {"count", player_count(*g)},
                    {"max", g->max_players}}));
      }
      if (found == 0) reply(s, t("findgame.none"));
      if (found > kMaxListed) reply(s, t("list.more", {{"count", found - kMaxListed}}));
      return;
    }
    case Verb::kAnnounce:
    case Verb::kAnnounceAll:
      send_all(proto::ServerInformation{"Server", c.text});
      if (c.info->verb == Verb::kAnnounceAll) {
        for (const auto& [id, g] : games)
          announce_to_room(*g, c.text);
      }
      audit(staff_event(c.info->verb == Verb::kAnnounce ? "announce" : "announceall").text("text", c.text));
      return;
    case Verb::kAnnounceGame:
    case Verb::kCloseGame: {
      Game* g = game(c.number);
      if (!g) {
        reply(s, t("findgame.no_id", {{"id", c.number}}));
        return;
      }
      if (c.info->verb == Verb::kAnnounceGame) {
        announce_to_room(*g, c.text);
        audit(staff_event("announcegame").num("game_id", g->id).text("text", c.text));
        return;
      }
      ++counters.staff_actions;
      announce_to_room(*g, t("staff.room_closed", {{"player", s.name}}));
      audit(staff_event("closegame").num("game_id", g->id).text("game", g->rom));
      reply(s, t("staff.closed_game", {{"id", c.number}}));
      close_game(*g, now);
      return;
    }
    case Verb::kTempElevated:
    case Verb::kTempModerator:
    case Verb::kTempAdmin: {
      const Level level = c.info->verb == Verb::kTempAdmin       ? Level::kAdmin
                          : c.info->verb == Verb::kTempModerator ? Level::kModerator
                                                                 : Level::kElevated;
      Session* t = target_user();
      if (!t) return;
      if (t->level >= level) {
        reply(s, this->t("staff.level_already", {{"player", t->name}, {"level", level_text(t->level)}}));
        return;
      }
      Grant g;
      g.id = mod.next_id();
      g.ip = t->addr.ip;
      g.level = level;
      g.until = now + std::chrono::minutes(*c.minutes);
      g.issuer = s.name;
      g.target_name = t->name;
      g.at = now;
      audit(staff_event("grant")
                .num("id", static_cast<std::int64_t>(g.id))
                .text("target", t->name)
                .text("target_ip", net::ip_to_string(t->addr.ip))
                .text("level", level_name(level))
                .num("minutes", *c.minutes));
      ModerationChange change;
      change.kind = ModerationChange::Kind::kGrant;
      change.grant = g;
      mod.add_grant(std::move(g));
      journal_change(std::move(change), s,
                     this->t("staff.grant_saved",
                             {{"player", t->name}, {"level", level_text(level)}, {"minutes", *c.minutes}}));
      refresh_levels(now);
      return;
    }
    case Verb::kStealthOn:
    case Verb::kStealthOff:
      s.stealth = c.info->verb == Verb::kStealthOn;
      audit(staff_event(s.stealth ? "stealthon" : "stealthoff"));
      reply(s, s.stealth ? t("stealth.on") : t("stealth.off"));
      return;
    case Verb::kReload:
      if (!reload_hook) {
        reply(s, t("staff.nothing_to_reload"));
        return;
      }
      audit(staff_event("reload"));
      reply(s, t("staff.reloading"));
      reload_hook(s.id);
      return;
    case Verb::kShutdown:
      audit(staff_event("shutdown"));
      shutdown_requested = true;
      reply(s, t("staff.shutting_down"));
      return;
    default:
      return;
  }
}

}  // namespace kaillera::relay
