// "/fair" in a game room (DESIGN.md data flow 5): asks a master's Directory.PickRelay for the room's players
// and turns the answer into a few chat lines. Asynchronous: ask() returns at once and `done` runs on a gRPC
// thread (the shell hops back onto its own thread before touching the relay core). At most a few questions
// are in flight; more are refused so a chatty room cannot flood the master.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "kaillera/directory/v1/directory.pb.h"
#include "relay/core/messages.hpp"

namespace kaillera::relay {

struct FairPlayerInfo {
  std::string address;  // dotted IPv4
  std::string name;     // raw bytes, as the client sent them
};

class FairAsker {
 public:
  // `master` is HOST:PORT of its gRPC endpoint; `tls_ca` a PEM file (empty: plaintext).
  FairAsker(std::string master, std::string tls_ca,
            std::chrono::milliseconds deadline = std::chrono::seconds(4));
  ~FairAsker();
  FairAsker(const FairAsker&) = delete;
  FairAsker& operator=(const FairAsker&) = delete;

  // kFairest: /fair's lines (fair_lines). kNearer: /lagstat's advice, one line naming a relay nearer to all
  // the players than this one (nearer_lines), or none; a master that cannot answer says nothing then.
  enum class Question : std::uint8_t { kFairest, kNearer };
  // False when too many questions are in flight (the caller answers "try again").
  bool ask(std::vector<FairPlayerInfo> players, Question question,
           std::function<void(std::vector<std::string> lines)> done);
  // Tells the asker which relay id this relay has at that master ("that is this relay").
  void set_own_relay_id(std::string id);
  // Cancels the questions in flight and waits (up to 2 s) until their callbacks have returned; after it,
  // ask() refuses and no callback runs.
  void shutdown();
  // Text the asker writes itself (the relay's name from the master is UTF-8) goes out in this charset.
  void set_charset(std::string charset);
  // The texts (UTF-8, as the language file has them; English by default).
  void set_messages(Messages utf8);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

// The chat lines (UTF-8) for a PickResponse; names (UTF-8) come from `players` by address. Pure, for tests.
std::vector<std::string> fair_lines(const ::kaillera::directory::v1::PickResponse& resp,
                                    const std::vector<FairPlayerInfo>& players,
                                    const std::string& own_relay_id, const Messages& texts = Messages());

// /lagstat's advice (UTF-8): "A relay N hops nearer to all of you: NAME HOST:PORT" when the pick's best relay
// is not this one and its largest hop count over the players is N below this relay's (from the ranking); else
// nothing. Pure, for tests.
std::vector<std::string> nearer_lines(const ::kaillera::directory::v1::PickResponse& resp,
                                      const std::string& own_relay_id, const Messages& texts = Messages());

}  // namespace kaillera::relay
