#pragma once
// The daemon's HTTP routes (SPEC §7): what each path answers, built from what the daemon shows
// through DaemonView. Runs on the event-loop thread, inside the server's handler.

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "api.hpp"
#include "promwatch/cluster.hpp"
#include "promwatch/config.hpp"
#include "promwatch/http_server.hpp"
#include "promwatch/rules.hpp"

namespace promwatch {

/// The daemon's state as the HTTP interface may read it, plus the one action it may take.
class DaemonView {
 public:
  virtual ~DaemonView() = default;
  virtual std::vector<const RuleGroup*> rule_groups() const = 0;
  /// /readyz: config and state loaded, every group evaluated once (or its first slot ahead).
  virtual bool ready() const = 0;
  virtual bool datasource_up() const = 0;
  virtual const Config& config() const = 0;
  virtual std::string metrics_text() const = 0;
  virtual TimePoint started_at() const = 0;
  /// Reloads the configuration; `done` gets the validation errors, empty on success. It is
  /// called later, on the event loop: the files are read and compiled on another thread.
  virtual void reload(std::function<void(const std::string& errors)> done) = 0;

  // ---- for the status page; the defaults say "not tracked" so the build stays green until
  // ---- the silence/inhibition components are wired in (then override both).

  /// The silences and inhibitions that mute `alert`'s notifications right now. `alert.labels`
  /// come without external labels: add them before matching, as notifications carry them.
  /// nullopt: this daemon does not track muting (the page marks nothing).
  virtual std::optional<MuteStatus> mute_status(const Alert& alert) const {
    (void)alert;
    return std::nullopt;
  }
  /// The silences to list on the status page: active and pending ones (runtime and config
  /// `[[silences]]`), soonest end first; recently expired ones may follow. nullopt: this daemon
  /// keeps no silences (the page says so).
  virtual std::optional<std::vector<SilenceView>> silences() const { return std::nullopt; }

  /// Alertmanager's v2 API (`/api/v2/silences`, `/api/v2/silence/{id}`, `/api/v2/alerts`), so
  /// that amtool works against promwatch.
  virtual ServerResponse alertmanager_api(const ServerRequest& request) = 0;
  /// `GET /api/v1/status/cluster` and the page's role: nullopt without `[cluster]`.
  virtual std::optional<ClusterStatus> cluster_status() const { return std::nullopt; }
  /// The status page's remote-write line: nullopt without `[remote_write]`.
  virtual std::optional<RemoteWriteStatus> remote_write_status() const { return std::nullopt; }
  /// `GET /api/v1/alerts/history`: state transitions from the durable store.
  virtual ServerResponse alert_history(const ServerRequest& request) = 0;
  /// Asks the durable store for the newest transitions (at most `limit`) since `since`, for the
  /// status page's timelines; `done` gets them later on the event loop (nullopt when the read
  /// failed). Returns false, and never calls `done`, when the daemon keeps no history.
  virtual bool recent_history(TimePoint since, std::size_t limit,
                              std::function<void(std::optional<std::vector<HistoryEntry>>)> done) {
    (void)since;
    (void)limit;
    (void)done;
    return false;
  }
};

/// Answers one request.
ServerResponse handle_http(DaemonView& daemon, const ServerRequest& request);

}  // namespace promwatch
