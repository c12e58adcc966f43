#include "relay/reporter/fair.hpp"

#include <condition_variable>
#include <mutex>
#include <set>

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include "common/text/charset.hpp"
#include "kaillera/directory/v1/directory.grpc.pb.h"
#include "relay/reporter/reporter.hpp"

namespace kaillera::relay {

namespace v1 = ::kaillera::directory::v1;

namespace {

constexpr int kMaxInFlight = 4;

// A measurement with its unit ("fair.hops": "{count} hops"), "?" when unknown.
std::string number(const Messages& m, int v, std::string_view key) {
  return v < 0 ? std::string("?") : m.format(key, {{"count", v}});
}

}  // namespace

struct FairAsker::Impl {
  std::unique_ptr<v1::Directory::Stub> stub;
  std::chrono::milliseconds deadline;
  std::mutex mu;
  std::condition_variable cv;
  int in_flight = 0;
  bool closed = false;
  std::set<grpc::ClientContext*> contexts;
  std::string own_id;
  std::string charset = "utf-8";
  Messages texts;
};

FairAsker::FairAsker(std::string master, std::string tls_ca, std::chrono::milliseconds deadline)
    : impl_(std::make_shared<Impl>()) {
  impl_->stub = v1::Directory::NewStub(grpc::CreateChannel(master, master_credentials(tls_ca)));
  impl_->deadline = deadline;
}

FairAsker::~FairAsker() {
  shutdown();
}

void FairAsker::set_own_relay_id(std::string id) {
  std::lock_guard lock(impl_->mu);
  impl_->own_id = std::move(id);
}

void FairAsker::set_charset(std::string charset) {
  std::lock_guard lock(impl_->mu);
  impl_->charset = std::move(charset);
}

void FairAsker::set_messages(Messages utf8) {
  std::lock_guard lock(impl_->mu);
  impl_->texts = std::move(utf8);
}

void FairAsker::shutdown() {
  std::unique_lock lock(impl_->mu);
  impl_->closed = true;
  for (auto* c : impl_->contexts)
    c->TryCancel();
  impl_->cv.wait_for(lock, std::chrono::seconds(2), [&] { return impl_->in_flight == 0; });
}

bool FairAsker::ask(std::vector<FairPlayerInfo> players, Question question,
                    std::function<void(std::vector<std::string>)> done) {
  struct Call {
    grpc::ClientContext ctx;
    v1::PickRequest req;
    v1::PickResponse resp;
    std::vector<FairPlayerInfo> players;
    std::function<void(std::vector<std::string>)> done;
  };
  auto call = std::make_shared<Call>();
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->closed || impl_->in_flight >= kMaxInFlight) return false;
    ++impl_->in_flight;
    impl_->contexts.insert(&call->ctx);
  }
  // Players behind one address (a LAN party, a household behind NAT) are one player to the master.
  for (std::size_t i = 0; i < players.size(); ++i) {
    bool seen = false;
    for (std::size_t j = 0; j < i; ++j)
      seen = seen || players[j].address == players[i].address;
    if (!seen) call->req.add_players(players[i].address);
  }
  // The master waits up to 3 s for probes; our deadline leaves room for that.
  call->req.set_deadline_ms(3000);
  call->ctx.set_deadline(std::chrono::system_clock::now() + impl_->deadline);
  call->players = std::move(players);
  call->done = std::move(done);
  auto impl = impl_;  // kept alive until the call ends
  impl->stub->async()->PickRelay(
      &call->ctx, &call->req, &call->resp, [impl, call, question](grpc::Status st) {
        std::string own, charset;
        Messages texts;
        bool closed = false;
        {
          std::lock_guard lock(impl->mu);
          own = impl->own_id;
          charset = impl->charset;
          texts = impl->texts;
          closed = impl->closed;
          impl->contexts.erase(&call->ctx);
        }
        if (!closed) {
          std::vector<std::string> lines;
          if (question == Question::kNearer) {
            if (st.ok()) lines = nearer_lines(call->resp, own, texts);
            // Nothing said to the room: the log says why.
            if (lines.empty()) {
              int own_hops = -2;
              for (const auto& c : call->resp.ranking())
                if (c.relay_id() == own) own_hops = c.max_hops();
              spdlog::info("/lagstat: no nearer relay ({}; best {} at max {} hops, this relay {} at {})",
                           st.ok() ? std::string("answered") : st.error_message(),
                           call->resp.best().relay_id(), call->resp.best().max_hops(), own, own_hops);
            }
          } else if (st.ok()) {
            // Everything in UTF-8 first (the players' names come in the relay's charset), then back.
            auto players = call->players;
            for (auto& p : players)
              if (charset != "utf-8") p.name = text::to_utf8(p.name, charset);
            lines = fair_lines(call->resp, players, own, texts);
          } else {
            lines.push_back(
                texts.format("fair.master_error", {{"error", st.error_message().substr(0, 160)}}));
          }
          for (auto& l : lines)
            if (charset != "utf-8") l = text::from_utf8(l, charset);
          call->done(std::move(lines));
        }
        std::lock_guard lock(impl->mu);
        --impl->in_flight;
        impl->cv.notify_all();
      });
  return true;
}

std::vector<std::string> nearer_lines(const v1::PickResponse& resp, const std::string& own_relay_id,
                                      const Messages& texts) {
  if (!resp.has_best() || own_relay_id.empty() || resp.best().relay_id() == own_relay_id) return {};
  const auto& b = resp.best();
  for (const auto& c : resp.ranking()) {
    if (c.relay_id() != own_relay_id) continue;
    if (b.max_hops() < 0 || c.max_hops() < 0 || b.max_hops() >= c.max_hops()) return {};
    const int nearer = c.max_hops() - b.max_hops();
    const std::string name = b.name().text().empty() ? b.name().raw() : b.name().text();
    return {texts.format(
        nearer == 1 ? "fair.nearer_one" : "fair.nearer",
        {{"count", nearer}, {"relay", name}, {"address", b.host() + ":" + std::to_string(b.port())}})};
  }
  return {};
}

std::vector<std::string> fair_lines(const v1::PickResponse& resp, const std::vector<FairPlayerInfo>& players,
                                    const std::string& own_relay_id, const Messages& texts) {
  std::vector<std::string> lines;
  if (!resp.has_best()) {
    lines.push_back(texts.format("fair.none"));
    return lines;
  }
  const auto& b = resp.best();
  const std::string name = b.name().text().empty() ? b.name().raw() : b.name().text();
  const bool own = !own_relay_id.empty() && b.relay_id() == own_relay_id;
  std::string head = texts.format(own ? "fair.best_own" : "fair.best",
                                  {{"relay", name},
                                   {"address", b.host() + ":" + std::to_string(b.port())},
                                   {"hops", number(texts, b.max_hops(), "fair.hops")},
                                   {"spread", b.spread() < 0 ? std::string("?") : std::to_string(b.spread())},
                                   {"rtt", number(texts, b.max_rtt_ms(), "fair.ms")}});
  lines.push_back(head);
  for (const auto& p : b.players()) {
    std::string who;
    for (const auto& known : players) {
      if (known.address != p.address() || known.name.empty()) continue;
      who += (who.empty() ? "" : ", ") + known.name;
    }
    if (who.empty()) who = p.address();
    if (p.estimated()) {
      // No probe reached this pair: the master estimated it from the player's other relays (docs/PICK.md).
      lines.push_back(texts.format(
          "fair.player_estimated",
          {{"players", who},
           {"hops", number(texts, p.hops(), "fair.hops")},
           {"rtt", number(texts, p.rtt_ms(), "fair.ms")},
           {"uncertainty",
            p.rtt_uncertainty_ms() < 0 ? std::string("?") : std::to_string(p.rtt_uncertainty_ms())}}));
      continue;
    }
    lines.push_back(texts.format(p.stale() ? "fair.player_old" : "fair.player",
                                 {{"players", who},
                                  {"hops", number(texts, p.hops(), "fair.hops")},
                                  {"rtt", number(texts, p.rtt_ms(), "fair.ms")},
                                  {"source", p.source()}}));
  }
  return lines;
}

}  // namespace kaillera::relay
