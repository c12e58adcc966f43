// The webhooks' pure logic (master/webhook): which events a webhook announces (debounce, once-only, filters,
// started and full games, relays coming and going), the payloads' shapes, the delivery schedule (backoff,
// Retry-After, the rate limit, the queue bound) and the [[webhook]] config. Time is an argument throughout;
// every expected value is worked out by hand in the comments.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <toml++/toml.h>

#include "master/webhook/announce.hpp"
#include "master/webhook/config.hpp"
#include "master/webhook/config_toml.hpp"
#include "master/webhook/delivery.hpp"
#include "master/webhook/payload.hpp"

namespace {

using namespace kaillera::master::webhook;
using nlohmann::json;

RelayView relay(std::string id, std::string name, std::string location = "Tokyo", bool online = true) {
  RelayView r;
  r.id = std::move(id);
  r.name = std::move(name);
  r.location = std::move(location);
  r.online = online;
  r.address = "203.0.113.5:27888";
  r.users = 3;
  r.max_users = 16;
  return r;
}

GameView game(std::string server, std::int64_t id, std::string name, std::int64_t players = 1,
              std::int64_t max_players = 2) {
  GameView g;
  g.server_id = std::move(server);
  g.game_id = id;
  g.name = std::move(name);
  g.owner = "ryu";
  g.emulator = "MAME32k 0.64";
  g.players = players;
  g.max_players = max_players;
  return g;
}

Observation obs(UnixMillis now, std::vector<RelayView> relays, std::vector<GameView> games = {}) {
  return Observation{now, std::move(relays), std::move(games)};
}

WebhookConfig config(std::vector<EventType> events = {EventType::kGameOpened},
                     std::int64_t debounce_ms = 10'000) {
  WebhookConfig c;
  c.name = "test";
  c.url = "https://discord.example/api/webhooks/1/secret";
  c.events = std::move(events);
  c.debounce_ms = debounce_ms;
  return c;
}

// ---- filters
// ------------------------------------------------------------------------------------------------

TEST(WebhookGlob, StarQuestionMarkAndCase) {
  EXPECT_TRUE(glob_match("Street*", "Street Fighter II"));
  EXPECT_TRUE(glob_match("street fighter*", "STREET FIGHTER II"));
  EXPECT_TRUE(glob_match("*II", "Street Fighter II"));
  EXPECT_TRUE(glob_match("*Fighter*", "Street Fighter II"));
  EXPECT_TRUE(glob_match("?treet*", "Street Fighter II"));
  EXPECT_TRUE(glob_match("*", ""));
  EXPECT_FALSE(glob_match("Street", "Street Fighter II"));  // whole names, not parts
  EXPECT_FALSE(glob_match("*Alpha*", "Street Fighter II"));
  EXPECT_FALSE(glob_match("?", ""));
  // '?' is one character, however many UTF-8 bytes it takes: "ストリート" is 5 characters, 15 bytes.
  EXPECT_TRUE(glob_match("?????", "\xE3\x82\xB9\xE3\x83\x88\xE3\x83\xAA\xE3\x83\xBC\xE3\x83\x88"));
  EXPECT_FALSE(glob_match("????", "\xE3\x82\xB9\xE3\x83\x88\xE3\x83\xAA\xE3\x83\xBC\xE3\x83\x88"));
  EXPECT_TRUE(glob_match("\xE3\x82\xB9*", "\xE3\x82\xB9\xE3\x83\x88\xE3\x83\xAA\xE3\x83\xBC\xE3\x83\x88"));
}

TEST(WebhookFilter, RelaysByNameOrIdLocationsAndExternal) {
  Filter f;
  const RelayView tokyo = relay("7", "Relay Tokyo", "Tokyo, Japan");
  RelayView ext = relay("ext:198.51.100.1:27888", "EmuLinker", "Paris");
  ext.external = true;
  EXPECT_TRUE(relay_passes(f, tokyo));
  EXPECT_FALSE(relay_passes(f, ext));  // external servers only when asked for
  f.external = true;
  EXPECT_TRUE(relay_passes(f, ext));
  f.relays = {"relay tokyo"};
  EXPECT_TRUE(relay_passes(f, tokyo));
  EXPECT_FALSE(relay_passes(f, ext));
  f.relays = {"7"};
  EXPECT_TRUE(relay_passes(f, tokyo));
  f.relays = {"Relay"};  // a name matches whole
  EXPECT_FALSE(relay_passes(f, tokyo));
  f.relays = {};
  f.locations = {"japan"};
  EXPECT_TRUE(relay_passes(f, tokyo));
  EXPECT_FALSE(relay_passes(f, ext));
}

TEST(WebhookFilter, GamesAndMinPlayers) {
  Filter f;
  f.games = {"Street Fighter*", "*Puzzle*"};
  EXPECT_TRUE(game_passes(f, game("1", 1, "Street Fighter II")));
  EXPECT_TRUE(game_passes(f, game("1", 1, "Super Puzzle Fighter II Turbo")));
  EXPECT_FALSE(game_passes(f, game("1", 1, "Cadillacs and Dinosaurs")));
  f.games = {};
  f.min_players = 2;
  EXPECT_FALSE(game_passes(f, game("1", 1, "Street Fighter II", 1, 4)));
  EXPECT_TRUE(game_passes(f, game("1", 1, "Street Fighter II", 2, 4)));
}

// ---- the announcer
// ------------------------------------------------------------------------------------------

TEST(WebhookAnnouncer, OpenedOnceAfterTheDebounce) {
  Announcer a(config());
  const RelayView r = relay("1", "Relay Tokyo");
  EXPECT_TRUE(a.observe(obs(0, {r})).empty());
  EXPECT_TRUE(a.observe(obs(1'000, {r}, {game("1", 5, "Street Fighter II")})).empty());  // first seen at 1000
  EXPECT_TRUE(a.observe(obs(10'999, {r}, {game("1", 5, "Street Fighter II")})).empty());  // 9999 ms < 10000
  const auto e = a.observe(obs(11'000, {r}, {game("1", 5, "Street Fighter II")}));        // 10000 ms
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].type, EventType::kGameOpened);
  EXPECT_EQ(e[0].at, 11'000);
  EXPECT_EQ(e[0].waiting_since, 1'000);
  ASSERT_TRUE(e[0].game.has_value());
  EXPECT_EQ(e[0].game->name, "Street Fighter II");
  EXPECT_EQ(e[0].relay.name, "Relay Tokyo");
  EXPECT_TRUE(a.observe(obs(12'000, {r}, {game("1", 5, "Street Fighter II")})).empty());  // once
  EXPECT_TRUE(a.observe(obs(60'000, {r}, {game("1", 5, "Street Fighter II", 1, 4)})).empty());
}

TEST(WebhookAnnouncer, AGameShorterThanTheDebounceIsNeverAnnounced) {
  Announcer a(config());
  const RelayView r = relay("1", "Relay Tokyo");
  a.observe(obs(0, {r}));
  EXPECT_TRUE(a.observe(obs(1'000, {r}, {game("1", 5, "Street Fighter II")})).empty());
  EXPECT_TRUE(a.observe(obs(9'000, {r})).empty());  // closed after 8 s
  EXPECT_TRUE(a.observe(obs(20'000, {r})).empty());
  // The same game id and name again: the debounce starts over (waiting without a break counts).
  EXPECT_TRUE(a.observe(obs(30'000, {r}, {game("1", 5, "Street Fighter II")})).empty());
  EXPECT_TRUE(a.observe(obs(39'999, {r}, {game("1", 5, "Street Fighter II")})).empty());
  const auto e = a.observe(obs(40'000, {r}, {game("1", 5, "Street Fighter II")}));
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].waiting_since, 30'000);
}

TEST(WebhookAnnouncer, ZeroDebounceAnnouncesAtOnce) {
  Announcer a(config({EventType::kGameOpened}, 0));
  const RelayView r = relay("1", "Relay Tokyo");
  a.observe(obs(0, {r}));
  EXPECT_EQ(a.observe(obs(500, {r}, {game("1", 5, "Street Fighter II")})).size(), 1u);
}

TEST(WebhookAnnouncer, WhatTheFirstObservationShowsIsNeverAnnounced) {
  Announcer a(config({EventType::kGameOpened, EventType::kGameStarted, EventType::kRelayOnline}));
  const RelayView r = relay("1", "Relay Tokyo");
  EXPECT_TRUE(a.observe(obs(0, {r}, {game("1", 5, "Street Fighter II")})).empty());
  EXPECT_TRUE(a.observe(obs(60'000, {r}, {game("1", 5, "Street Fighter II")})).empty());
  EXPECT_TRUE(a.observe(obs(61'000, {r}, {game("1", 5, "Street Fighter II", 2, 2)})).empty());
}

TEST(WebhookAnnouncer, OnceEvenWhenTheRelayDropsOutAndComesBack) {
  Announcer a(config());
  RelayView r = relay("1", "Relay Tokyo");
  a.observe(obs(0, {r}));
  a.observe(obs(1'000, {r}, {game("1", 5, "Street Fighter II")}));
  ASSERT_EQ(a.observe(obs(11'000, {r}, {game("1", 5, "Street Fighter II")})).size(), 1u);
  r.online = false;  // its games leave the list with it
  EXPECT_TRUE(a.observe(obs(40'000, {r})).empty());
  r.online = true;
  EXPECT_TRUE(a.observe(obs(50'000, {r}, {game("1", 5, "Street Fighter II")})).empty());
  EXPECT_TRUE(a.observe(obs(70'000, {r}, {game("1", 5, "Street Fighter II")})).empty());
  // Another game with the same id is another game.
  a.observe(obs(80'000, {r}, {game("1", 5, "Final Fight")}));
  EXPECT_EQ(a.observe(obs(90'000, {r}, {game("1", 5, "Final Fight")})).size(), 1u);
}

TEST(WebhookAnnouncer, ForgetsGamesLongGone) {
  Announcer a(config());
  const RelayView r = relay("1", "Relay Tokyo");
  a.observe(obs(0, {r}));
  a.observe(obs(1'000, {r}, {game("1", 5, "Street Fighter II")}));
  a.observe(obs(11'000, {r}, {game("1", 5, "Street Fighter II")}));
  a.observe(obs(12'000, {r}));  // gone; last seen at 11000
  EXPECT_EQ(a.tracked_games(), 1u);
  a.observe(obs(11'000 + Announcer::kForgetMs, {r}));  // not more than kForgetMs ago: kept
  EXPECT_EQ(a.tracked_games(), 1u);
  a.observe(obs(11'001 + Announcer::kForgetMs, {r}));
  EXPECT_EQ(a.tracked_games(), 0u);
}

TEST(WebhookAnnouncer, FiltersKeepOtherRelaysAndGamesOut) {
  WebhookConfig c = config();
  c.filter.relays = {"Relay Tokyo"};
  c.filter.games = {"Street Fighter*"};
  c.filter.min_players = 2;
  Announcer a(c);
  const RelayView tokyo = relay("1", "Relay Tokyo"), berlin = relay("2", "Relay Berlin", "Berlin");
  a.observe(obs(0, {tokyo, berlin}));
  const std::vector<GameView> games = {game("2", 1, "Street Fighter II", 2, 2),
                                       game("1", 2, "Final Fight", 2, 3),
                                       game("1", 3, "Street Fighter Alpha", 1, 2)};
  a.observe(obs(1'000, {tokyo, berlin}, games));
  EXPECT_TRUE(a.observe(obs(20'000, {tokyo, berlin}, games)).empty());
  // A second player joins game 3: now it passes (the debounce has long run).
  auto joined = games;
  joined[2].players = 2;
  joined[2].max_players = 4;
  const auto e = a.observe(obs(21'000, {tokyo, berlin}, joined));
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].game->game_id, 3);
  EXPECT_EQ(e[0].waiting_since, 1'000);
}

TEST(WebhookAnnouncer, FullAndStartedGames) {
  Announcer a(config({EventType::kGameStarted}));  // game_opened not subscribed: started still comes
  RelayView r = relay("1", "Relay Tokyo");
  a.observe(obs(0, {r}));
  a.observe(obs(
      1'000, {r},
      {game("1", 5, "Street Fighter II"), game("1", 6, "Final Fight", 1, 3), game("1", 7, "Puzzle Bobble")}));
  EXPECT_TRUE(a.observe(obs(11'000, {r},
                            {game("1", 5, "Street Fighter II"), game("1", 6, "Final Fight", 1, 3),
                             game("1", 7, "Puzzle Bobble")}))
                  .empty());
  // Game 5 fills: said at once, once.
  auto e = a.observe(obs(12'000, {r},
                         {game("1", 5, "Street Fighter II", 2, 2), game("1", 6, "Final Fight", 1, 3),
                          game("1", 7, "Puzzle Bobble")}));
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].type, EventType::kGameStarted);
  EXPECT_EQ(e[0].reason, "full");
  EXPECT_EQ(e[0].game->game_id, 5);
  // Games 5, 6 and 7 leave the waiting list while playing games rise by 1: the lowest id that has not been
  // said yet (6) started; 7 counts as closed. 5 was said already.
  r.playing_games = 1;
  e = a.observe(obs(13'000, {r}));
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].reason, "started");
  EXPECT_EQ(e[0].game->game_id, 6);
  EXPECT_EQ(e[0].game->name, "Final Fight");
  EXPECT_EQ(e[0].waiting_since, 1'000);
  EXPECT_TRUE(a.observe(obs(14'000, {r})).empty());
}

// A relay that lists its games being played (issue 18): exactly those started, whatever the count did. Here
// one game ended as another started, so the count stayed 1; the count alone would have said nothing.
TEST(WebhookAnnouncer, AGameInTheRelaysPlayingListStarted) {
  Announcer a(config({EventType::kGameStarted}));
  RelayView r = relay("1", "Relay Tokyo");
  r.playing_games = 1;
  r.playing_ids = {3};
  const std::vector<GameView> waiting = {game("1", 6, "Final Fight", 1, 3), game("1", 7, "Puzzle Bobble")};
  a.observe(obs(0, {r}));
  a.observe(obs(1'000, {r}, waiting));
  EXPECT_TRUE(a.observe(obs(11'000, {r}, waiting)).empty());
  r.playing_ids = {7};  // 3 ended, 7 started, 6 closed
  const auto e = a.observe(obs(12'000, {r}));
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].reason, "started");
  EXPECT_EQ(e[0].game->game_id, 7);
  EXPECT_EQ(e[0].game->name, "Puzzle Bobble");
}

TEST(WebhookAnnouncer, AGameFullBeforeTheDebounceIsNotOpenedOnlyStarted) {
  Announcer a(config({EventType::kGameOpened, EventType::kGameStarted}));
  const RelayView r = relay("1", "Relay Tokyo");
  a.observe(obs(0, {r}));
  a.observe(obs(1'000, {r}, {game("1", 5, "Street Fighter II", 1, 2)}));
  EXPECT_TRUE(a.observe(obs(5'000, {r}, {game("1", 5, "Street Fighter II", 2, 2)})).empty());  // debouncing
  const auto e = a.observe(obs(11'000, {r}, {game("1", 5, "Street Fighter II", 2, 2)}));
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].type, EventType::kGameStarted);
  EXPECT_EQ(e[0].reason, "full");
}

TEST(WebhookAnnouncer, AClosedGameIsNotStarted) {
  Announcer a(config({EventType::kGameOpened, EventType::kGameStarted}, 0));
  const RelayView r = relay("1", "Relay Tokyo");
  a.observe(obs(0, {r}));
  ASSERT_EQ(a.observe(obs(1'000, {r}, {game("1", 5, "Street Fighter II")})).size(), 1u);
  EXPECT_TRUE(a.observe(obs(2'000, {r})).empty());  // playing games stayed 0
}

TEST(WebhookAnnouncer, RelaysComingAndGoing) {
  WebhookConfig c = config({EventType::kRelayOnline, EventType::kRelayOffline});
  c.filter.locations = {"tokyo"};
  Announcer a(c);
  RelayView tokyo = relay("1", "Relay Tokyo"), berlin = relay("2", "Relay Berlin", "Berlin");
  EXPECT_TRUE(a.observe(obs(0, {tokyo, berlin})).empty());  // online at start: nothing said
  tokyo.online = false;
  berlin.online = false;
  auto e = a.observe(obs(1'000, {tokyo, berlin}));
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].type, EventType::kRelayOffline);
  EXPECT_EQ(e[0].relay.id, "1");
  EXPECT_TRUE(a.observe(obs(2'000, {tokyo, berlin})).empty());
  tokyo.online = true;
  e = a.observe(obs(3'000, {tokyo, berlin}));
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].type, EventType::kRelayOnline);
  // A relay new to the list and online at once.
  e = a.observe(obs(4'000, {tokyo, berlin, relay("3", "Relay Osaka", "Osaka, near Tokyo")}));
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].relay.id, "3");
}

// ---- payloads
// -----------------------------------------------------------------------------------------------

Event opened_event() {
  Event e;
  e.type = EventType::kGameOpened;
  e.at = 951'782'400'123 + 3'723'000;  // 2000-02-29 (11016 days after 1970-01-01) 01:02:03.123 UTC
  e.relay = relay("1", "Relay Tokyo");
  e.game = game("1", 5, "Street Fighter II");
  e.waiting_since = 951'782'400'000;
  return e;
}

TEST(WebhookPayload, Iso8601) {
  EXPECT_EQ(iso8601(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(iso8601(951'782'400'123 + 3'723'000), "2000-02-29T01:02:03.123Z");
  EXPECT_EQ(iso8601(1'445'412'480'000), "2015-10-21T07:28:00.000Z");
}

TEST(WebhookPayload, DiscordShape) {
  const json j = json::parse(format_payload(Format::kDiscord, opened_event()));
  EXPECT_EQ(j["content"], "**Street Fighter II** \xE2\x80\x94 waiting for players on **Relay Tokyo**");
  ASSERT_EQ(j["embeds"].size(), 1u);
  const json& embed = j["embeds"][0];
  EXPECT_EQ(embed["title"], "Street Fighter II");
  EXPECT_EQ(embed["description"], "Waiting for players on Relay Tokyo");
  EXPECT_EQ(embed["timestamp"], "2000-02-29T01:02:03.123Z");
  EXPECT_EQ(embed["color"], 0x2ECC71);
  std::map<std::string, std::string> fields;
  for (const auto& f : embed["fields"])
    fields[f["name"]] = f["value"];
  EXPECT_EQ(fields["Players"], "1/2");
  EXPECT_EQ(fields["Emulator"], "MAME32k 0.64");
  EXPECT_EQ(fields["Relay"], "Relay Tokyo");
  EXPECT_EQ(fields["Location"], "Tokyo");
  EXPECT_EQ(fields["Address"], "203.0.113.5:27888");
  EXPECT_EQ(fields["Opened by"], "ryu");
  EXPECT_EQ(j["allowed_mentions"], json::parse(R"({"parse": []})"));
}

TEST(WebhookPayload, DiscordEscapesMarkdownAndNeverPings) {
  Event e = opened_event();
  e.game->name = "@everyone *free* _win_\nnow";
  const json j = json::parse(format_payload(Format::kDiscord, e));
  EXPECT_EQ(j["embeds"][0]["title"], "\\@everyone \\*free\\* \\_win\\_ now");
  EXPECT_EQ(discord_escape("a|b`c~d>e\\f"), "a\\|b\\`c\\~d\\>e\\\\f");
  EXPECT_TRUE(j["allowed_mentions"]["parse"].empty());
}

TEST(WebhookPayload, SlackShape) {
  Event e = opened_event();
  e.relay.name = "R&D <Tokyo>";
  const json j = json::parse(format_payload(Format::kSlack, e));
  EXPECT_EQ(j["text"], "*Street Fighter II* \xE2\x80\x94 waiting for players on R&amp;D &lt;Tokyo&gt;");
  ASSERT_EQ(j["blocks"].size(), 2u);
  EXPECT_EQ(j["blocks"][0]["type"], "section");
  EXPECT_EQ(j["blocks"][0]["text"]["text"], j["text"]);
  const std::string context = j["blocks"][1]["elements"][0]["text"];
  EXPECT_NE(context.find("Players: 1/2"), std::string::npos) << context;
  EXPECT_NE(context.find("Relay: R&amp;D &lt;Tokyo&gt;"), std::string::npos) << context;
}

TEST(WebhookPayload, JsonShapeAndOtherEvents) {
  const json j = json::parse(format_payload(Format::kJson, opened_event()));
  EXPECT_EQ(j["event"], "game_opened");
  EXPECT_EQ(j["at_unix_ms"], 951'782'400'123 + 3'723'000);
  EXPECT_EQ(j["waiting_since_unix_ms"], 951'782'400'000);
  EXPECT_EQ(j["relay"]["id"], "1");
  EXPECT_EQ(j["relay"]["name"], "Relay Tokyo");
  EXPECT_EQ(j["game"]["name"], "Street Fighter II");
  EXPECT_EQ(j["game"]["players"], 1);
  EXPECT_EQ(j["game"]["max_players"], 2);
  EXPECT_FALSE(j.contains("reason"));

  Event full = opened_event();
  full.type = EventType::kGameStarted;
  full.reason = "full";
  full.game->players = 2;
  EXPECT_EQ(headline(full), "Street Fighter II on Relay Tokyo is full (2/2)");
  EXPECT_EQ(json::parse(format_payload(Format::kJson, full))["reason"], "full");
  full.reason = "started";
  EXPECT_EQ(headline(full), "Street Fighter II started on Relay Tokyo");
  Event off;
  off.type = EventType::kRelayOffline;
  off.relay = relay("1", "Relay Tokyo", "Tokyo", false);
  EXPECT_EQ(headline(off), "Relay Tokyo went offline");
  const json o = json::parse(format_payload(Format::kJson, off));
  EXPECT_TRUE(o["game"].is_null());
  EXPECT_EQ(json::parse(format_payload(Format::kDiscord, off))["content"], "**Relay Tokyo** went offline");
}

// ---- delivery
// -----------------------------------------------------------------------------------------------

TEST(WebhookDelivery, RetryAfterValues) {
  EXPECT_EQ(parse_retry_after("120", 0), 120'000);
  EXPECT_EQ(parse_retry_after(" 2 ", 0), 2'000);
  EXPECT_EQ(parse_retry_after("1.5", 0), 1'500);
  EXPECT_EQ(parse_retry_after("0.0015", 0), 2);  // 1.5 ms, rounded up
  // 2015-10-21 07:28:00 UTC is Unix 1445412480; asked 30 s before.
  EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1'445'412'450'000), 30'000);
  EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1'445'412'490'000), 0);  // past
  EXPECT_EQ(parse_retry_after("soon", 0), std::nullopt);
  EXPECT_EQ(parse_retry_after("", 0), std::nullopt);
  EXPECT_EQ(parse_retry_after("1.", 0), std::nullopt);
  EXPECT_EQ(parse_retry_after("Wed, 21 Foo 2015 07:28:00 GMT", 0), std::nullopt);
}

WebhookConfig delivery_config() {
  WebhookConfig c = config();
  c.max_attempts = 3;
  c.retry_ms = 2'000;
  c.rate_per_minute = 100;
  c.queue_max = 10;
  return c;
}

TEST(WebhookDelivery, BackoffDoublesUpToItsCap) {
  DeliveryQueue q(delivery_config());
  EXPECT_EQ(q.backoff(1), 2'000);
  EXPECT_EQ(q.backoff(2), 4'000);
  EXPECT_EQ(q.backoff(3), 8'000);
  EXPECT_EQ(q.backoff(9), 512'000);
  EXPECT_EQ(q.backoff(10), DeliveryQueue::kMaxBackoffMs);  // 1'024'000 > 600'000
  EXPECT_EQ(q.backoff(60), DeliveryQueue::kMaxBackoffMs);
}

TEST(WebhookDelivery, FailuresRetryWithBackoffThenGiveUp) {
  DeliveryQueue q(delivery_config());
  EXPECT_EQ(q.wake_at(0), std::nullopt);
  ASSERT_TRUE(q.push("a", EventType::kGameOpened));
  ASSERT_TRUE(q.push("b", EventType::kGameOpened));
  EXPECT_EQ(q.wake_at(0), 0);
  auto m = q.next(0);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->body, "a");
  EXPECT_EQ(q.wake_at(0), std::nullopt);  // one at a time
  EXPECT_FALSE(q.next(0));
  EXPECT_EQ(q.done({Outcome::kTimeout, 0, std::nullopt}, 100), Verdict::kRetry);
  EXPECT_EQ(q.wake_at(100), 2'100);  // 100 + 2000
  EXPECT_FALSE(q.next(2'099));
  m = q.next(2'100);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->body, "a");  // the same message first
  EXPECT_EQ(q.done({Outcome::kHttpError, 503, std::nullopt}, 2'200), Verdict::kRetry);
  EXPECT_EQ(q.wake_at(2'200), 6'200);  // 2200 + 4000
  ASSERT_TRUE(q.next(6'200));
  EXPECT_EQ(q.done({Outcome::kConnectError, 0, std::nullopt}, 6'300), Verdict::kGaveUp);  // 3rd failure
  EXPECT_EQ(q.waiting(), 1u);
  EXPECT_EQ(q.wake_at(6'300), 6'200);  // the last backoff (until 6200) is over: due now
  m = q.next(6'300);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->body, "b");
}

TEST(WebhookDelivery, RateLimitedHonoursRetryAfterWithoutUsingAnAttempt) {
  WebhookConfig c = delivery_config();
  c.max_attempts = 1;
  DeliveryQueue q(c);
  q.push("a", EventType::kGameOpened);
  ASSERT_TRUE(q.next(1'000));
  EXPECT_EQ(q.done({Outcome::kRateLimited, 429, 5'000}, 1'000),
            Verdict::kRetry);  // max_attempts 1, still kept
  EXPECT_EQ(q.wake_at(1'000), 6'000);
  EXPECT_FALSE(q.next(5'999));
  auto m = q.next(6'000);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->rate_limited, 1);
  // Without Retry-After: the backoff of the 2nd rate limit (4000 ms).
  EXPECT_EQ(q.done({Outcome::kRateLimited, 429, std::nullopt}, 6'000), Verdict::kRetry);
  EXPECT_EQ(q.wake_at(6'000), 10'000);
  ASSERT_TRUE(q.next(10'000));
  EXPECT_EQ(q.done({Outcome::kOk, 204, std::nullopt}, 10'050), Verdict::kSent);
  EXPECT_EQ(q.waiting(), 0u);
}

TEST(WebhookDelivery, ARefusalIsFinal) {
  DeliveryQueue q(delivery_config());
  q.push("a", EventType::kGameOpened);
  q.push("b", EventType::kGameOpened);
  ASSERT_TRUE(q.next(0));
  EXPECT_EQ(q.done({Outcome::kHttpError, 404, std::nullopt}, 10), Verdict::kRejected);
  auto m = q.next(10);  // no backoff after a refusal
  ASSERT_TRUE(m);
  EXPECT_EQ(m->body, "b");
}

TEST(WebhookDelivery, RateLimitPerMinuteAndQueueBound) {
  WebhookConfig c = delivery_config();
  c.rate_per_minute = 2;
  c.queue_max = 3;
  DeliveryQueue q(c);
  EXPECT_TRUE(q.push("a", EventType::kGameOpened));
  EXPECT_TRUE(q.push("b", EventType::kGameOpened));
  EXPECT_TRUE(q.push("c", EventType::kGameOpened));
  EXPECT_FALSE(q.push("d", EventType::kGameOpened));  // queue_max 3
  ASSERT_TRUE(q.next(0));
  q.done({Outcome::kOk, 200, std::nullopt}, 5);
  ASSERT_TRUE(q.next(10));
  q.done({Outcome::kOk, 200, std::nullopt}, 15);
  EXPECT_EQ(q.wake_at(20), 60'000);  // 2 deliveries started at 0 and 10: the first leaves the window at 60000
  EXPECT_FALSE(q.next(59'999));
  auto m = q.next(60'000);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->body, "c");
}

// ---- config
// -------------------------------------------------------------------------------------------------

std::string parse(const std::string& text, std::vector<WebhookConfig>& out) {
  const toml::table t = toml::parse(text);
  return parse_webhooks(*t.get("webhook"), out);
}

TEST(WebhookConfigToml, ReadsEveryKey) {
  std::vector<WebhookConfig> hooks;
  ASSERT_EQ(parse(R"(
[[webhook]]
url = "https://discord.com/api/webhooks/1/abc"
format = "discord"
events = ["game_opened", "game_started", "relay_offline"]
relays = ["Relay Tokyo", "3"]
locations = "Japan"
games = ["Street Fighter*"]
min_players = 2
external = true
debounce_ms = 5000
timeout_ms = 3000
max_attempts = 7
retry_ms = 500
rate_per_minute = 10
queue_max = 50
ca_file = "/etc/ssl/extra.pem"

[[webhook]]
name = "ops"
url = "http://127.0.0.1:9000/hook"
)",
                  hooks),
            "");
  ASSERT_EQ(hooks.size(), 2u);
  const auto& a = hooks[0];
  EXPECT_EQ(a.name, "webhook-1");
  EXPECT_EQ(a.format, Format::kDiscord);
  EXPECT_EQ(a.events, (std::vector<EventType>{EventType::kGameOpened, EventType::kGameStarted,
                                              EventType::kRelayOffline}));
  EXPECT_EQ(a.filter.relays, (std::vector<std::string>{"Relay Tokyo", "3"}));
  EXPECT_EQ(a.filter.locations, (std::vector<std::string>{"Japan"}));
  EXPECT_EQ(a.filter.games, (std::vector<std::string>{"Street Fighter*"}));
  EXPECT_EQ(a.filter.min_players, 2);
  EXPECT_TRUE(a.filter.external);
  EXPECT_EQ(a.debounce_ms, 5000);
  EXPECT_EQ(a.timeout_ms, 3000);
  EXPECT_EQ(a.max_attempts, 7);
  EXPECT_EQ(a.retry_ms, 500);
  EXPECT_EQ(a.rate_per_minute, 10);
  EXPECT_EQ(a.queue_max, 50);
  EXPECT_EQ(a.ca_file, "/etc/ssl/extra.pem");
  const auto& b = hooks[1];
  EXPECT_EQ(b.name, "ops");
  EXPECT_EQ(b.format, Format::kJson);
  EXPECT_EQ(b.events, std::vector<EventType>{EventType::kGameOpened});
  EXPECT_EQ(b.debounce_ms, 15'000);
}

TEST(WebhookConfigToml, NamesTheEntryKeyAndLine) {
  std::vector<WebhookConfig> hooks;
  EXPECT_EQ(
      parse("[[webhook]]\nurl = \"http://a/\"\n[[webhook]]\nurl = \"http://b/\"\nformat = \"xml\"\n", hooks),
      "entry 2, key 'format' (line 5): must be discord, slack or json (got 'xml')");
  EXPECT_EQ(parse("[[webhook]]\nurl = \"http://a/\"\nevent = [\"game_opened\"]\n", hooks),
            "entry 1: unknown key 'event' (line 3)");
  EXPECT_EQ(
      parse("[[webhook]]\nurl = \"http://a/\"\nevents = [\"game_closed\"]\n", hooks),
      "entry 1, key 'events' (line 3): must name game_opened, game_started, relay_online or relay_offline "
      "(got 'game_closed')");
  EXPECT_EQ(parse("[[webhook]]\nformat = \"slack\"\n", hooks), "entry 1 (line 1): key 'url' is missing");
  EXPECT_EQ(parse("[[webhook]]\nurl = \"ftp://a/\"\n", hooks),
            "entry 1, key 'url' (line 2): must be an http:// or https:// URL");
  EXPECT_EQ(parse("[[webhook]]\nurl = \"http://a/\"\nmin_players = 0\n", hooks),
            "entry 1, key 'min_players' (line 3): must be an integer 1..255 (got 0)");
  EXPECT_EQ(parse("webhook = \"http://a/\"\n", hooks), "must be tables ([[webhook]]) (got a string)");
  EXPECT_TRUE(hooks.empty());  // nothing kept from failed parses
}

TEST(WebhookConfigCheck, UrlsNamesAndFiles) {
  std::string problem;
  const auto u = parse_url("https://Discord.com/api/webhooks/1/secret?wait=true", problem);
  ASSERT_TRUE(u) << problem;
  EXPECT_TRUE(u->tls);
  EXPECT_EQ(u->host, "discord.com");
  EXPECT_EQ(u->port, 443);
  EXPECT_EQ(u->target, "/api/webhooks/1/secret?wait=true");
  EXPECT_EQ(u->shown(), "https://discord.com:443");  // never the secret path
  const auto v = parse_url("http://127.0.0.1:8081", problem);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->port, 8081);
  EXPECT_EQ(v->target, "/");
  EXPECT_FALSE(parse_url("http://user:pw@host/", problem));
  EXPECT_FALSE(parse_url("http://host:99999/", problem));
  EXPECT_FALSE(parse_url("http:///x", problem));

  WebhookConfig a = config(), b = config();
  EXPECT_EQ(check_webhooks({a}), "");
  EXPECT_EQ(check_webhooks({a, b}), "webhook[2].name: 'test' names two webhooks");
  b.name = "other";
  b.ca_file = "/nonexistent/ca.pem";
  EXPECT_EQ(check_webhooks({a, b}), "webhook[2].ca_file: cannot read '/nonexistent/ca.pem'");
  b.ca_file = std::string(KF_SOURCE_DIR) + "/master/master.example.toml";  // readable, but no certificate
  EXPECT_EQ(check_webhooks({a, b}), "webhook[2].ca_file: '" + b.ca_file + "' holds no PEM certificate");
}

}  // namespace
