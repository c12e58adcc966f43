// Reading `[[webhook]]` entries (config.hpp) from master.toml: every key of an entry is checked for its type
// and range, and an unknown key is an error, so a typo never silently disables a filter.
#pragma once

#include <string>
#include <vector>

#include <toml++/toml.h>

#include "master/webhook/config.hpp"

namespace kaillera::master::webhook {

// `n` is the value of the top-level key `webhook`: an array of tables ([[webhook]]) or one table. Replaces
// `out`. Returns "" or "entry N, key 'K' (line L): must be ..." (N counts from 1).
std::string parse_webhooks(const toml::node& n, std::vector<WebhookConfig>& out);

}  // namespace kaillera::master::webhook
