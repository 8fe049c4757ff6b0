// Process-wide logging on stderr: text for people and journald, JSON for log shippers.

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "promwatch/app.hpp"

namespace promwatch {

namespace {

// One JSON object per line: {"ts":..., "level":..., "msg":...}. spdlog's pattern language
// cannot escape the message, so this is a formatter of its own.
class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    auto t = std::chrono::time_point_cast<std::chrono::milliseconds>(msg.time);
    nlohmann::ordered_json line;
    line["ts"] = format_rfc3339(TimePoint{t.time_since_epoch()});
    line["level"] = std::string(spdlog::level::to_string_view(msg.level).data(),
                                spdlog::level::to_string_view(msg.level).size());
    line["msg"] = std::string(msg.payload.data(), msg.payload.size());
    std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    text += '\n';
    dest.append(text.data(), text.data() + text.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<JsonFormatter>(); }
};

// journald adds its own timestamp and reads `<N>` prefixes as syslog priorities.
class JournaldFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    int priority = 6;
    switch (msg.level) {
      case spdlog::level::trace:
      case spdlog::level::debug: priority = 7; break;
      case spdlog::level::info: priority = 6; break;
      case spdlog::level::warn: priority = 4; break;
      case spdlog::level::err: priority = 3; break;
      case spdlog::level::critical: priority = 2; break;
      default: break;
    }
    std::string prefix = "<" + std::to_string(priority) + ">";
    dest.append(prefix.data(), prefix.data() + prefix.size());
    dest.append(msg.payload.data(), msg.payload.data() + msg.payload.size());
    dest.push_back('\n');
  }
  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<JournaldFormatter>(); }
};

}  // namespace

void setup_logging(const std::string& level, LogFormat format) {
  auto logger = std::make_shared<spdlog::logger>("promwatch", std::make_shared<spdlog::sinks::stderr_sink_mt>());
  if (format == LogFormat::Json) {
    logger->set_formatter(std::make_unique<JsonFormatter>());
  } else if (std::getenv("JOURNAL_STREAM") != nullptr) {
    logger->set_formatter(std::make_unique<JournaldFormatter>());
  } else {
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %-5l %v", spdlog::pattern_time_type::utc);
  }
  logger->set_level(spdlog::level::from_str(level == "warn" ? "warning" : level));
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(std::move(logger));
}

}  // namespace promwatch
