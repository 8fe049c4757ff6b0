#pragma once
// Helpers shared by alerting and heartbeat rules. Private to the rules component.

#include <bit>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "promwatch/rules.hpp"

namespace promwatch::rules_detail {

/// The epoch stands for Go's zero time: "not set".
inline bool is_set(TimePoint t) { return t != TimePoint{}; }

/// Unix milliseconds, as remote write stamps samples.
inline std::int64_t unix_ms(TimePoint t) { return t.time_since_epoch().count(); }

/// Values compared bit for bit, so that NaN equals NaN for the annotation cache.
inline std::uint64_t value_bits(double v) { return std::bit_cast<std::uint64_t>(v); }

/// A transition describing `alert` (in its new state) coming from `from` at `at`.
AlertTransition make_transition(const Alert& alert, AlertState from, TimePoint at);
/// As make_transition, for an alert that leaves (to Inactive) while its state still says `from`.
AlertTransition make_drop_transition(const Alert& alert, TimePoint at);

/// Prometheus's needsSending + the bookkeeping of sendAlerts: nullopt when `alert` needs no
/// sending now; otherwise marks it sent and returns what to send.
std::optional<OutgoingAlert> send_if_needed(Alert& alert, TimePoint ts, Duration resend_delay,
                                            Duration group_interval);

/// Compiles `text`; on error appends a ConfigError (at the text's position, with the template's
/// own line:col) and returns false. `out` gets the literal text or the compiled template.
/// With a `cache`, a text compiled before is not parsed again but shared under `template_name`.
bool compile_text(const std::string& template_name, const std::string& owner,
                  std::string_view what, const std::string& key, const TemplateText& text,
                  std::string& literal_out, std::optional<Template>& tmpl_out,
                  std::vector<ConfigError>* errors, TemplateCache* cache = nullptr);

}  // namespace promwatch::rules_detail
