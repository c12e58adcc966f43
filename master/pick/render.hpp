// The fair pick's answer for programs and people: JSON (POST /api/v1/pick, the web page), the gRPC
// PickResponse, and the request forms of both. Unknown numbers are null in JSON and -1 in the proto.
#pragma once

#include <string>
#include <string_view>

#include "kaillera/directory/v1/directory.pb.h"
#include "master/pick/picker.hpp"

namespace kaillera::master::pick {

namespace v1 = ::kaillera::directory::v1;

// {"players": ["203.0.113.7", ...], "objective": "hops", "deadline_ms": 3000, "hop_slack": 1,
//  "filter": {"location": "...", "relay_ids": ["1"]}, "own_measurements": [{"player", "host", "port", "hops",
//  "rtt_ms"}]}. Unknown keys are refused by name.
Status from_json(std::string_view body, PickInput& out);
std::string to_json(const PickOutput& out);

Status from_proto(const v1::PickRequest& req, PickInput& out);
void to_proto(const PickOutput& out, v1::PickResponse& resp);

v1::Objective to_proto(Objective o);

// "RelayName (host:port): 4 hops max, spread 1, worst RTT 38 ms" and one line per player, for /fair and
// summaries.
std::string describe(const CandidateView& c);
std::string summary(const PickOutput& out);

}  // namespace kaillera::master::pick
