// Between the directory proto (proto/kaillera/directory/v1) and the Catalog: every field a relay sends is
// checked for size and form here, and a problem comes back as INVALID_ARGUMENT naming the field
// ("report.waiting[2].rom.raw: longer than 128 bytes"). No gRPC server code, so tests can call it directly.
#pragma once

#include "kaillera/directory/v1/directory.pb.h"
#include "master/catalog.hpp"

namespace kaillera::master {

namespace v1 = ::kaillera::directory::v1;

Status relay_info_from_proto(const v1::RelayInfo& info, RelayInfoInput& out);
Status register_from_proto(const v1::RegisterRequest& req, RegisterInput& out);  // observed_ip left as is
Status report_from_proto(const v1::LoadReport& report, UnixMillis now, ReportInput& out);
// `field` prefixes the messages ("report.measurements" or "probe_result.measurements").
Status measurements_from_proto(const google::protobuf::RepeatedPtrField<v1::Measurement>& in,
                               std::string_view field, UnixMillis now,
                               std::vector<store::MeasurementRow>& out);

void to_proto(const Text& t, v1::RawText& out);
void to_proto(const ListedServer& s, v1::Relay& out);
void to_proto(const Snapshot& snap, const ListedGame& g, v1::ListedGame& out);

}  // namespace kaillera::master
