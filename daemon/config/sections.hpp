#pragma once
// The readers of each part of the configuration, split by file:
//   main_config.cpp      load_config, [global] [datasource] [server] [notify] [deadman]
//                        [[alertmanagers]], and the HTTP endpoint keys they share
//   routing.cpp          [[receivers]], [route] (recursive), [[inhibit_rules]]
//   time_intervals.cpp   [[time_intervals]], [[silences]]
//   rule_files.cpp       rule files ([[groups]], rules, heartbeats)
//   expressions.cpp      their PromQL, checked by the promql component

#include <map>
#include <string>
#include <vector>

#include "toml_reader.hpp"

namespace promwatch::config_detail {

/// The keys every outgoing-HTTP table accepts (merged into its allowed list).
std::vector<std::string_view> with_http_keys(std::vector<std::string_view> keys);
/// Reads basic_auth, authorization, headers, tls, proxy_url and timeout.
void read_http_endpoint(TableReader& r, HttpEndpointConfig& out);

void read_time_intervals(TableReader& root, Config& config);
void read_silences(TableReader& root, Config& config);
void read_receivers(TableReader& root, Config& config);
void read_route(TableReader& root, Config& config);
void read_inhibit_rules(TableReader& root, Config& config);

/// Checks `expr`, the string value of `key` in `r`, as PromQL; reports the first problem as
/// `key: parse error: ...` at its place inside the string. True when it is valid.
bool check_expression(TableReader& r, std::string_view key, std::string_view expr);

/// Where each group name was first defined, to report duplicates across files.
using GroupNames = std::map<std::string, SourcePos>;
/// Loads one rule file (already matched by a glob) and appends its groups to `config.groups`.
void load_rule_file(const std::string& path, Diagnostics& diag, Config& config, GroupNames& names);

}  // namespace promwatch::config_detail
